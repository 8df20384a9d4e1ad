"""The deploy files hold together: they parse, validate against their schemas, and agree with
floq's settings, key names and metric names (tests/docker runs them for real)."""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from floq.settings import Settings
from floq.store.keys import GROUP, Keys

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
DRAIN = Settings().drain_seconds
METRICS = [
    "floq_task_runs_total", "floq_task_run_duration_seconds", "floq_task_run_queue_wait_seconds",
    "floq_task_runs_in_flight", "floq_queue_depth", "floq_queue_oldest_age_seconds",
    "floq_worker_heartbeat_age_seconds",
]  # fmt: skip


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"\$\{\w+:-(\w+)\}|(\w+)", duration)
    assert match, duration
    value = match.group(1) or match.group(2)
    return float(value.removesuffix("s"))


def _kubernetes() -> dict[str, Any]:
    docs = yaml.safe_load_all((DEPLOY / "kubernetes" / "worker.yaml").read_text())
    return {doc["kind"]: doc for doc in docs}


def test_compose_file_drains_scales_and_keeps_redis_on_a_volume() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"redis", "worker", "worker-parallel", "dask-scheduler", "dask-worker", "worker-dask",
            "producer", "prometheus"} <= set(services)  # fmt: skip
    redis = services["redis"]
    assert "--appendonly" in redis["command"] and "healthcheck" in redis
    assert redis["volumes"] == ["redis-data:/data"] and "redis-data" in compose["volumes"]
    for name in ("worker", "worker-parallel", "worker-dask", "producer"):
        service = services[name]
        drain = _seconds(service["environment"]["FLOQ_DRAIN_SECONDS"])
        assert drain == DRAIN and _seconds(service["stop_grace_period"]) > drain, name
        assert service["environment"]["FLOQ_REDIS_URL"].endswith("redis://redis:6379/0}")
    assert "container_name" not in services["worker"]  # --scale worker=N
    assert services["prometheus"]["profiles"] == ["metrics"]


def test_compose_file_validates() -> None:
    plugin = (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    )
    if plugin:
        command = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        command = ["docker-compose"]
    else:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    done = subprocess.run([*command, "-f", str(REPO / "docker-compose.yml"), "config", "-q"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_kubernetes_manifests_validate_and_drain() -> None:
    resources = _kubernetes()
    for resource in resources.values():
        kubernetes_validate.validate(resource, kubernetes_validate.latest_version(), strict=True)
    drain = float(resources["ConfigMap"]["data"]["FLOQ_DRAIN_SECONDS"])
    pod = resources["Deployment"]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] > drain
    [container] = pod["containers"]
    assert {"livenessProbe", "readinessProbe", "resources"} <= set(container)


def test_keda_scales_the_deployment_on_the_queue_stream_and_group() -> None:
    scaled = yaml.safe_load((DEPLOY / "kubernetes" / "keda.yaml").read_text())
    assert scaled["apiVersion"] == "keda.sh/v1alpha1" and scaled["kind"] == "ScaledObject"
    resources = _kubernetes()
    assert scaled["spec"]["scaleTargetRef"]["name"] == resources["Deployment"]["metadata"]["name"]
    [trigger] = scaled["spec"]["triggers"]
    config = resources["ConfigMap"]["data"]
    queue_stream = Keys(config["FLOQ_NAMESPACE"]).queue(config["FLOQ_QUEUES"])
    assert trigger["type"] == "redis-streams"
    assert trigger["metadata"]["stream"] == queue_stream == "{floq}:q:default"
    assert trigger["metadata"]["consumerGroup"] == GROUP


def test_systemd_unit_restarts_on_failure_and_waits_for_the_drain() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(DEPLOY / "systemd" / "flow-worker.service")
    service = unit["Service"]
    assert service["Restart"] == "on-failure" and service["KillSignal"] == "SIGTERM"
    assert float(service["TimeoutStopSec"]) > DRAIN
    assert service["ExecStart"].endswith("flow-worker")


def test_prometheus_scrapes_the_worker_services_and_grafana_shows_every_metric() -> None:
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    [job] = prometheus["scrape_configs"]
    assert job["dns_sd_configs"][0]["port"] == 9100
    dashboard = json.loads((DEPLOY / "grafana" / "floq.json").read_text())
    queries = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    assert [name for name in METRICS if name not in queries] == []


def test_dockerfile_has_base_argument_user_stop_signal_and_health_check() -> None:
    lines = (REPO / "Dockerfile").read_text().splitlines()
    assert any(line.startswith("ARG BASE_IMAGE=python:") for line in lines)
    assert "USER floq" in lines and "STOPSIGNAL SIGTERM" in lines
    assert any(line.startswith("HEALTHCHECK") and "floq-healthcheck" in line for line in lines)
