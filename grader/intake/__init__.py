"""Stage 1 of grading, intake: the term and roster (:mod:`.term`), Canvas and Moodle downloads
(:mod:`.lms`), and every submitted file read, placed and laid out for nbgrader
(:mod:`.files`)."""
