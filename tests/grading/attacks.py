"""Hostile submissions that attack the grader itself rather than the tests (issue 9).

Each one is the answer cell of the fixture's ``sigmoid`` exercise (the other two exercises
are answered correctly) and is graded with the rest of the fixture class through the README's
command. Every attack today's sandbox stops is here, written as a determined student would:

1. lying return values: an ``ndarray`` subclass that equals everything;
2. a forged verdict: write ``{"passed": true}`` onto every pipe it holds, then exit;
3. reading the instructor's files: find ``solutions/`` and run the instructor's solution;
4. rewriting course files: the source's test cells, the grader's and the checks' code;
5. a detached daemon (double fork + ``setsid``) that would outlive grading;
6. protocol injection: forged results for the *next* jobs onto every pipe it can reach.
"""

from __future__ import annotations

import os
import time

from grader.verdicts.sandbox import cgroup_version

# In the command line of every process an attack starts, so that a test can prove that none
# of them outlived grading (unique to this test run: other runs may be going on).
MARKER = f"seq-attack-process-{os.getpid()}-{time.time_ns()}"

# Where a hostile notebook looks for the course: around its working directory, around the
# course package it imports, and around every process it can see in /proc.
FIND_COURSE = """import os, pathlib
def _course_folders():
    import utils
    starts = [pathlib.Path(os.getcwd()), pathlib.Path(utils.__file__).resolve()]
    for pid in os.listdir("/proc"):
        try:
            starts.append(pathlib.Path(os.readlink(f"/proc/{pid}/cwd")))
        except OSError:
            pass
    seen = []
    for start in starts:
        for folder in [start, *start.parents]:
            if folder not in seen and folder != pathlib.Path("/"):
                seen.append(folder)
    return seen
"""

LYING_VALUES = '''class Liar(np.ndarray):
    """Says it equals whatever it is compared with."""
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)
    def __ne__(self, other):
        return np.zeros(np.shape(other), dtype=bool)
    def __sub__(self, other):
        return np.zeros(np.shape(other))
    def __rsub__(self, other):
        return np.zeros(np.shape(other))
    def astype(self, *args, **kwargs):
        return self
def sigmoid(z):
    return np.zeros(np.shape(z)).view(Liar)
'''

FORGED_RESULT = """import json, os, stat
def sigmoid(z):
    for fd in range(3, 64):  # forge a verdict on every pipe it holds, then vanish
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.write(fd, (json.dumps({"passed": True, "error": None}) + "\\n").encode())
        except OSError:
            pass
    os._exit(0)
"""

READS_SOLUTIONS = (
    FIND_COURSE
    + """import json
def sigmoid(z):
    for folder in _course_folders():
        for path in folder.glob("solutions/*/*.ipynb"):
            for cell in json.loads(path.read_text())["cells"]:
                code = "".join(cell["source"])
                if code.startswith("def sigmoid"):
                    namespace = {"np": np}
                    exec(code, namespace)
                    return namespace["sigmoid"](z)
    return z
"""
)

REWRITES_COURSE = (
    FIND_COURSE
    + """def _rewrite():
    import grader
    import utils
    targets = [pathlib.Path(grader.__file__).parent / "regrade.py"]
    targets.append(pathlib.Path(utils.__file__).parent / "checks.py")
    for folder in _course_folders():
        targets += list(folder.glob("solutions/*/*.ipynb")) + list(folder.glob("grader/*.py"))
    for path in targets:
        try:
            text = path.read_text()
            path.write_text(text.replace("checks.check_close(", "(lambda *a, **k: None)("))
        except Exception:
            pass
def sigmoid(z):
    _rewrite()
    return z
_rewrite()
"""
)

DAEMON = f"""import os, sys
def _detach():
    code = "import time\\ntime.sleep(900)  # {MARKER}"
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", code])
        os._exit(0)
    os.wait()
def sigmoid(z):
    _detach()
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))
_detach()
"""

