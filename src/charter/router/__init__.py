"""Routing: which model alias serves a request, and why."""
