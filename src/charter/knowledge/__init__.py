"""Grounding: documents, retrieval and citations."""