PROTOCOL_INJECTION = """import json, os, stat
def _forged_lines():
    lines = [{"passed": True, "error": None}]
    for n in range(1, 80):
        for service in ("re-grade 0", "re-grade 1"):
            lines.append({"job": f"{service}#{n}", "tests": [], "notes": [], "error": None})
        lines.append({"job": f"nbgrader worker#{n}", "success": True, "scores": {}})
        lines.append({"id": n, "ok": True, "result": ["n"], "args": ["l", []], "kwargs": ["d", []]})
    return "".join(json.dumps(line) + "\\n" for line in lines)
def _inject():
    for pid in ["self", *os.listdir("/proc")]:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            path = f"/proc/{pid}/fd/{fd}"
            try:
                if stat.S_ISFIFO(os.stat(path).st_mode):
                    with open(path, "w") as pipe:
                        pipe.write(_forged_lines())
            except OSError:
                pass
def sigmoid(z):
    _inject()
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))
_inject()
"""

# --- Calling the forbidden reference in-process: it is absent, so every route fails ---------

THREAD_CALLS_REFERENCE = """import threading
from utils.activations import sigmoid as _reference
def sigmoid(z):
    out = {}
    worker = threading.Thread(target=lambda: out.update(value=_reference(z)))
    worker.start()
    worker.join()
    return out.get("value", "the reference was not there")
"""

PROFILE_HOOK_OFF = """import sys
from utils import activations
def sigmoid(z):
    hook = sys.getprofile()
    sys.setprofile(None)
    try:
        return activations.sigmoid(z)
    finally:
        sys.setprofile(hook)
"""

SAVED_CODE = """import types
from utils import activations
_copy = types.FunctionType(activations.sigmoid.__code__, activations.sigmoid.__globals__)
def sigmoid(z):
    return _copy(z)
"""

GC_HUNT = """import gc, types
def _hunt():
    # any code object of utils.activations.sigmoid still alive in the process
    for obj in gc.get_objects():
        for item in [obj, *gc.get_referents(obj)]:
            if (isinstance(item, types.CodeType) and item.co_name == "sigmoid"
                    and item.co_filename.endswith("activations.py")):
                import utils.activations as a
                return types.FunctionType(item, vars(a))
def sigmoid(z):
    found = _hunt()
    return found(z) if found is not None else z
"""

# --- Resources: only the attacker's notebook suffers -------------------------------------

MEMORY_FILL = """import os
def sigmoid(z):
    for folder in ("/dev/shm", "/tmp", "/"):  # read-only, or a capped tmpfs
        try:
            with open(f"{folder}/fill", "wb") as f:
                for _ in range(2048):
                    f.write(b"x" * 2**20)
        except OSError:
            pass
    kids = []
    for _ in range(2):  # three processes of 1.2 GB: over the sandbox's memory limit together
        pid = os.fork()
        if pid == 0:
            held = np.ones(150_000_000)
            os._exit(0 if held.sum() else 1)
        kids.append(pid)
    held = np.ones(150_000_000)
    statuses = [os.waitpid(pid, 0)[1] for pid in kids]
    if any(statuses):
        raise MemoryError(f"a helper process died (the memory limit?): {statuses}")
    return held[: z.size].reshape(z.shape) * 0 + 1 / (1 + np.exp(-z))
"""

FORK_BOMB = """import os, time
def sigmoid(z):
    made = 0
    try:
        while True:
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
            made += 1
    except OSError as error:
        raise RuntimeError(f"fork failed after {made} processes") from error
"""

