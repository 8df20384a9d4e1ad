"""The docker tests' fixtures: an engine, floq's image, and one compose project for the
module (Redis, three concurrent-mode workers and the producer, on the host's network).

Where no Docker engine can be had the tests skip, saying why; ``FLOQ_REQUIRE_DOCKER=1``
(set by .ci/run) makes that a failure.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from compose import Compose
from docker_engine import Unavailable, base_image, build_image, docker_engine, wheelhouse


def _say(config: pytest.Config, line: str) -> None:
    """Write a line to the terminal, past pytest's capture (what the tests ran is the point)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


@pytest.fixture(scope="session")
def docker_env(pytestconfig: pytest.Config) -> Iterator[dict[str, str]]:
    """The environment of a Docker engine for the session (started here if need be)."""
    try:
        with docker_engine() as env:
            yield env
    except Unavailable as reason:
        if os.environ.get("FLOQ_REQUIRE_DOCKER") == "1":
            pytest.fail(f"FLOQ_REQUIRE_DOCKER=1 but no Docker engine: {reason}")
        pytest.skip(f"no Docker engine: {reason}")


@pytest.fixture(scope="session")
def floq_image(docker_env: dict[str, str], pytestconfig: pytest.Config) -> str:
    """floq's image, built from the repo's Dockerfile on a cached Debian base."""
    began = time.monotonic()
    try:
        base = base_image(docker_env)
        wheels = wheelhouse()
    except Unavailable as reason:
        if os.environ.get("FLOQ_REQUIRE_DOCKER") == "1":
            pytest.fail(f"FLOQ_REQUIRE_DOCKER=1 but no base image: {reason}")
        pytest.skip(str(reason))
    image = build_image(docker_env, base, wheels)
    _say(pytestconfig, f"\nimage {image} on {base} ready in {time.monotonic() - began:.0f} s")
    return image


@pytest.fixture(scope="module")
def compose(
    docker_env: dict[str, str], floq_image: str, tmp_path_factory: pytest.TempPathFactory,
    pytestconfig: pytest.Config,
) -> Iterator[Compose]:  # fmt: skip
    """Redis, three workers and the producer of docker-compose.yml, up for the module."""
    project = Compose(docker_env, floq_image, tmp_path_factory.mktemp("compose"),
                      f"floqtest{uuid.uuid4().hex[:8]}")  # fmt: skip
    try:
        project.up("redis", "worker", "producer", "dashboard")
        yield project
    finally:
        try:
            project.down()
        finally:
            _say(pytestconfig, f"project {project.name} ran: {', '.join(sorted(project.ran))}")


@pytest.fixture
def containers_ran(compose: Compose, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Prints, after the test, the containers that were running during it and its notes."""
    before = set(compose.containers())
    compose.notes.clear()
    yield compose
    during = before | set(compose.containers())
    compose.ran.update(during)
    lines = [f"\n{request.node.name} ran containers: {', '.join(sorted(during))}", *compose.notes]
    _say(request.config, "\n    ".join(lines))
