#!/bin/sh
# The image's HEALTHCHECK: the server answers, and in a flow-worker's container, that worker's
# heartbeat is fresh (its name is the one the entrypoint gave it).
if [ -f /tmp/floq-worker-name ]; then
    exec floq health --worker "$(cat /tmp/floq-worker-name)"
fi
exec floq health