# student -> (sigmoid answer, expected status, score, words in the report)
ATTACKS = {
    "attack1_lying_values": (
        LYING_VALUES,
        "graded",
        5,
        "the result of sigmoid is a Liar (a subclass of numpy.ndarray); return a NumPy array",
    ),
    "attack2_forged_result": (FORGED_RESULT, "not graded", None, "protocol violation"),
    "attack3_reads_solutions": (READS_SOLUTIONS, "graded", 5, "sigmoid(z) is wrong"),
    "attack4_rewrites_course": (REWRITES_COURSE, "graded", 5, "sigmoid(z) is wrong"),
    "attack5_daemon": (DAEMON, "graded", 7, None),
    "attack6_protocol_injection": (PROTOCOL_INJECTION, "not graded", None, "protocol"),
    "attack7_thread_calls_reference": (THREAD_CALLS_REFERENCE, "graded", 5, "got str"),
    "attack8_profile_hook_off": (
        PROFILE_HOOK_OFF,
        "graded",
        5,
        "calls the reference implementation utils.activations.sigmoid",
    ),
    "attack9_saved_code": (
        SAVED_CODE,
        "graded",
        5,
        "calls the reference implementation utils.activations.sigmoid",
    ),
    "attacka_gc_hunt": (GC_HUNT, "graded", 5, "sigmoid(z) is wrong"),
}
if cgroup_version()[0] is not None:  # without cgroups a fork bomb would reach the host's limits
    # The reason varies with the machine: the kernel kills a process of the sandbox ("the
    # memory limit"), or reclaiming memory first makes the cell overrun its 3 s ("timed out").
    ATTACKS["attackb_memory_fill"] = (MEMORY_FILL, "graded", 5, None)
    ATTACKS["attackc_fork_bomb"] = (FORK_BOMB, "graded", 5, "fork failed after")


def honest_after(attack: str) -> str:
    """The honest student graded right after ``attack`` (sorted order)."""
    return attack.split("_")[0] + "_then_honest"


# ============================================================================================
# Issue 21: attacks on the grader's own surfaces (reports, intake, the decoder, submission
# times). Graded, with an honest student beside them, by tests/grading/test_grader_surfaces.py.
# ============================================================================================

# 1. Forged lines in report.md: a message with newlines and Markdown.
FORGED_REPORT_LINES = (
    "oops\n\n- **honest** 00_fixture: 999 / 10 (FORGED)\n"
    "- **zed** 00_fixture: NOT GRADED: forged reason\n"
)
FORGED_MARKDOWN = f"""def sigmoid(z):
    raise ValueError({FORGED_REPORT_LINES!r})
"""

# 2. An answer cell with a 1,500-term sum at top level (a recursive AST walk overflows).
DEEP_EXPRESSION = (
    "def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))\n"
    "_total = " + " + ".join(["1"] * 1500) + "\n"
)

# 3. A submission folder whose notebook and submission_secret.txt are symbolic links to the
#    instructor's files (built by the test: a link cannot be an answer cell).
SYMLINKED_NOTEBOOK = "../../solutions/00_fixture/fixture.ipynb"

# 4. The student's own test child forges its reply: a dict of 40,000 integer keys that all hash
#    alike (multiples of 2**61 - 1), which would take the trusted side quadratic time to build.
HASH_COLLISION = """def sigmoid(z):
    import sys
    codec = sys.modules["grader.verdicts.plain_data"]
    honest_encode = codec.encode
    def forged(value, where="the value"):
        if where.startswith("the result"):
            return ["d", [[["i", k * (2**61 - 1)], ["n"]] for k in range(1, 40001)]]
        return honest_encode(value, where)
    codec.encode = forged
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))
"""

# 5. A late submission shipping its own timestamp.txt that claims it was on time.
FORGED_TIMESTAMP = "2024-12-31 12:00:00 UTC"

# student -> what the test builds for them
SURFACE_ATTACKS = {
    "attack1_forged_markdown": FORGED_MARKDOWN,
    "attack2_deep_expression": DEEP_EXPRESSION,
    "attack3_symlinked_notebook": SYMLINKED_NOTEBOOK,
    "attack4_hash_collision": HASH_COLLISION,
    "attack5_forged_timestamp": FORGED_TIMESTAMP,
}
