"""The types of :func:`mmrag_lab.evaluate`'s arguments, checked before a query is read or a model loads.

``evaluate(5)``, ``ks="x"``, ``loader_options="split=val"`` or ``encoder="tiny"`` is one
:class:`~mmrag_lab.errors.ConfigError` naming the argument (see :mod:`mmrag_lab.argtypes`), never a
``TypeError`` from deep inside the loaders.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mmrag_lab import argtypes, checks
from mmrag_lab.config import Config
from mmrag_lab.encoders.base import Encoder
from mmrag_lab.errors import ConfigError
from mmrag_lab.evaluation.inputs.protocol import EvalProtocol
from mmrag_lab.evaluation.inputs.querysets import Query
from mmrag_lab.store.vector_store import Store

FLAGS = ("rerank", "ann", "cirr_soft", "submission", "progress")
SETS_OF_K = ("ks", "map_ks", "subset_ks")
EXAMPLES = {"loader_options": "{'split': 'val'}", "prices": "{'input_per_1m': 2.5, 'output_per_1m': 10.0}",
            "rerank_options": "{'model': 'gpt-4o'}"}  # fmt: skip


def check_call(queries: Any, given: Mapping[str, Any]) -> None:
    """Refuse the first argument of ``evaluate`` whose type cannot work; ``given`` maps names to values."""
    if isinstance(queries, (str, bytes, os.PathLike)):
        argtypes.local_path("queries", queries)
    elif not isinstance(queries, (list, tuple)) or not all(isinstance(q, Query) for q in queries):
        raise ConfigError(
            f"queries must be a query file or folder (a path), or a list of Query; got {argtypes.given(queries)}."
        )
    argtypes.instance("config", given["config"], Config, "e.g. Config.load(...)")
    argtypes.instance("encoder", given["encoder"], Encoder, "from load_encoder(...)")
    argtypes.instance("store", given["store"], Store, "from Store.open(config)")
    argtypes.instance("protocol", given["protocol"], EvalProtocol, "e.g. EvalProtocol(ks=(1, 10))")
    given = {**given, **vars(given["protocol"] or EvalProtocol())}
    for name in ("loader_options", "prices", "rerank_options"):
        argtypes.mapping(name, given[name], EXAMPLES[name])
    for name in FLAGS:
        argtypes.flag(name, given[name])
    argtypes.flag("exclude_reference", given["exclude_reference"], optional=True)
    for name in ("kind", "missing", "ties", "query_template", "collection", "keywords_from", "fusion"):
        argtypes.text(name, given[name])
    argtypes.local_path("out_dir", given["out_dir"], optional=True, output=True)
    checks.whole_number("feedback_rounds", given["feedback_rounds"], low=0, high=100)
    checks.whole_number("feedback_k", given["feedback_k"], high=1000)
    for name in SETS_OF_K:
        values = given[name] if isinstance(given[name], (list, tuple)) else [given[name]]
        for value in values:
            checks.whole_number(f"{name} (a whole number or a list of them)", value, high=16384)
