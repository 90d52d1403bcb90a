"""Ingest: a folder of images becomes rows in the store.

The pipeline, one module a step: :mod:`.scan` lists image files and hashes them, :mod:`.plan` compares
them with what is stored, and :mod:`.encode_loop` encodes what is new in one loop of three roles: the
:mod:`.reader` (files → checked bytes), a mapper (bytes → pixels: :mod:`.cpu_mapper` in worker processes or
:mod:`.gpu_mapper` on the GPU) and the :mod:`.writer` (vectors → rows). :mod:`.sidecar` reads per-file
metadata and :mod:`.report` counts what happened. :func:`ingest` (in :mod:`.pipeline`) runs them, each phase
handing a value (:mod:`.phases`) to the next; :class:`IngestOptions` (:mod:`.options`) says how to decode and
compute.
"""

from mmrag_lab.ingestion.options import IngestOptions
from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.ingestion.report import IngestReport

__all__ = ["IngestOptions", "IngestReport", "ingest"]
