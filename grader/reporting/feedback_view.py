"""What a student sees first in feedback, and maths that renders without a network.

:class:`StudentView` (an nbconvert preprocessor, in ``nbgrader_config.py``'s feedback chain):

- puts a summary at the top of each feedback page: the assignment's final score *after* any
  late penalty (and the penalty's reason), then every failing test with its whole message
  (wrapped, never cut to one scrolling line);
- marks each failing test cell as failing, where it sits in the notebook;
- renders the maths of every Markdown cell to inline SVG with matplotlib's mathtext (shipped
  with the course's environment: no MathJax, no CDN, nothing fetched when the page opens); a
  formula mathtext cannot draw is shown as its TeX source in a code box.

:func:`offline` removes the MathJax ``<script>`` that the feedback template loads from a CDN,
and :func:`notice_page` is the page a student gets when a submission could not be graded.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import re
from typing import ClassVar

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from grader.course import notebooks as nbs

SUMMARY_TAG = "seq-feedback-summary"
CSS = """<style>
.seq-summary { border: 2px solid #444; border-radius: 6px; padding: 0.8em 1.2em;
  margin: 0 0 1.5em 0; background: #fafafa; font-size: 15px; }
.seq-summary h2 { margin-top: 0.2em; }
.seq-fail { border-left: 6px solid #c62828; background: #fdecea; padding: 0.4em 0.8em;
  margin: 0.6em 0; }
.seq-fail pre, .output_subarea pre, .output_error pre {
  white-space: pre-wrap !important; overflow-wrap: anywhere; word-break: break-word; }
.seq-failing-mark { border: 2px solid #c62828; background: #fdecea; color: #8e0000;
  font-weight: bold; padding: 0.3em 0.8em; border-radius: 4px; }
.seq-pass-mark { color: #1b5e20; font-weight: bold; }
img.seq-math { vertical-align: middle; }
</style>"""

# Course TeX that mathtext spells differently (or does not need).
_TEX_FIXES = [
    (re.compile(r"\\(?:big|Big|bigg|Bigg)[lr]?(?![a-zA-Z])"), ""),
    (re.compile(r"\\!"), ""),
    (re.compile(r"\\le(?![a-zA-Z])"), r"\\leq"),
    (re.compile(r"\\ge(?![a-zA-Z])"), r"\\geq"),
    (re.compile(r"\\[lr]Vert(?![a-zA-Z])"), r"\\Vert"),
    (re.compile(r"\\texttt\{"), r"\\mathtt{"),
    (re.compile(r"\\operatorname\{"), r"\\mathrm{"),
    (re.compile(r"\\mathrel\{([^{}]*)\}"), r"\1"),
    (re.compile(r"\\boxed\{"), r"{"),
]
_MATH_RE = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$([^$\n]+?)\$", re.S)
_CODE_RE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)


@functools.lru_cache(maxsize=4096)
def math_svg(tex: str) -> str | None:
    """``tex`` drawn by matplotlib's mathtext as an SVG data URI (None: it cannot draw it)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import math_to_image

    text = " ".join(tex.split())
    for pattern, repl in _TEX_FIXES:
        text = pattern.sub(repl, text)
    out = io.BytesIO()
    try:
        math_to_image(f"${text}$", out, prop=FontProperties(size=13), format="svg")
    except Exception:
        return None
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def render_math(markdown: str) -> str:
    """Markdown with every ``$...$`` and ``$$...$$`` replaced by an inline SVG image (code
    spans and fenced code are left alone)."""

    def one(match: re.Match) -> str:
        display = match.group(1) is not None
        tex = (match.group(1) or match.group(2)).strip()
        uri = math_svg(tex)
        if uri is None:
            shown = f"<code>{html.escape(tex)}</code>"
        else:
            shown = f'<img class="seq-math" alt="{html.escape(tex, quote=True)}" src="{uri}">'
        return f'<div style="text-align:center">{shown}</div>' if display else shown

    parts = _CODE_RE.split(markdown)
    return "".join(p if i % 2 else _MATH_RE.sub(one, p) for i, p in enumerate(parts))


def _message(cell) -> str:
    lines = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            lines.append(f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip())
    return "\n".join(lines) or "this test did not pass"


def _failing(cell) -> bool:
    if not (nbs.is_grade(cell) and not nbs.is_solution(cell) and cell.cell_type == "code"):
        return False
    meta = nbs.nbgrader_meta(cell)
    score, points = meta.get("score"), meta.get("points")
    if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
        return True
    return score is not None and points is not None and float(score) < float(points)


def _fmt(x) -> str:
    return f"{round(float(x), 2):g}"


def summary_html(nb, resources: dict, assignment_summary: dict | None) -> str:
    """The box at the top of a feedback page."""
    info = resources.get("nbgrader", {})
    lines = [CSS, '<div class="seq-summary" id="seq-summary">']
    if assignment_summary and assignment_summary.get("final") is not None:
        final, top = assignment_summary["final"], assignment_summary["max"]
        lines.append(f"<h2>Your score: {_fmt(final)} / {_fmt(top)}</h2>")
        if assignment_summary.get("penalty"):
            lines.append(
                f"<p>{_fmt(assignment_summary['score'])} before the late penalty of "
                f"{_fmt(assignment_summary['penalty'])}: "
                f"{html.escape(assignment_summary.get('late', ''))}.</p>"
            )
    elif "score" in info:
        lines.append(f"<h2>Score: {_fmt(info['score'])} / {_fmt(info.get('max_score', 0))}</h2>")
    if assignment_summary and assignment_summary.get("pending"):
        lines.append("<p>Some answers are still to be graded by hand; they show as 0 here.</p>")
    failing = [c for c in nb.cells if _failing(c)]
    if failing:
        lines.append(f"<h3>{len(failing)} failing test(s) in this notebook</h3>")
        for cell in failing:
            meta = nbs.nbgrader_meta(cell)
            gid = html.escape(nbs.grade_id(cell) or "")
            lines.append(
                f'<div class="seq-fail"><b><a href="#{gid}">{gid}</a> '
                f"({_fmt(meta.get('score') or 0)} / {_fmt(meta.get('points') or 0)} points)"
                f"</b><pre>{html.escape(_message(cell))}</pre></div>"
            )
    else:
        lines.append('<p class="seq-pass-mark">Every test in this notebook passed.</p>')
    lines.append("</div>")
    return "\n".join(lines)


class StudentView(Preprocessor):
    """Summary first, failing tests marked, maths rendered offline (see the module)."""

    enabled = Bool(True, help="Put the summary first and draw maths offline").tag(config=True)

    # (student, assignment) -> {"final", "max", "score", "penalty", "late", "pending"};
    # set by :func:`grader.reporting.feedback.generate` before nbgrader runs (same process).
    summaries: ClassVar[dict] = {}

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        key = (info.get("student"), info.get("assignment"))
        cells = []
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = render_math(cell.source)
            if _failing(cell):
                meta = nbs.nbgrader_meta(cell)
                gid = html.escape(nbs.grade_id(cell) or "")
                mark = nbformat.v4.new_markdown_cell(
                    f'<div class="seq-failing-mark">✗ Failing test {gid}'
                    f" ({_fmt(meta.get('score') or 0)} / {_fmt(meta.get('points') or 0)} points):"
                    " its message is under the cell</div>"
                )
                cells.append(mark)
            cells.append(cell)
        summary = self.summaries.get(key)
        if summary and summary.get("final") is not None:
            # nbgrader's own header then says the same: the score after the late penalty
            # (its contents list shows the penalty as a line of its own).
            info["score"], info["max_score"] = summary["final"], summary["max"]
            info["late_penalty"] = summary.get("penalty") or 0
        top = nbformat.v4.new_markdown_cell(summary_html(nb, resources, summary))
        top.metadata["tags"] = [SUMMARY_TAG]
        nb.cells = [top, *cells]
        return nb, resources


_CDN_SCRIPT_RE = re.compile(r'<script src="https?://[^"]*"[^>]*>\s*</script>')


def offline(page: str) -> str:
    """The page without scripts loaded from the network (the template's MathJax)."""
    return _CDN_SCRIPT_RE.sub("", page)


def notice_page(student: str, assignment: str, reason: str, what_to_do: str) -> str:
    """The page for a submission that could not be graded: why, and what to do."""
    esc = html.escape
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(assignment)}: not graded</title>
{CSS}</head>
<body style="font-family: sans-serif; max-width: 46em; margin: 2em auto;">
<div class="seq-summary">
<h2>{esc(assignment)}: your submission could not be graded</h2>
<p>Student: {esc(student)}</p>
<div class="seq-fail"><b>Why</b><pre>{esc(reason)}</pre></div>
<p><b>What to do:</b> {esc(what_to_do)}</p>
</div></body></html>
"""
