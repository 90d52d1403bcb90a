"""``mmrag ingest``'s engine options: ``--engine``, ``--ray-address`` and the rest, and ``--devices``.

``--devices cuda:0,cuda:1`` (or ``all``) is the Ray engine on a local Ray over those GPUs: the GPU actors
spread over them, and Ray schedules, retries and applies back-pressure. Every check here runs before any work.
"""

from __future__ import annotations

import argparse

from mmrag_lab import checks
from mmrag_lab.errors import ConfigError
from mmrag_lab.ingestion.ray_session import ENGINES, RayOptions


def add_engine(parser: argparse.ArgumentParser) -> None:
    """The engine's options, in an "engine" section of the help."""
    group = parser.add_argument_group("engine")
    group.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="local: this process (default; best for small jobs); ray: Ray Data, decoding, GPU actors and "
        "writers in processes of their own, on this machine or a cluster (docs/scale-out.md)",
    )
    group.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="with --engine ray: auto (the cluster `ray start` made) or ray://host:port; default a local "
        "Ray for the job",
    )
    group.add_argument("--ray-cpus", type=int, metavar="N", help="with --engine ray: CPUs of the local Ray")
    group.add_argument(
        "--ray-actors", type=int, metavar="N", help="with --engine ray: encoder actors (default 4 per GPU)"
    )
    group.add_argument(
        "--ray-writers", type=int, metavar="N", help="with --engine ray: writer actors (default 4)"
    )
    group.add_argument(
        "--devices",
        metavar="LIST",
        help="cuda:0,cuda:1 or all: the Ray engine on a local Ray over these GPUs",
    )


def ray_options(args: argparse.Namespace) -> tuple[str, RayOptions | None]:
    """The engine and its options as the command line gave them; bad combinations refused."""
    given = {
        "--ray-address": args.ray_address,
        "--ray-cpus": args.ray_cpus,
        "--ray-actors": args.ray_actors,
        "--ray-writers": args.ray_writers,
    }
    engine = args.engine or ("ray" if args.devices else "local")
    if engine != "ray":
        named = [flag for flag, value in given.items() if value is not None]
        if named or args.devices:
            raise ConfigError(f"{', '.join(named or ['--devices'])} needs --engine ray.")
        return "local", None
    for flag in ("--ray-cpus", "--ray-actors", "--ray-writers"):
        if given[flag] is not None:
            checks.whole_number(flag, given[flag], low=1, high=4096)
    gpus = None
    if args.devices:
        if args.ray_address:
            raise ConfigError(
                "--devices names GPUs of this machine; with --ray-address the cluster's GPUs serve."
            )
        gpus = tuple(int(name.split(":")[1]) if ":" in name else 0 for name in parse_devices(args.devices))
    options = RayOptions(
        address=args.ray_address,
        cpus=args.ray_cpus,
        gpus=gpus,
        actors=args.ray_actors,
        writers=args.ray_writers or RayOptions.writers,
    )
    return "ray", options


def parse_devices(text: str) -> list[str]:
    """``"cuda:0,cuda:1"`` or ``"all"`` (every visible CUDA device) as a list of CUDA device names."""
    if text.strip() == "all":
        import torch

        count = torch.cuda.device_count()
        if count == 0:
            raise ConfigError(
                "--devices all: no CUDA device is visible. Name devices, or leave --devices out."
            )
        return [f"cuda:{index}" for index in range(count)]
    devices = [part.strip() for part in text.split(",") if part.strip()]
    if not devices or len(set(devices)) != len(devices):
        raise ConfigError(f"--devices takes distinct names such as cuda:0,cuda:1, or all; got {text!r}.")
    for device in devices:
        checks.device_name(f"--devices entry {device!r}:", device)
        if not device.startswith("cuda"):
            raise ConfigError(f"--devices takes CUDA devices (cuda:N) or all; got {device!r}.")
    return devices
