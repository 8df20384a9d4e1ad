"""tests/integration/test_dashboard_api.py on the Redis Cluster (see this folder's conftest)."""

from test_dashboard_api import *  # noqa: F403
