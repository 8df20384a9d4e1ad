#!/bin/sh
# The image's entrypoint. `flow-worker ...` gets a name that the container's health check
# knows: FLOQ_WORKER_NAME, else the host name and a random suffix (containers that share the
# host's network share its host name too). Anything else runs as given.
set -eu
if [ "${1:-}" = "flow-worker" ]; then
    shift
    suffix=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
    name=${FLOQ_WORKER_NAME:-$(hostname)-$suffix}
    echo "$name" >/tmp/floq-worker-name
    exec flow-worker --name "$name" "$@"
fi
exec "$@"
