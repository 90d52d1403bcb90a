"""A model forward that runs compiled by ``torch.compile`` where it can, and eager, said once, where not.

Compiling is unavailable or fails on some machines (no C compiler for the CPU backend, an old torch, MPS):
then the forward runs eager and one log line says why. Compiled code is cached on disk by torch under the
configuration's ``cache_dir`` (``TORCHINDUCTOR_CACHE_DIR``, unless already set), so a second process
reuses it. Shapes are expected to stay static: ingest pads every batch to one size.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

log = logging.getLogger(__name__)
CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"


class CompiledForward:
    """``forward``, or inside :meth:`enabled` its compiled form; the first failure turns it eager for good.

    Args:
        forward: The eager function (a model's forward or one of its methods).
        name: What runs it, for the log line.
    """

    def __init__(self, forward: Callable, name: str):
        self.eager, self.name = forward, name
        self.failure: str | None = None
        self._compiled: Callable | None = None
        self._active = False

    def __call__(self, *args, **kwargs):
        if self._active and self._compiled is not None and self.failure is None:
            try:
                return self._compiled(*args, **kwargs)
            except Exception as exc:  # compiling happens at the first call: any failure there means eager
                self._fail(exc)
        return self.eager(*args, **kwargs)

    @contextmanager
    def enabled(self, cache_dir: str | os.PathLike | None = None) -> Iterator[None]:
        """Calls inside the block run compiled (compiled once, at the first call, then reused)."""
        if self._compiled is None and self.failure is None:
            try:
                if cache_dir is not None:
                    os.environ.setdefault(CACHE_ENV, str(Path(cache_dir) / "torch_compile"))
                self._compiled = torch.compile(self.eager, dynamic=False)
            except Exception as exc:  # no torch.compile, or it refuses this platform
                self._fail(exc)
        self._active = True
        try:
            yield
        finally:
            self._active = False

    def _fail(self, exc: Exception) -> None:
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        self.failure = f"{type(exc).__name__}: {reason}"
        log.warning("%s runs eager: torch.compile failed here (%s)", self.name, self.failure)


@contextmanager
def eager_only(name: str) -> Iterator[None]:
    """For encoders that offer no compiled forward: one log line, then eager."""
    log.warning("%s runs eager: it offers no compiled forward", name)
    yield
