"""The course as an instructor keeps it: where its folders are (:mod:`.layout`), its notebooks
(:mod:`.notebooks`), the release and the checks CI runs on it (:mod:`.release`), and the
student bundle (:mod:`.bundle`)."""
