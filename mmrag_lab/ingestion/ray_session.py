"""Ray for one ingest job: a local Ray started for the job and shut down after, or a cluster joined.

Without an address, :func:`ray_for_job` starts Ray on this machine with ``num_cpus`` (default: every core
this process may use) and the GPUs it sees, and shuts it down when the job ends. With ``auto`` (the cluster
that ``ray start`` made on this machine) or ``ray://host:port`` it joins that cluster and leaves it running.
:func:`check_ray_options` refuses bad options before any work.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mmrag_lab.errors import ConfigError

INSTALL = "pip install 'mmrag-lab[ray]'"
ENGINES = ("local", "ray")
MAX_ACTORS = 64


@dataclass(frozen=True)
class RayOptions:
    """How the Ray engine spreads the job.

    Attributes:
        address: None (a local Ray for this job), ``auto`` or ``ray://host:port`` (a running cluster).
        cpus: CPUs of the local Ray; None = every core this process may use. Ignored on a cluster.
        gpus: The GPUs the local Ray may use (CUDA indices); None = every visible one.
        actors: Encoder actors; None = :data:`actors_per_gpu` per GPU of the cluster, or 1 without GPUs.
        actors_per_gpu: Encoder actors sharing one GPU (each takes ``1/actors_per_gpu`` of it).
        writers: Writer actors, each with its own store client (they wait on the store, so take no CPU).
    """

    address: str | None = None
    cpus: int | None = None
    gpus: tuple[int, ...] | None = None
    actors: int | None = None
    actors_per_gpu: int = 4
    writers: int = 4


def check_ray_options(engine: str, options: RayOptions | None) -> None:
    """Refuse an unknown engine, Ray options without the Ray engine, or a missing ``ray`` (before any work)."""
    if engine not in ENGINES:
        raise ConfigError(f"engine (--engine) must be one of {', '.join(ENGINES)}, got {engine!r}.")
    if engine != "ray":
        if options is not None and options != RayOptions():
            raise ConfigError("--ray-address and the other Ray settings need --engine ray.")
        return
    options = options or RayOptions()
    address = options.address
    if address is not None and address != "auto" and not address.startswith("ray://"):
        raise ConfigError(f"--ray-address takes auto or ray://host:port, got {address!r}.")
    for name, value, low in (("actors", options.actors, 1), ("cpus", options.cpus, 1)):
        if value is not None and (not isinstance(value, int) or not low <= value <= 4096):
            raise ConfigError(f"Ray {name} must be a whole number from {low}, got {value!r}.")
    if not 1 <= options.writers <= MAX_ACTORS or not 1 <= options.actors_per_gpu <= 16:
        raise ConfigError("Ray writers must be 1 to 64 and actors per GPU 1 to 16.")
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError(f"--engine ray needs Ray Data, which is not installed: {INSTALL}") from None


@contextmanager
def ray_for_job(options: RayOptions) -> Iterator[None]:
    """Ray, ready for the job: started here (and shut down after) or joined (and left running)."""
    import ray
    from ray.data import DataContext

    if ray.is_initialized():  # a notebook or test that started Ray itself: use it, leave it
        yield
        return
    logging.getLogger("ray").setLevel(logging.WARNING)
    quiet = dict(logging_level=logging.WARNING, log_to_driver=False, configure_logging=True)
    if options.address is None:
        env = dict(os.environ)
        if options.gpus is not None:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, options.gpus))
        cpus = options.cpus or _cores()
        ray.init(num_cpus=cpus, include_dashboard=False, runtime_env={"env_vars": _passed(env)}, **quiet)
    else:
        try:
            ray.init(address=options.address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"Could not join the Ray cluster at {options.address} ({exc}). Start it with `ray start "
                "--head` on one node and `ray start --address HEAD:6379` on the others."
            ) from None
    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    # Ray Data's per-stage reservations split a small machine's CPUs so that the read stage may get less than
    # the one CPU a task needs, and then waits on a timeout; the stages share the machine freely instead.
    context.op_resource_reservation_enabled = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():  # a small job cannot keep every actor busy: Ray warns of that
            warnings.filterwarnings("ignore", message="The minimum number of concurrent actors")
            yield
    finally:
        if options.address is None:
            ray.shutdown()


def _passed(env: dict[str, str]) -> dict[str, str]:
    """The variables the workers need as the driver has them: where the code and settings come from."""
    keys = ("PYTHONPATH", "CUDA_VISIBLE_DEVICES", "HF_HOME", "TORCH_HOME", "TORCHINDUCTOR_CACHE_DIR")
    return {key: env[key] for key in keys if key in env} | {
        key: value for key, value in env.items() if key.startswith("MMRAG_")
    }


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
