"""Rerank: a multimodal LLM reorders search hits and explains its choice.

:func:`rerank` (in :mod:`.reranker`) draws the :mod:`.panorama` the model sees, builds the :mod:`.prompt`,
calls any OpenAI-compatible endpoint through :mod:`.llm`, keeps replies in a :mod:`.cache`, and turns the
reply into a validated :class:`RerankResult` (:mod:`.parse`, :mod:`.result`), falling back to the
retrieval order with a reason when the reply is unusable.
"""

from mmrag_lab.reranking.panorama import PanoramaOptions
from mmrag_lab.reranking.reranker import rerank, rerank_many
from mmrag_lab.reranking.result import RerankResult

__all__ = ["PanoramaOptions", "RerankResult", "rerank", "rerank_many"]
