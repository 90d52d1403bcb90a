"""Which weights an unattended run can actually have, decided up front and quickly.

``load_encoder`` would try a download when the weights are not cached; offline that can wait a long time on
the network. Unattended runs (``make demo``, ``make notebooks``) decide first, in this order:

1. weights given explicitly or by ``MMRAG_WEIGHTS`` (a path, or ``untrained``): used as they are;
2. a preset without official weights (``tiny``): untrained;
3. the checkpoint in the local Hugging Face hub cache: that file;
4. the hub answers a TCP connection within ``timeout`` seconds (3 s by default; ``HF_HUB_OFFLINE=1``
   skips the probe): download it, with progress;
5. otherwise: untrained weights, said loudly. The process environment is left alone: this runs inside the
   user's kernel, and ``HF_HUB_OFFLINE`` there would change every later hub call of theirs.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from mmrag_lab.encoders.presets import WEIGHTS_REPO, get_preset

UNTRAINED = "untrained"
PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class WeightsChoice:
    """The weights a run will use and why.

    Attributes:
        weights: A checkpoint path, ``"untrained"``, or None to let ``load_encoder`` download them.
        untrained: True when the run's vectors will mean nothing.
        reason: One line for the user.
    """

    weights: str | None
    untrained: bool
    reason: str


def how_to_get_weights(encoder: str) -> str:
    """The instruction that gets the real checkpoint for ``encoder`` onto this machine."""
    preset = get_preset(encoder)
    if preset.hub_repo is None:
        return (
            f"the '{encoder}' preset has no official weights; use ENCODER=visualized-bge-base for real ones"
        )
    if preset.checkpoint is None:
        return (
            f"on a machine with internet run `huggingface-cli download {preset.hub_repo} --local-dir FOLDER`, "
            "copy FOLDER here and set MMRAG_WEIGHTS=FOLDER (docs/configuration.md, 'Weights')"
        )
    return (
        f"on a machine with internet run `huggingface-cli download {WEIGHTS_REPO} {preset.checkpoint}` "
        f"(or fetch https://huggingface.co/{WEIGHTS_REPO}/resolve/main/{preset.checkpoint}), copy the file "
        f"here and set MMRAG_WEIGHTS=/path/to/{preset.checkpoint} (docs/configuration.md, 'Weights')"
    )


def pick_weights(encoder: str, weights: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> WeightsChoice:
    """Decide the weights for ``encoder`` without waiting long on the network (see the module docstring)."""
    if weights:
        untrained = weights == UNTRAINED
        return WeightsChoice(weights, untrained, "untrained weights asked for" if untrained else "given")
    preset = get_preset(encoder)
    if preset.hub_repo is None:
        return WeightsChoice(UNTRAINED, True, f"the '{encoder}' preset has no official weights")
    if preset.checkpoint is None:
        return _pick_folder(preset.hub_repo, timeout)
    cached = _cached_checkpoint(preset.checkpoint)
    if cached:
        return WeightsChoice(cached, False, f"found in the hub cache: {cached}")
    if hub_reachable(timeout):
        return WeightsChoice(
            None, False, f"not cached; will download {preset.checkpoint} from {WEIGHTS_REPO}"
        )
    return WeightsChoice(
        UNTRAINED, True, f"{preset.checkpoint} is not on this machine and the hub is unreachable"
    )


def _pick_folder(repo: str, timeout: float) -> WeightsChoice:
    from mmrag_lab.encoders.hub_weights import cached_folder

    cached = cached_folder(repo)
    if cached:
        return WeightsChoice(cached, False, f"found in the hub cache: {cached}")
    if hub_reachable(timeout):
        return WeightsChoice(None, False, f"not cached; will download {repo}")
    return WeightsChoice(UNTRAINED, True, f"{repo} is not on this machine and the hub is unreachable")


def _cached_checkpoint(filename: str) -> str | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    # HF_HUB_CACHE is read again here: huggingface_hub reads it only once, at import.
    found = try_to_load_from_cache(WEIGHTS_REPO, filename, cache_dir=os.environ.get("HF_HUB_CACHE") or None)
    return found if isinstance(found, str) and os.path.isfile(found) else None


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True when the hub (``HF_ENDPOINT`` or huggingface.co) accepts a TCP connection within ``timeout``.

    Name resolution ignores socket timeouts, so the probe runs in a daemon thread that is abandoned when
    it takes too long.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    parts = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    address = (parts.hostname or "huggingface.co", parts.port or (80 if parts.scheme == "http" else 443))
    outcome: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection(address, timeout=timeout).close()
            outcome.append(True)
        except OSError:
            outcome.append(False)

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(outcome and outcome[0])
