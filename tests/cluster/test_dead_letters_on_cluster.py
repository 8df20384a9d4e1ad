"""tests/integration/test_dead_letters.py on the Redis Cluster (see this folder's conftest)."""

from test_dead_letters import *  # noqa: F403
