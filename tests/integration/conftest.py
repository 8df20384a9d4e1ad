"""The integration tests' fixtures: :mod:`integration_fixtures` (shared with tests/cluster)."""

from integration_fixtures import *  # noqa: F403
