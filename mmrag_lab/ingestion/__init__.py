"""Ingest: a folder of images becomes rows in the store.

The pipeline, one module a step: :mod:`.scan` lists image files and hashes them, :mod:`.plan` compares
them with what is stored, :mod:`.prepare` decodes and transforms pixels in worker processes, :mod:`.embed`
runs the encoder in batches and hands vectors to :mod:`.writer`, which writes rows. :mod:`.sidecar` reads
per-file metadata and :mod:`.report` counts what happened. :func:`ingest` (in :mod:`.pipeline`) runs them.
"""

from mmrag_lab.ingestion.pipeline import ingest
from mmrag_lab.ingestion.report import IngestReport

__all__ = ["IngestReport", "ingest"]
