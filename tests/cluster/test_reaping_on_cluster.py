"""tests/integration/test_reaping.py on the Redis Cluster (see this folder's conftest)."""

from test_reaping import *  # noqa: F403
