"""tests/integration/test_reliability.py on the Redis Cluster (see this folder's conftest)."""

from test_reliability import *  # noqa: F403
