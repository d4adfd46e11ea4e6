"""Strategies: how a routed request is answered (one call, agents, parallel drafts)."""
