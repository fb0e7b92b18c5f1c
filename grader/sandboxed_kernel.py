"""nbgrader's autograde kernel, started inside the sandbox (:mod:`grader.sandbox`).

The kernel talks to nbgrader over ZeroMQ *ipc* sockets in a folder of its own (a fresh temporary
folder per kernel, the only writable folder bound into its sandbox): with no network namespace
of its own there is no TCP to share. Interrupts (a cell over ``c.Execute.timeout``) are sent as
messages, since a signal would reach bwrap rather than the kernel.

:class:`SandboxedExecute` is nbgrader's ``Execute`` preprocessor with this kernel manager; the
nbgrader worker puts it in place of ``Execute`` (``Autograde.autograde_preprocessors``) after
calling :func:`use_sandbox`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbgrader.preprocessors import Execute

from grader.sandbox import Sandbox

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
    def __init__(self, *args, **kwargs):
        kwargs["kernel_manager_class"] = SandboxedKernelManager
        super().__init__(*args, **kwargs)
