"""Where an ingest's host time goes: a py-spy profile (``--format raw --threads --idle``) summarised by role.

usage: python benchmarks/profile_summary.py PROFILE.txt [--top 6] > SUMMARY.txt

py-spy's raw format is one line per distinct stack, ``frame;frame;...;frame COUNT``, outermost frame
first, with the thread as the first frame when recorded with ``--threads``. Each stack is given the role
of the first of our functions it passes through (the launch loop, the mapper's pump, the reader threads,
the writer, the plan's hashing) and, for each role, the innermost frames that took the most samples are
listed, with the share of samples spent waiting (on a lock, a queue, the device or the network).
Samples where dynamo or inductor compile (not where compiled code runs) are counted apart as compile time.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from pathlib import Path

ROLES = (  # first match wins: the most specific functions first
    ("reader threads", ("read_checked", "read_one", "read_settled")),
    ("plan hashing", ("hash_stamped", "hash_files_stamped")),
    ("writer thread", ("RowWriter._run", "RowWriter.close")),
    ("mapper pump thread", ("_Merge._pump",)),
    ("CPU decode workers", ("_worker_loop", "PrepareDataset")),
    ("launch loop (main thread)", ("run_ingest",)),
    ("rest of ingest on the main thread (plan, copies, flush)", ("ingest (mmrag_lab/ingestion/pipeline.py",)),
    ("idle pool threads", ("concurrent/futures/thread.py",)),
    ("watching the Lite server process", ("Popen._try_wait", "Popen.wait")),
)
WAITING = re.compile(
    r"wait|acquire|_blocking|synchronize|select|_try_wait|sleep|poll|get \(queue|_worker \(concurrent", re.I
)
COMPILE = (
    "convert_frame",
    "compile_fx",
    "compile_worker",
    "symbolic_convert",
    "_inductor/codecache",
)  # compiling, not running compiled code


def role_of(frames: list[str]) -> str:
    joined = ";".join(frames)
    if any(marker in joined for marker in COMPILE):
        return "compile"
    for role, markers in ROLES:
        if any(marker in joined for marker in markers):
            return role
    return "other: " + (frames[1] if len(frames) > 1 else frames[0]).split(" (")[0]


def parse(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        head, _, count = line.rpartition(" ")
        if head and count.isdigit():
            stacks.append((head.split(";"), int(count)))
    return stacks


def summarise(stacks: list[tuple[list[str], int]], top: int) -> str:
    by_role: dict[str, Counter] = defaultdict(Counter)
    waiting: Counter = Counter()
    for frames, count in stacks:
        role = role_of(frames)
        leaf = frames[-1]
        by_role[role][leaf] += count
        if WAITING.search(leaf):
            waiting[role] += count
    total = sum(count for _, count in stacks)
    lines = [f"samples {total}"]
    for role, leaves in sorted(by_role.items(), key=lambda item: -sum(item[1].values())):
        samples = sum(leaves.values())
        lines.append(
            f"\n== {role}: {samples} samples ({samples / total:.0%}), waiting {waiting[role] / samples:.0%}"
        )
        lines += [f"  {count:>7}  {leaf[:110]}" for leaf, count in leaves.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=6)
    args = parser.parse_args()
    print(summarise(parse(args.profile), args.top))


if __name__ == "__main__":
    main()
