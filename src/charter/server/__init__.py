"""The HTTP server: OpenAI-compatible API, native API and web UI (``charter serve``)."""
