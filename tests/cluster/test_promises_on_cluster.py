"""tests/integration/test_promises.py on the Redis Cluster (see this folder's conftest)."""

from test_promises import *  # noqa: F403
