"""The ipywidgets apps: composed search and reranking, and the compare view, with the work behind each."""
