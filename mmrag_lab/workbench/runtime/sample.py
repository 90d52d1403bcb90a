"""The bundled sample: 40 CC0 clothing photos with a metadata sidecar (see ``sample/README.md``)."""

from __future__ import annotations

from pathlib import Path

SAMPLE_ROOT = Path(__file__).resolve().parents[2] / "sample"


def sample_dir() -> Path:
    """The folder of sample images (``images/<class>/<name>.jpg``), ready for ``ingest``."""
    return SAMPLE_ROOT / "images"


def sample_metadata() -> Path:
    """The sample's sidecar: ``metadata.csv`` with ``file``, ``category`` and ``title`` columns."""
    return SAMPLE_ROOT / "metadata.csv"
