"""Stage 4 of grading, reporting: every report rebuilt from the gradebook (:mod:`.rebuild`):
the report files (:mod:`.report_files`) with the class view (:mod:`.classview`) and similarity
flags (:mod:`.similarity`), the export to an LMS (:mod:`.export`) and the students' feedback
(:mod:`.feedback`, :mod:`.feedback_view`); :mod:`.render` escapes what a student wrote."""
