"""Calling a student's function in the sandbox from trusted code (grader.verdicts.student_calls),
and the sandbox itself: what the student's code can see, and what a call brings back."""

from __future__ import annotations

import json
import sys
import time

import fixture_course as fc
import numpy as np
import pytest

from grader.course.layout import CourseLayout
from grader.verdicts import runner, sandbox
from grader.verdicts.runner import student_session
from grader.verdicts.student_calls import (
    ProtocolViolation,
    RemoteFunction,
    StudentCrashed,
    StudentError,
    StudentTimeout,
)
from grader.verdicts.trusted_sources import TrustedSources
from utils import activations, checks
from utils.data import Vocabulary
from utils.exercises import language_model

pytestmark = fc.needs_sandbox

SETUP = {"label": "imports", "code": "import numpy as np\nfrom utils import activations"}
ANSWERS = """
import os, sys, tempfile
def writable(folder):
    try:
        with open(os.path.join(folder, "probe"), "wb") as f:
            f.write(b"x" * 2**20)
        return "writable"
    except OSError as error:
        return error.strerror
def adds_in_place(x, params):
    x += 1
    params["W"] = params["W"] * 2
    params["extra"] = [1]
    return x.sum()
def calls_reference(z):
    return activations.sigmoid(z)
def patches_numpy(z):
    np.exp = abs
    return z
def raises(kind):
    raise {"value": ValueError, "index": IndexError}[kind]("bad " + kind)
def raises_own():
    class Oops(Exception):
        pass
    raise Oops("mine")
def multiplies(W, x):
    return W @ x
def loops():
    while True:
        pass
def exits():
    os._exit(3)
def returns_subclass():
    class Mine(np.ndarray):
        pass
    return np.zeros(2).view(Mine)
def forges():
    os.write(1, b"ignored, goes to stderr\\n")
    for fd in range(3, 40):
        try:
            os.write(fd, b'{"id": 999, "ok": true, "result": ["n"]}\\n')
        except OSError:
            pass
    return 1
def looks_around():
    import utils
    return [os.getuid(), sorted(os.listdir("/tmp")), utils.__file__, sorted(os.environ)]
def fills_tmp():
    written = 0
    try:
        with open(os.path.join(tempfile.gettempdir(), "big"), "wb") as f:
            while written < 1024:
                f.write(b"x" * (1 << 20))
                written += 1
    except OSError as error:
        return [written, str(error)]
    return [written, ""]
def draws(rng, vocab):
    drawn = [int(rng.integers(1000)) for _ in range(3)]
    return drawn + [vocab.eos_id, len(vocab), vocab.decode([2])]
def grows(vocab):
    vocab.id_to_token.append("zz")
    vocab.token_to_id["zz"] = len(vocab.id_to_token) - 1
def new_vocabulary(tokens):
    from utils.data import Vocabulary
    return Vocabulary(["<UNK>", "<EOS>", *tokens])
def hostile_vocabulary():
    from utils.data import Vocabulary
    class Always(Vocabulary):
        def __eq__(self, other):
            return True
    return Always(["<UNK>", "<EOS>"])
def sample(parameters, vocab, rng, temperature=1.0, max_len=20):
    n_x, n_a = parameters["Wax"].shape[1], parameters["Waa"].shape[0]
    a, xt, ids = np.zeros((n_a, 1)), np.zeros((n_x, 1)), []
    while len(ids) < max_len:
        a = np.tanh(parameters["Waa"] @ a + parameters["Wax"] @ xt + parameters["ba"])
        z = (parameters["Wya"] @ a + parameters["by"])[:, 0] / temperature
        p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        ids.append(int(rng.choice(len(p), p=p)))
        if ids[-1] == vocab.eos_id:
            break
        xt = np.zeros((n_x, 1))
        xt[ids[-1]] = 1
    return ids
def sample_argmax(parameters, vocab, rng, temperature=1.0, max_len=20):
    ids = sample(parameters, vocab, rng, 1e-9, max_len)
    rng.random()
    return ids
CONSTANT = {"k": (1, 2.5)}
"""


@pytest.fixture(scope="module")
def sandbox_config(tmp_path_factory, fixture_course):
    staging = tmp_path_factory.mktemp("staging")
    _code, lib = TrustedSources(CourseLayout.of(fixture_course)).stage(staging)
    fontlists = sorted((staging / "matplotlib").glob("fontlist-*.json"))
    return sandbox.Sandbox(lib=lib, fontlist=fontlists[-1] if fontlists else None)


@pytest.fixture
def session(sandbox_config):
    s = student_session(sandbox_config, 2048)
    s.plan(
        [
            {**SETUP, "student": False},
            {"label": "your cell", "code": ANSWERS, "student": True},
        ]
    )
    yield s
    s.close()


