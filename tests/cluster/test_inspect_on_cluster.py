"""tests/integration/test_inspect.py on the Redis Cluster (see this folder's conftest)."""

from test_inspect import *  # noqa: F403
