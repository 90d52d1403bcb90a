"""mmrag_lab: a Jupyter workbench for multimodal RAG with Milvus."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from mmrag_lab.config import Config
from mmrag_lab.errors import MmragError

__version__ = "0.1.0"

# Public names, imported on first use so that `import mmrag_lab` stays fast and loads no model.
_LAZY = {
    "load_encoder": "mmrag_lab.encoders",
    "ingest": "mmrag_lab.ingestion",
    "IngestOptions": "mmrag_lab.ingestion",
    "Store": "mmrag_lab.store",
    "search": "mmrag_lab.retrieval",
    "rerank": "mmrag_lab.reranking",
    "rerank_many": "mmrag_lab.reranking",
    "PanoramaOptions": "mmrag_lab.reranking",
    "evaluate": "mmrag_lab.evaluation",
    "compare": "mmrag_lab.evaluation",
    "EvalProtocol": "mmrag_lab.evaluation",
    "collection_summary": "mmrag_lab.inspection",
    "sample_dir": "mmrag_lab.workbench.runtime.sample",
}

__all__ = ["Config", "MmragError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mmrag_lab' has no attribute {name!r}")
