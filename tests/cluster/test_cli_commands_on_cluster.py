"""tests/integration/test_cli_commands.py on the Redis Cluster (see this folder's conftest)."""

from test_cli_commands import *  # noqa: F403