def _begin(session, timeout=10.0):
    names, errors = session.begin(2, timeout)
    assert not errors
    return names


def test_student_names_are_proxies_and_plain_values(session):
    names = _begin(session)
    assert isinstance(names["adds_in_place"], RemoteFunction)
    assert names["CONSTANT"] == {"k": (1, 2.5)}
    assert "np" not in names
    assert "activations" not in names  # bound by the instructor's cell
    assert "os" not in names  # modules stay in the sandbox


def test_in_place_changes_reach_the_caller_as_in_one_process(session):
    names = _begin(session)
    x, params = np.zeros(3), {"W": np.ones((2, 2))}
    total = names["adds_in_place"](x, params)
    assert type(total) is np.float64
    assert total == 3.0
    assert x.tolist() == [1.0, 1.0, 1.0]
    assert params["W"][0, 0] == 2.0
    assert params["extra"] == [1]
    with pytest.raises(AssertionError, match="changed its argument #1 in place"):
        checks.check_not_mutated(names["adds_in_place"], np.zeros(3), {"W": np.ones(1)})


def test_forbidden_references_and_tampering_are_caught_in_the_sandbox(session):
    names = _begin(session)
    with pytest.raises(checks.IntegrityError, match=r"calls the reference .*activations\.sigmoid"):
        checks.guarded_call(names["calls_reference"], np.zeros(2), forbid=[activations.sigmoid])
    with pytest.raises(checks.IntegrityError, match=r"numpy\.exp was replaced"):
        names["patches_numpy"](np.zeros(2))


def test_exceptions_keep_their_builtin_type_never_the_students_class(session):
    names = _begin(session)
    with pytest.raises(ValueError, match="bad value"):
        names["raises"]("value")
    with pytest.raises(IndexError, match="bad index"):
        names["raises"]("index")
    with pytest.raises(StudentError, match="Oops: mine"):
        names["raises_own"]()


def test_errors_carry_the_harness_explanation(session):
    names = _begin(session)
    with pytest.raises(ValueError, match="matmul") as info:
        names["multiplies"](np.ones((2, 3)), np.ones((2, 3)))
    assert info.value.student_trace == [("multiplies", "return W @ x")]
    assert info.value.student_locals == {"W": (2, 3), "x": (2, 3)}


def test_only_plain_data_comes_back(session):
    names = _begin(session)
    with pytest.raises(AssertionError, match=r"is a Mine \(a subclass of numpy\.ndarray\)"):
        names["returns_subclass"]()
    with pytest.raises(TypeError, match=r"the arguments of raises\[0\] is a object, which cannot"):
        names["raises"](object())


def test_a_generator_and_a_vocabulary_reach_the_student_as_in_one_process(session):
    """A student's sample(parameters, vocab, rng) draws from a generator in the caller's state
    and reads a real Vocabulary; afterwards the caller's generator has advanced exactly as if
    the call had run here."""
    names = _begin(session)
    rng, twin = np.random.default_rng(5), np.random.default_rng(5)
    vocab = Vocabulary(["<UNK>", "<EOS>", "a", "b"])
    got = names["draws"](rng, vocab)
    assert got == [int(twin.integers(1000)) for _ in range(3)] + [1, 4, ["a"]]
    assert rng.random() == twin.random()
    assert vocab.id_to_token == ["<UNK>", "<EOS>", "a", "b"]


def test_a_vocabulary_changed_in_the_sandbox_is_seen_changed_here(session):
    names = _begin(session)
    vocab = Vocabulary(["<UNK>", "<EOS>", "a"])
    with pytest.raises(AssertionError, match="changed its argument #1 in place"):
        checks.check_not_mutated(names["grows"], vocab)
    assert vocab.encode(["zz"]) == [3, 1]


def test_a_returned_vocabulary_is_rebuilt_here_a_subclass_refused(session):
    names = _begin(session)
    got = names["new_vocabulary"](["x", "y"])
    assert type(got) is Vocabulary
    assert got.token_to_id == {"<UNK>": 0, "<EOS>": 1, "x": 2, "y": 3}
    with pytest.raises(AssertionError, match=r"is a Always \(a subclass of utils\.data\.Vocab"):
        names["hostile_vocabulary"]()


def test_the_sample_checks_judge_a_sandboxed_sampler(session):
    """The checks of assignment 04 hand a sandboxed sample its generator and vocabulary, see
    the generator advance without calling it a change in place, and still name a mistake."""
    names = _begin(session, timeout=60.0)
    language_model.check_sample(names["sample"])
    with pytest.raises(AssertionError, match="do not take the argmax"):
        language_model.check_sample(names["sample_argmax"])


def test_a_loop_times_out_and_the_next_test_gets_a_fresh_sandbox(session):
    names = _begin(session, timeout=1.0)
    start = time.monotonic()
    with pytest.raises(StudentTimeout):
        names["loops"]()
    assert time.monotonic() - start < 5
    session.end()
    names = _begin(session)
    assert names["CONSTANT"] == {"k": (1, 2.5)}


