"""``mmrag ingest --devices cuda:0,cuda:1`` (or ``all``): one ingest process per GPU over disjoint shards.

Each process is a plain ``mmrag ingest --device cuda:J --shard K/M`` of the same folder, so the shards are
independent and resumable: rows are keyed, and a re-run on another number of GPUs skips what is stored.
With ``--shard I/N`` as well (several machines), GPU ``j`` of ``M`` takes shard ``I + N*j`` of ``N*M``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from mmrag_lab import checks
from mmrag_lab.errors import ConfigError
from mmrag_lab.ingestion.scan import parse_shard

# options passed on unchanged to every process: attribute -> flag
_VALUED = {"uri": "--uri", "collection": "--collection", "metadata": "--metadata", "batch_size": "--batch-size",
           "encoder": "--encoder", "weights": "--weights", "dtype": "--dtype", "workers": "--workers",
           "cpu_share": "--cpu-share"}  # fmt: skip


def parse_devices(text: str) -> list[str]:
    """``"cuda:0,cuda:1"`` or ``"all"`` (every visible CUDA device) as a list of device names."""
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
    return devices


def child_commands(args: argparse.Namespace, devices: list[str]) -> list[list[str]]:
    """One ``mmrag ingest`` command line per device, each over its own shard."""
    try:
        outer, outer_count = parse_shard(args.shard) if args.shard else (0, 1)
    except ValueError as exc:
        raise ConfigError(f"Bad shard: {exc}.") from None
    if args.prune:
        raise ConfigError("--prune needs the whole folder; run it once without --devices afterwards.")
    total = outer_count * len(devices)
    commands = []
    for j, device in enumerate(devices):
        command = [sys.executable, "-m", "mmrag_lab.cli", "ingest", args.images_dir, "--device", device]
        command += ["--shard", f"{outer + outer_count * j}/{total}", "--no-progress"]
        for attribute, flag in _VALUED.items():
            if getattr(args, attribute, None) is not None:
                command += [flag, str(getattr(args, attribute))]
        if args.fast_decode:
            command.append("--fast-decode")
        if getattr(args, "replace_metadata", False):
            command.append("--replace-metadata")
        if args.gpu_decode is not None:
            command.append("--gpu-decode" if args.gpu_decode else "--cpu-decode")
        if getattr(args, "compile", None) is not None:
            command.append("--compile" if args.compile else "--no-compile")
        if args.report:
            command += ["--report", f"{args.report}.{device.replace(':', '')}.json"]
        commands.append(command)
    return commands


def run_on_devices(args: argparse.Namespace) -> int:
    """Start one process per device, wait for all; the exit status is the worst of theirs."""
    commands = child_commands(args, parse_devices(args.devices))
    processes = [subprocess.Popen(command) for command in commands]
    codes = [process.wait() for process in processes]
    for command, code in zip(commands, codes):
        if code:
            print(f"mmrag ingest: the process on {command[6]} exited with {code}", file=sys.stderr)
    return max(codes)
