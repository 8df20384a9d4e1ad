#!/bin/sh
# Used by the Dockerfile. `deps PYPROJECT`: floq's dependencies and its dask and dashboard extras;
# `floq SRC`: floq itself, without dependencies. From /wheelhouse alone when it holds wheels,
# else from the package index.
set -eu
what=$1 where=$2
set --
if ls /wheelhouse/*.whl >/dev/null 2>&1; then
    set -- --no-index --find-links /wheelhouse
fi
case "$what" in
deps)
    python3 - "$where" >/tmp/requirements.txt <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
extras = project["optional-dependencies"]
print("\n".join(project["dependencies"] + extras["dask"] + extras["dashboard"]))
PY
    pip install -q "$@" -r /tmp/requirements.txt
    rm /tmp/requirements.txt ;;
floq)
    pip install -q "$@" --no-deps "$where" ;;
*)
    echo "usage: floq-pip-install deps PYPROJECT | floq SRC" >&2; exit 2 ;;
esac
