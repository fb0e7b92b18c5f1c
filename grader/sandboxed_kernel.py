"""nbgrader's autograde kernel, started inside the sandbox (:mod:`grader.sandbox`).

The kernel talks to nbgrader over ZeroMQ *ipc* sockets in a folder of its own (a fresh temporary
folder per kernel, the only writable folder bound into its sandbox): with no network namespace
of its own there is no TCP to share. Interrupts (a cell over ``c.Execute.timeout``) are sent as
messages, since a signal would reach bwrap rather than the kernel.

:class:`SandboxedExecute` is nbgrader's ``Execute`` preprocessor with this kernel manager; the
nbgrader worker puts it in place of ``Execute`` (``Autograde.autograde_preprocessors``) after
calling :func:`use_sandbox`. It also skips the course's demonstrations: a code cell the source
notebook tags ``demo`` (a training run, a measurement, a plot; see
:func:`grader.definitions.demo_problems` for the rule that makes skipping it safe) is not run when
the student's copy of it is unchanged. Grading needs none of them, and they are most of a
notebook's running time.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Unicode

from grader import definitions
from grader import notebooks as nbs
from grader.sandbox import Sandbox

SKIPPED = "(a demonstration: not run when grading; nothing in it is graded)\n"

_SANDBOX: Sandbox | None = None


def use_sandbox(sandbox: Sandbox) -> None:
    """Set the sandbox every kernel of this process starts in."""
    global _SANDBOX
    _SANDBOX = sandbox


class SandboxedKernelManager(AsyncKernelManager):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if _SANDBOX is None:
            raise RuntimeError("no sandbox configured for kernels (grader.sandboxed_kernel)")
        self.sandbox = _SANDBOX
        self.folder = Path(tempfile.mkdtemp(prefix="kernel-"))
        self.transport = "ipc"
        self.connection_file = str(self.folder / "kernel.json")
        self.ip = str(self.folder / "kernel-ipc")

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = "message"
        return spec

    def format_kernel_cmd(self, extra_arguments=None) -> list[str]:
        return self.sandbox.command(super().format_kernel_cmd(extra_arguments), (self.folder,))

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self.folder, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


class SandboxedExecute(Execute):
    source_directory = Unicode(
        "", help="the course's source folder, whose notebooks say which cells are demos"
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs["kernel_manager_class"] = SandboxedKernelManager
        super().__init__(*args, **kwargs)
        self._demos: dict[tuple[str, str], frozenset[str]] = {}

    def _demo_sources(self, resources) -> frozenset[str]:
        """The demo cells' sources of the notebook being graded, from the *source* notebook
        (a submission's own tags and metadata decide nothing)."""
        info = resources.get("nbgrader", {})
        key = (info.get("assignment", ""), info.get("notebook", ""))
        if key not in self._demos:
            path = Path(self.source_directory) / key[0] / f"{key[1]}.ipynb"
            demos: frozenset[str] = frozenset()
            if self.source_directory and all(key) and path.is_file():
                demos = definitions.demo_sources(nbs.read(path))
            self._demos[key] = demos
        return self._demos[key]

    def preprocess_cell(self, cell, resources, index):
        if (
            cell.cell_type == "code"
            and not nbs.nbgrader_meta(cell)
            and cell.source in self._demo_sources(resources)
        ):
            cell.outputs = [new_output("stream", name="stdout", text=SKIPPED)]
            return cell, resources
        return super().preprocess_cell(cell, resources, index)