def test_a_crash_ends_the_test_not_the_sandbox(session):
    names = _begin(session)
    with pytest.raises(StudentCrashed, match="exited with status 3"):
        names["exits"]()
    session.end()
    assert _begin(session)["CONSTANT"]


def test_a_forged_reply_is_a_protocol_violation(session):
    names = _begin(session)
    with pytest.raises(ProtocolViolation, match="request 999"):
        names["forges"]()


def test_the_sandbox_shows_no_course_file_and_no_secret(session, fixture_course, monkeypatch):
    monkeypatch.setenv("NBGRADER_DB_URL", "postgresql://secret@host/db")
    names = _begin(session)
    uid, tmp, utils_file, env = names["looks_around"]()
    assert uid == sandbox.UID
    # The private /tmp holds the home and matplotlib folders, plus only the mount points of the
    # Python environment when it lives under /tmp (a CI clone): never anything of the course.
    under_tmp = {d.parts[2] for d in sandbox._python_dirs() if d.parts[1:2] == ("tmp",)}
    assert set(tmp) == {"home", "matplotlib"} | under_tmp
    assert utils_file.startswith(sandbox.LIB)
    assert "NBGRADER_DB_URL" not in env
    assert str(fixture_course) not in json.dumps(env)


def test_a_python_folder_that_holds_the_course_is_never_bound(tmp_path):
    python_dir = sandbox._python_dirs()[0]
    inside = sandbox.Sandbox(lib=tmp_path, repository=python_dir / "course")
    with pytest.raises(sandbox.SandboxUnavailable, match="would show the course repository"):
        inside.command(["true"])
    beside = sandbox.Sandbox(lib=tmp_path, repository=tmp_path / "course")
    assert beside.command(["true"])[0] == beside.bwrap


def test_the_private_tmp_cannot_fill_the_host_memory(session):
    written, error = _begin(session)["fills_tmp"]()
    assert written <= sandbox.TMP_BYTES >> 20
    assert "No space left" in error


def test_grading_refuses_without_bubblewrap_in_one_line(tmp_path, monkeypatch, capsys):
    from grader.__main__ import main

    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    (tmp_path / "class").mkdir()
    assert main(["grade", str(tmp_path / "class")]) == 2
    said = capsys.readouterr().err.strip().splitlines()
    err = "\n".join(line for line in said if not line.startswith("gradebook: "))
    assert len(err.splitlines()) == 1, said
    assert "bubblewrap is not installed" in err
    assert "--no-sandbox" in err
    assert sys.platform.startswith("linux")


def test_a_students_names_never_replace_the_builtins_the_tests_use(sandbox_config):
    """A student's ``len`` or ``max`` (a function, or a builtin rebound) stays in the sandbox:
    the test code keeps Python's own."""
    session = student_session(sandbox_config, 2048)
    blocks = [
        {**SETUP, "student": False},
        {"label": "your cell", "code": "def len(x):\n    return 0\nmax = min\n", "student": True},
    ]
    plan = {"blocks": blocks, "tests": [], "notes": []}
    session.plan(blocks)
    test = {"grade_id": "t", "prefix": 2, "code": "assert len([1, 2]) == 2 and max(1, 2) == 2"}
    try:
        result = runner.run_test(session, plan, test, 10)
    finally:
        session.close()
    assert result["passed"], result


def test_the_sandbox_root_and_dev_are_read_only(session):
    """No unbounded memory file system: / and /dev (with /dev/shm) are read-only; only the
    private, size-capped /tmp is writable."""
    names = _begin(session)
    assert names["writable"]("/dev/shm") == "Read-only file system"
    assert names["writable"]("/") == "Read-only file system"
    assert names["writable"]("/tmp") == "writable"


def test_the_sandbox_runs_in_a_cgroup_of_its_own(session):
    """Where the grader may create cgroups, the sandbox (all it starts) is in a group of its
    own, held to the session's memory and the pids limit; the group goes with the sandbox."""
    version, where = sandbox.cgroup_version()
    if version is None:
        pytest.skip(f"no cgroup limits here: {where}")
    _begin(session)
    group = session.group
    assert group is not None
    assert session.proc.pid in group.members()
    folders = group.folders()
    if version == "v1":
        memory, pids = folders
        assert (memory / "memory.limit_in_bytes").read_text().strip() == str(2048 * 2**20)
    else:
        memory = pids = folders[0]
        assert (memory / "memory.max").read_text().strip() == str(2048 * 2**20)
    assert (pids / "pids.max").read_text().strip() == str(sandbox.PIDS_MAX)
    session.close()
    assert not any(folder.exists() for folder in folders)
