"""The services' tests drive both edges: the CLI runner and the served app."""

from tests.cli.conftest import cli  # noqa: F401 - a fixture, registered by import
