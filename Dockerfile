# floq: one image for flow-worker, the floq CLI and apps that enqueue flows.
#
#   docker build -t floq .                               # from the package index
#   docker build -t floq --build-arg WHEELHOUSE=.wheelhouse \
#       --build-arg BASE_IMAGE=my-python:3.11 .          # offline: wheels made with `pip wheel`
#
# BASE_IMAGE: any Debian-like image with python3 (3.11+) and its venv module.
# WHEELHOUSE: a directory of the build context holding wheels of floq's dependencies (and of
# hatchling, its build backend); when it holds any, pip installs from it alone (--no-index).
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}
ARG WHEELHOUSE=deploy/docker/wheelhouse

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/floq/bin:$PATH

RUN python3 -m venv /opt/floq \
    && useradd --system --create-home --uid 10001 --shell /usr/sbin/nologin floq

# Dependencies first (a layer that changes only with pyproject.toml), then floq itself.
COPY ${WHEELHOUSE} /wheelhouse
COPY deploy/docker/pip-install.sh /usr/local/bin/floq-pip-install
COPY pyproject.toml README.md /src/
RUN floq-pip-install deps /src/pyproject.toml
COPY src /src/src
RUN floq-pip-install floq /src && rm -rf /wheelhouse /src

COPY examples /app/examples
COPY deploy/docker/entrypoint.sh /usr/local/bin/floq-entrypoint
COPY deploy/docker/healthcheck.sh /usr/local/bin/floq-healthcheck

USER floq
WORKDIR /app
# flow-worker drains on SIGTERM for FLOQ_DRAIN_SECONDS: give `docker stop -t` / the compose
# stop_grace_period / Kubernetes terminationGracePeriodSeconds a few seconds more than that.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 CMD ["floq-healthcheck"]
ENTRYPOINT ["floq-entrypoint"]
CMD ["flow-worker"]
