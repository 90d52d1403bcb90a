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

# what each process is given on its own; every other option given is passed on as it was given
OWN = {"help", "images_dir", "devices", "device", "shard", "no_progress", "report"}


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
    given = passed_on(ingest_parser(), args)
    commands = []
    for j, device in enumerate(devices):
        command = [sys.executable, "-m", "mmrag_lab.cli", "ingest", args.images_dir, "--device", device]
        command += ["--shard", f"{outer + outer_count * j}/{total}", "--no-progress", *given]
        if args.report:
            command += ["--report", f"{args.report}.{device.replace(':', '')}.json"]
        commands.append(command)
    return commands


def ingest_parser() -> argparse.ArgumentParser:
    """The parser of ``mmrag ingest``, whose options the child processes take."""
    from mmrag_lab.cli import ingest

    return ingest.add_parser(argparse.ArgumentParser(prog="mmrag").add_subparsers())


def passed_on(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """Every option of ``parser`` that ``args`` holds a value other than its default for (but those in
    :data:`OWN`), spelled so that ``parser`` reads the same value back: built from the parser's own actions,
    so an option added to ``mmrag ingest`` reaches the child processes without a list to keep up."""
    actions: dict[str, list[argparse.Action]] = {}
    for action in parser._actions:
        if action.option_strings and action.dest not in OWN:
            actions.setdefault(action.dest, []).append(action)
    flags: list[str] = []
    for dest, candidates in actions.items():
        default = candidates[0].default  # what argparse stores when none of them is given
        value = getattr(args, dest, default)
        if value != default:
            flags += _spelled(candidates, value)
    return flags


def _spelled(actions: list[argparse.Action], value: object) -> list[str]:
    """The flags that make one of ``actions`` (options of one destination) store ``value``."""
    for action in (a for a in actions if a.help != argparse.SUPPRESS):  # not an old spelling
        first = action.option_strings[0]
        if isinstance(action, argparse.BooleanOptionalAction):
            return [first if value else action.option_strings[1]]
        if action.nargs == 0:  # store_true, store_false, store_const: the one whose constant it is
            if action.const == value:
                return [first]
        elif isinstance(action, argparse._AppendAction):
            return [part for item in value for part in (first, str(item))]
        elif isinstance(value, (list, tuple)):
            return [first, *map(str, value)]
        else:
            return [first, str(value)]
    raise AssertionError(f"no option of {[a.option_strings for a in actions]} stores {value!r}")


def run_on_devices(args: argparse.Namespace) -> int:
    """Start one process per device, wait for all; the exit status is the worst of theirs."""
    commands = child_commands(args, parse_devices(args.devices))
    processes = [subprocess.Popen(command) for command in commands]
    codes = [process.wait() for process in processes]
    for command, code in zip(commands, codes):
        if code:
            print(f"mmrag ingest: the process on {command[6]} exited with {code}", file=sys.stderr)
    return max(codes)
