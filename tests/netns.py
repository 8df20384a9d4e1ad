"""Hosts without Docker for the tests: network namespaces joined by veth pairs to a bridge.

Addresses come from 198.51.100.0/24 (a documentation range) and no namespace has a route out,
so nothing leaves the machine. Needs root, as on this project's machines and in CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from floq.store import embedded

WAIT = 30.0
SUBNET = "198.51.100"
HOSTS = {"redis": 1, "w1": 2, "w2": 3, "app": 4}
PORT = 6399


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


class Hosts:
    """Network namespaces on one bridge; ``run`` starts a command on a host."""

    def __init__(self) -> None:
        self.tag = os.urandom(3).hex()
        self.hub = f"floq-{self.tag}-hub"
        self.made: list[str] = []
        self.processes: list[subprocess.Popen[str]] = []

    def ns(self, host: str) -> str:
        return f"floq-{self.tag}-{host}"

    def create(self) -> None:
        ip("netns", "add", self.hub)
        self.made.append(self.hub)
        ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        ip("-n", self.hub, "link", "set", "br0", "up")
        for host, number in HOSTS.items():
            ns, inner, outer = self.ns(host), f"f{self.tag}{number}a", f"f{self.tag}{number}b"
            ip("netns", "add", ns)
            self.made.append(ns)
            ip("link", "add", inner, "type", "veth", "peer", "name", outer)
            ip("link", "set", inner, "netns", ns)
            ip("link", "set", outer, "netns", self.hub)
            ip("-n", self.hub, "link", "set", outer, "master", "br0", "up")
            ip("-n", ns, "addr", "add", f"{SUBNET}.{number}/24", "dev", inner)
            ip("-n", ns, "link", "set", inner, "up")
            ip("-n", ns, "link", "set", "lo", "up")

    def run(self, host: str, argv: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        """Start ``argv`` on ``host``; it is killed when the hosts are removed."""
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(host), *argv], text=True, **kwargs
        )
        self.processes.append(process)
        return process

    def cut(self, host: str) -> None:
        """Take ``host``'s link down: a partition (its sockets stay open, packets are lost)."""
        ip("-n", self.ns(host), "link", "set", self.link(host), "down")

    def heal(self, host: str) -> None:
        ip("-n", self.ns(host), "link", "set", self.link(host), "up")

    def link(self, host: str) -> str:
        return f"f{self.tag}{HOSTS[host]}a"

    def start_server(self, folder: Path) -> str:
        """A password-protected server on the redis host (off loopback, protected mode wants
        one); its URL, once the app host can reach it."""
        address = f"{SUBNET}.{HOSTS['redis']}"
        server = embedded.server_args(PORT, folder, daemonize=False)
        server = [arg if arg != "127.0.0.1" else address for arg in server]
        password = os.urandom(8).hex()
        self.run("redis", [*server, "--requirepass", password], stdout=subprocess.DEVNULL)
        url = f"redis://:{password}@{address}:{PORT}/0"
        ping = [sys.executable, "-c", f"import redis; redis.Redis.from_url({url!r}).ping()"]
        deadline = WAIT + time.monotonic()
        while self.run("app", ping, stderr=subprocess.DEVNULL).wait(timeout=10) != 0:
            assert time.monotonic() < deadline, "the server never answered"
        return url

    def remove(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    made = Hosts()
    try:
        made.create()
        yield made
    finally:
        made.remove()
