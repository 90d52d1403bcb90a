"""Running an evaluation: the retrieval stage, ranking, the reranker A/B, metrics and costs."""
