"""The benches' tests reuse the served app of the server tests."""

from tests.server.conftest import served  # noqa: F401 - a fixture, registered by import
