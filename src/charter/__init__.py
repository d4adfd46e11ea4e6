"""Charter: a self-hosted, governed generative-AI assistant."""

__version__ = "0.1.0"
