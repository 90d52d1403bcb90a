"""How ingest decodes and computes: workers, decoding, precision, compilation and sharding, in one value.

``ingest(folder, options=IngestOptions(workers=0, gpu_decode=True))``. These knobs change how fast a folder
is ingested (and, for ``fast_decode`` and ``dtype``, the vectors slightly), never which rows are stored.
``mmrag ingest`` builds one from its options (:func:`mmrag_lab.cli.ingest.run`). Each value is checked
when the options are made.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmrag_lab import argtypes, checks
from mmrag_lab.errors import ConfigError
from mmrag_lab.ingestion.scan import parse_shard

MAX_WORKERS = 256
DTYPES = ("auto", "fp32", "float32", "fp16", "float16", "bf16", "bfloat16")


@dataclass(frozen=True)
class IngestOptions:
    """Decode and compute settings of one ingest; the defaults suit a CPU laptop and a GPU alike.

    Attributes:
        workers: Decode/preprocess processes (``--workers``); None =
            :func:`mmrag_lab.ingestion.cpu_mapper.default_workers`; 0 decodes inline.
        fast_decode: Let JPEGs decode at a reduced scale (``--fast-decode``): about 2x faster decoding,
            slightly different pixels than a full decode.
        gpu_decode: Decode and preprocess JPEGs on the GPU (``--gpu-decode``, :mod:`.gpu_mapper`). Opt-in:
            None, like False, decodes on CPU workers (see :mod:`.gpu_mapper` for why).
        cpu_share: With GPU decoding, the fraction of the files decoded by CPU workers instead (``--cpu-share``).
        dtype: Encoder precision when ``ingest`` loads the encoder (``--dtype``): ``auto`` (fp16 on a GPU,
            fp32 on a CPU), ``fp32``, ``fp16`` or ``bf16``. bf16 on a CPU with AVX512-BF16 is about twice as
            fast as fp32; its vectors differ slightly from fp32 ones.
        compile: Run the model compiled by ``torch.compile`` (``--compile``; eager, said in one line, where
            that fails); None = ``Config.compile`` (``MMRAG_COMPILE``), whose ``auto`` compiles on CUDA for
            jobs of at least :data:`~mmrag_lab.ingestion.encode_loop.COMPILE_MIN_IMAGES` images.
        shard: ``"I/N"`` or ``(I, N)`` (``--shard``): ingest only the deterministic I-th of N parts of the
            folder, so that N processes or machines can share one folder and one collection (see
            docs/features.md). Not with ``prune``.

    Raises:
        ConfigError: A value is of the wrong type or out of range.
    """

    workers: int | None = None
    fast_decode: bool = False
    gpu_decode: bool | None = None
    cpu_share: float = 0.0
    dtype: str = "auto"
    compile: bool | None = None
    shard: str | tuple[int, int] | None = None

    def __post_init__(self) -> None:
        argtypes.flag("fast_decode", self.fast_decode)
        argtypes.flag("gpu_decode", self.gpu_decode, optional=True)
        argtypes.flag("compile", self.compile, optional=True)
        if self.workers is not None:
            checks.whole_number("workers (--workers)", self.workers, low=0, high=MAX_WORKERS)
        checks.fraction("cpu_share (--cpu-share)", self.cpu_share)
        if not isinstance(self.dtype, str) or self.dtype.lower() not in DTYPES:
            raise ConfigError(f"dtype (--dtype) must be one of {', '.join(DTYPES)}, got {self.dtype!r}.")
        _ = self.part

    @property
    def part(self) -> tuple[int, int] | None:
        """``shard`` as ``(I, N)``, or None for the whole folder."""
        shard = self.shard
        if shard is None:
            return None
        if isinstance(shard, str):
            text = shard
        elif isinstance(shard, tuple) and len(shard) == 2 and all(type(n) is int for n in shard):
            text = f"{shard[0]}/{shard[1]}"
        else:
            raise ConfigError(f"Bad shard: give 'I/N' or a pair (I, N) of whole numbers, got {shard!r}.")
        try:
            return parse_shard(text)
        except ValueError as exc:
            raise ConfigError(f"Bad shard: {exc}.") from None
