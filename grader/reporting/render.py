"""Rendering what a submission can influence, one helper per format the grader writes.

A reason, a note, a check's message, a file name or a student id taken from a file name is
text the student chose (a student's function can raise ``ValueError`` with any message). It
never goes into a report by concatenation: it goes through the helper of the format it lands
in, which makes it one inert piece of text there.

- :func:`md` for ``report.md``: one line (every newline, tab and other control or
  line-separator character becomes a space), Markdown's inline and line-start syntax escaped
  (``*``, ``_`` at word edges, backticks, ``|``, ``#``, ``[``/``]``, ``<``/``>``, ``&``, a
  leading ``-``, ``+``, ``=`` or ``1.``), and capped in length;
- :func:`feedback` for messages shown in the feedback HTML (nbconvert HTML-escapes the text of
  an error output itself): control characters and ANSI escape sequences removed, capped;
- :func:`csv_cell` for every CSV the grader writes (``grades.csv``, ``report.csv``,
  ``export.csv``, ``canvas.csv``): a cell that a spreadsheet would read as a formula
  (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading ``'``,
  unless it is a plain number; and capped.
"""

from __future__ import annotations

import re

MD_LIMIT = 600  # characters of one piece of student-influenced text in report.md
FEEDBACK_LIMIT = 4000
CSV_LIMIT = 4000
ELLIPSIS = " [...]"

# C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidi controls (a
# right-to-left override can make a line read as something else).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_SPACES = re.compile(r"\s+")
# Always escaped in Markdown text.
_MD_ALWAYS = re.compile(r"([\\`*|#\[\]<>~&!])")
# "_" starts or ends emphasis only at a word's edge; inside a word (student_id) it is text.
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_MD_LINE_START = re.compile(r"^([-+=]|\d+[.)])")
_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - len(ELLIPSIS))] + ELLIPSIS


def one_line(value: object, limit: int = MD_LIMIT) -> str:
    """``value`` as text on one line: ANSI sequences dropped, control characters and runs of
    white space made one space, capped at ``limit`` characters."""
    text = str(value)
    if len(text) > 4 * limit:  # no need to clean a megabyte to keep a few hundred characters
        text = text[: 4 * limit]
    text = _ANSI.sub("", text)
    text = _CONTROL.sub(" ", text)
    return _cap(_SPACES.sub(" ", text).strip(), limit)


def md(value: object, limit: int = MD_LIMIT) -> str:
    """``value`` as one inert line of Markdown text (see the module's docstring)."""
    text = one_line(value, limit)
    text = _MD_ALWAYS.sub(r"\\\1", text)
    text = _MD_UNDERSCORE.sub(r"\\_", text)
    return _MD_LINE_START.sub(lambda m: m.group(1)[:-1] + "\\" + m.group(1)[-1], text)


def feedback(value: object, limit: int = FEEDBACK_LIMIT) -> str:
    """A message for the feedback HTML: ANSI sequences and control characters other than
    newlines removed, capped. (nbconvert escapes ``<``, ``>`` and ``&`` of output text.)"""
    text = str(value)
    if len(text) > 4 * limit:
        text = text[: 4 * limit]
    text = _ANSI.sub("", text).replace("\r\n", "\n")
    text = "".join(c if c == "\n" or not _CONTROL.match(c) else " " for c in text)
    return _cap(text, limit)


def csv_cell(value: object, limit: int = CSV_LIMIT) -> str:
    """One CSV cell that a spreadsheet shows as text, never evaluates (numbers stay numbers).
    Newlines are kept (the csv module quotes them); ``None`` is an empty cell."""
    if value is None:
        return ""
    text = _cap(str(value), limit)
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


def csv_row(values) -> list[str]:
    """:func:`csv_cell` of every value of a row."""
    return [csv_cell(v) for v in values]
