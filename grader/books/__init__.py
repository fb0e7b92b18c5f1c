"""Stage 3 of grading, the books: nbgrader's gradebook (:mod:`.gradebook`, :mod:`.nbgrader_api`,
:mod:`.nbgrader_worker`, :mod:`.autograde`), what grading found out kept beside it
(:mod:`.store`, :mod:`.journal`), and hand grades (:mod:`.hand_policy`, :mod:`.hand_grades`,
:mod:`.hand_import`)."""
