"""``mmrag ingest IMAGES_DIR``: embed a folder of images into Milvus; safe to re-run, resumes after a crash."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from mmrag_lab import checks
from mmrag_lab.cli.engine_options import add_engine, ray_options
from mmrag_lab.cli.options import add_encoder, add_store

if TYPE_CHECKING:
    from mmrag_lab.ingestion.options import IngestOptions


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "ingest",
        help="sync a folder of images into a Milvus collection (idempotent, resumable)",
        description=(
            "Bring the collection in line with IMAGES_DIR: one row per image file. New files are encoded, "
            "files whose bytes changed are re-encoded, renamed files and identical copies reuse the stored "
            "vector, changed --metadata updates rows in place, and --prune removes rows of gone files. "
            "Re-running is cheap and never duplicates a row; after a crash, run the same command again to "
            "resume. Exit status 0 means the job ran (bad files are listed in the report); non-zero means it "
            "could not run."
        ),
    )
    parser.add_argument("images_dir", metavar="IMAGES_DIR", help="folder searched recursively for images")
    parser.add_argument(
        "--metadata",
        metavar="FILE",
        help="CSV or JSON Lines sidecar keyed by file name; files it does not list keep their metadata, "
        "lines it cannot use are named in the report",
    )
    parser.add_argument(
        "--replace-metadata",
        action="store_true",
        help="with --metadata: files the sidecar does not list lose their metadata (the sidecar is all of it)",
    )
    parser.add_argument(
        "--text-fields",
        metavar="COLUMNS",
        help="sidecar columns (e.g. title,caption) joined into an analysed text field with BM25, for "
        "search --keywords (Milvus Lite or a server >= 2.5)",
    )
    pruning = parser.add_mutually_exclusive_group()
    pruning.add_argument(
        "--prune", action="store_true", help="delete this folder's rows whose files are gone (at most half)"
    )
    pruning.add_argument(
        "--prune-all",
        dest="prune",
        action="store_const",
        const="all",
        help="like --prune, even when more than half of the folder's rows would go (an emptied folder)",
    )
    parser.add_argument("--report", metavar="PATH", help="write the ingest report as JSON")
    parser.add_argument("--dtype", default="auto", help="auto (fp16 on GPU, fp32 on CPU), fp32, fp16 or bf16")
    parser.add_argument("--workers", type=int, metavar="N", help="decode processes (0 = decode inline)")
    parser.add_argument("--fast-decode", action="store_true", help="reduced-scale JPEG decoding (faster)")
    decode = parser.add_mutually_exclusive_group()
    decode.add_argument("--gpu-decode", action="store_true", default=None, help="decode JPEGs on the GPU")
    decode.add_argument("--cpu-decode", dest="gpu_decode", action="store_false", help="decode on CPU workers")
    parser.add_argument(
        "--cpu-share", type=float, default=0.0, metavar="F", help="with --gpu-decode: CPU share"
    )
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the model compiled by torch.compile (default MMRAG_COMPILE=auto: on CUDA for large jobs)",
    )
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="ingest only the I-th of N deterministic parts: for a batch system's job array (a Slurm array) "
        "without Ray; with Ray, use --engine ray --ray-address instead",
    )
    add_engine(parser)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_store(parser)
    add_encoder(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mmrag_lab.cli import config_from_args

    config = config_from_args(args)
    if args.workers is not None:
        checks.whole_number("--workers", args.workers, low=0, high=256)
    checks.fraction("--cpu-share", args.cpu_share)
    engine, options = ray_options(args)
    from mmrag_lab.ingestion.pipeline import ingest

    report = ingest(
        args.images_dir,
        config=config,
        metadata=args.metadata,
        batch_size=args.batch_size,
        prune=args.prune,
        report_path=args.report,
        progress=not args.no_progress,
        replace_metadata=args.replace_metadata,
        options=ingest_options(args),
        text_fields=args.text_fields,
        engine=engine,
        ray_options=options,
    )
    print(report.summary())
    if args.report:
        print(f"report written to {args.report}")
    return 0


def ingest_options(args: argparse.Namespace) -> IngestOptions:
    """The decode and compute options of ``mmrag ingest``'s parsed arguments."""
    from mmrag_lab.ingestion.options import IngestOptions

    return IngestOptions(
        workers=args.workers,
        fast_decode=args.fast_decode,
        gpu_decode=args.gpu_decode,
        cpu_share=args.cpu_share,
        dtype=args.dtype,
        compile=args.compile,
        shard=args.shard,
    )
