"""Inspect: look at what a collection holds.

:mod:`.summary` reads summaries, embeddings, near-duplicates and score distributions from the store;
:mod:`.plots` draws them (thumbnails, failures, a 2-D embedding map, duplicates, score histograms).
"""

from mmrag_lab.inspection.plots import (
    plot_embedding_map,
    plot_failures,
    plot_near_duplicates,
    plot_score_distribution,
    plot_thumbnails,
)
from mmrag_lab.inspection.summary import (
    CollectionSummary,
    DuplicatePair,
    Embeddings,
    collection_summary,
    load_embeddings,
    near_duplicates,
    project_2d,
    query_scores,
    query_vector,
    sample_paths,
)

__all__ = [
    "CollectionSummary",
    "DuplicatePair",
    "Embeddings",
    "collection_summary",
    "load_embeddings",
    "near_duplicates",
    "plot_embedding_map",
    "plot_failures",
    "plot_near_duplicates",
    "plot_score_distribution",
    "plot_thumbnails",
    "project_2d",
    "query_scores",
    "query_vector",
    "sample_paths",
]
