"""A model forward that runs compiled by ``torch.compile`` where it can, and eager, said once, where not.

Compiling is unavailable or fails on some machines (no C compiler for the CPU backend, an old torch, MPS):
then the forward runs eager and one log line says why. Compiled code is cached on disk by torch under the
configuration's ``cache_dir`` (``TORCHINDUCTOR_CACHE_DIR``, unless already set), so a second process
reuses it. Shapes are expected to stay static: ingest pads every batch to one size.

The mode is ``torch.compile``'s (:data:`mmrag_lab.setting_values.COMPILE_MODES`). The modes that replay CUDA graphs
(``reduce-overhead``, ``max-autotune``) launch a whole forward at once; their outputs live in memory that the
next replay reuses, so each call's output (a tensor) is cloned before it is returned.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from mmrag_lab import checks
from mmrag_lab.setting_values import COMPILE_MODES

log = logging.getLogger(__name__)
CACHE_ENV = "TORCHINDUCTOR_CACHE_DIR"
_GRAPH_MODES = frozenset({"reduce-overhead", "max-autotune"})


class CompiledForward:
    """``forward``, or inside :meth:`enabled` its compiled form; the first failure turns it eager for good.

    Args:
        forward: The eager function (a model's forward or one of its methods).
        name: What runs it, for the log line.
    """

    def __init__(self, forward: Callable, name: str):
        self.eager, self.name = forward, name
        self.failure: str | None = None
        self._compiled: dict[str, Callable] = {}  # mode -> compiled forward
        self._mode: str | None = None  # the mode of the block being run, None outside one

    def __call__(self, *args, **kwargs):
        compiled = self._compiled.get(self._mode) if self._mode and self.failure is None else None
        if compiled is not None:
            try:
                if self._mode not in _GRAPH_MODES:
                    return compiled(*args, **kwargs)
                torch.compiler.cudagraph_mark_step_begin()  # the last call's outputs are no longer read
                return compiled(*args, **kwargs).clone()
            except Exception as exc:  # compiling happens at the first call: any failure there means eager
                self._fail(exc)
        return self.eager(*args, **kwargs)

    @contextmanager
    def enabled(self, cache_dir: str | os.PathLike | None = None, mode: str = "default") -> Iterator[None]:
        """Calls inside the block run compiled in ``mode`` (compiled at the first call, then reused)."""
        mode = checks.one_of("The compile mode", mode, COMPILE_MODES)
        if mode not in self._compiled and self.failure is None:
            try:
                if cache_dir is not None:
                    os.environ.setdefault(CACHE_ENV, str(Path(cache_dir) / "torch_compile"))
                options = {} if mode == "default" else {"mode": mode}
                self._compiled[mode] = torch.compile(self.eager, dynamic=False, **options)
            except Exception as exc:  # no torch.compile, or it refuses this platform
                self._fail(exc)
        self._mode = mode
        try:
            yield
        finally:
            self._mode = None

    def _fail(self, exc: Exception) -> None:
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        self.failure = f"{type(exc).__name__}: {reason}"
        log.warning("%s runs eager: torch.compile failed here (%s)", self.name, self.failure)


@contextmanager
def eager_only(name: str) -> Iterator[None]:
    """For encoders that offer no compiled forward: one log line, then eager."""
    log.warning("%s runs eager: it offers no compiled forward", name)
    yield
