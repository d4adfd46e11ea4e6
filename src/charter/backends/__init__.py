"""Model backends: chat models and embedders behind two Protocols (see base.py)."""
