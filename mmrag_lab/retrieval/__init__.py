"""Search: a composed, image-only or text-only query becomes ranked hits.

:func:`search` (in :mod:`.query`) encodes the query, builds the filter and asks the store; :mod:`.results`
holds the typed hits (:class:`SearchResults`, :class:`Hit`).
"""

from mmrag_lab.retrieval.query import search
from mmrag_lab.retrieval.results import Hit, SearchQuery, SearchResults

__all__ = ["Hit", "SearchQuery", "SearchResults", "search"]
