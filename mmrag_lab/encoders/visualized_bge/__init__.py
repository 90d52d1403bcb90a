"""Visualized BGE: the EVA02-CLIP vision tower spliced into a BGE text encoder, its encoder and its family."""
