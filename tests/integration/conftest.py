"""The integration tests' fixtures: :mod:`integration_fixtures` (shared with tests/cluster)."""

from integration_fixtures import *  # noqa: F403

from netns import hosts  # noqa: F401  (network-namespace hosts, a fixture)
