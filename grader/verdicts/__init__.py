"""Stage 2 of grading, verdicts: the one run of every test cell. Sources are trusted once
(:mod:`.trusted_sources`); what of a notebook runs is planned (:mod:`.plan`); the runner
(:mod:`.runner`) runs the tests in the trusted process and the student's code in a sandbox
(:mod:`.sandbox`), the two halves joined by :mod:`.student_calls` over plain data
(:mod:`.plain_data`); the runs are jobs on long-lived services (:mod:`.services`,
:mod:`.scheduler`); a verdict becomes a score by :mod:`.score_policy`.

This package's ``__init__`` imports nothing: the sandbox imports its student side alone."""
