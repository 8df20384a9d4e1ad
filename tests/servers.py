"""Real Redis topologies on loopback for the tests: a 3-node Redis Cluster and a Sentinel set.

Both use Debian's ``redis-server`` and ``redis-cli`` (``.ci/run`` installs them when missing),
on free ports, in a temporary directory; each server is checked to be the one started (its
pid), since a free port may be taken between picking and binding it.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from floq.store import embedded

SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)


def _cluster_port() -> int:
    """A free port for a cluster node: Redis refuses one above 55535, since the node's cluster
    bus listens 10000 above it, and that port must be free too."""
    for _ in range(200):
        port = embedded.free_port()
        if port <= 55535 and _is_free(port + 10000):
            return port
    raise AssertionError("found no free port pair (P, P + 10000) for a cluster node")


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass(frozen=True)
class Tls:
    """A CA's certificate and a certificate with its key for 127.0.0.1 (PEM files): servers
    started with it speak TLS only (cluster bus and replication too)."""

    ca: Path
    cert: Path
    key: Path

    def config(self, port: int) -> list[str]:
        return ["port 0", f"tls-port {port}", f"tls-cert-file {self.cert}",
                f"tls-key-file {self.key}", f"tls-ca-cert-file {self.ca}", "tls-auth-clients no",
                "tls-replication yes", "tls-cluster yes"]  # fmt: skip

    def client_options(self) -> dict[str, Any]:
        return {"ssl": True, "ssl_ca_certs": str(self.ca)}


class Servers:
    """``redis-server`` processes started by a test, all stopped at the end (TLS only, with
    ``tls``)."""

    def __init__(self, root: Path, tls: Tls | None = None) -> None:
        self.root, self.tls = root, tls
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.passwords: dict[int, str | None] = {}  # by port: what `restart` checks with

    def start(self, *args: str, sentinel: bool = False, password: str | None = None) -> int:
        """A server (or a Sentinel) on a free port with ``args``; its port. ``password``: its
        default user's (and the one it gives its master, if it is a replica)."""
        auth = [f"requirepass {password}", f"masterauth {password}"] if password else []
        cluster = "cluster-enabled yes" in args
        said = ""
        for _ in range(5):
            port = _cluster_port() if cluster else embedded.free_port()
            folder = self.root / str(port)
            folder.mkdir(parents=True, exist_ok=True)
            config = folder / "redis.conf"
            listen = self.tls.config(port) if self.tls else [f"port {port}"]
            lines = [*listen, "bind 127.0.0.1", f"dir {folder}", "save ''", *args, *auth]
            config.write_text("\n".join(lines) + "\n")
            command = [SERVER, str(config), *(["--sentinel"] if sentinel else [])]
            log = (folder / "log.txt").open("wb")
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            if self._answers(port, process, password):
                self.processes[port], self.passwords[port] = process, password
                return port
            process.kill()
            process.wait(timeout=10)
            log.close()
            said = (folder / "log.txt").read_text(errors="replace")[-600:]
        raise AssertionError(f"could not start redis-server on a free port; it said:\n{said}")

    def restart(self, port: int, *, lose_data: bool = False, down_for: float = 0.0) -> None:
        """Stop the server on ``port`` (SIGTERM: an AOF server writes its file), optionally
        delete its data, wait ``down_for`` s, and start it again with the same config."""
        process = self.processes.pop(port)
        process.terminate()
        process.wait(timeout=15)
        folder = self.root / str(port)
        if lose_data:
            for path in folder.iterdir():
                if path.name not in ("redis.conf", "log.txt"):
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
        time.sleep(down_for)  # an outage of this length, on purpose
        log = (folder / "log.txt").open("ab")
        command = [SERVER, str(folder / "redis.conf")]
        started = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        answers = self._answers(port, started, self.passwords.get(port))
        assert answers, f"redis-server did not restart on port {port}"
        self.processes[port] = started

    def client(self, port: int, password: str | None = None, **options: Any) -> redis.Redis:
        """A client of the server (or Sentinel) on ``port``."""
        tls = self.tls.client_options() if self.tls else {}
        return redis.Redis("127.0.0.1", port, password=password, **tls, **options)

    def _answers(
        self, port: int, process: subprocess.Popen[bytes], password: str | None = None
    ) -> bool:
        client = self.client(port, password, socket_connect_timeout=0.5, socket_timeout=2)
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    return int(client.info("server")["process_id"]) == process.pid
                except redis.RedisError:
                    time.sleep(0.05)
            return False
        finally:
            client.close()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@contextmanager
def redis_cluster(
    root: Path, nodes: int = 3, password: str | None = None, tls: Tls | None = None
) -> Iterator[str]:
    """A Redis Cluster of ``nodes`` masters, no replicas; its ``redis+cluster://`` URL (without
    the ``password`` its default user needs, if one is given; ``rediss+cluster://`` with
    ``tls``, trusting its CA)."""
    servers = Servers(root, tls)
    try:
        config = ("cluster-enabled yes", "cluster-node-timeout 5000", "appendonly no")
        ports = [servers.start(*config, password=password) for _ in range(nodes)]
        addresses = [f"127.0.0.1:{port}" for port in ports]
        secure = ["--tls", "--cacert", str(tls.ca)] if tls else []
        create = [CLI, *secure, *(["-a", password] if password else []), "--cluster", "create",
                  *addresses, "--cluster-replicas", "0"]  # fmt: skip
        done = subprocess.run(
            [*create, "--cluster-yes"], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"redis-cli --cluster create failed:\n{done.stdout}"

        def ready() -> bool:
            client = servers.client(ports[0], password)
            try:
                return client.cluster("info")["cluster_state"] == "ok"  # type: ignore[no-any-return]
            finally:
                client.close()

        _wait(ready, 30, "the cluster to be ok")
        query = f"?ssl_ca_certs={tls.ca}" if tls else ""
        yield ("rediss" if tls else "redis") + "+cluster://" + ",".join(addresses) + query
    finally:
        servers.stop()


class SentinelSet:
    """A master, a replica and one Sentinel watching them as service ``floqmaster``."""

    SERVICE = "floqmaster"

    def __init__(self, servers: Servers, password: str | None = None) -> None:
        """``password``: the master's and the replica's default user needs it (the Sentinel
        itself needs none)."""
        self.servers, self.password = servers, password
        # min-replicas-to-write: a deposed master refuses writes at once (see floq.store.failover)
        safe = ("min-replicas-to-write 1", "min-replicas-max-lag 10")
        self.master = servers.start("appendonly no", *safe, password=password)
        self.replica = servers.start(f"replicaof 127.0.0.1 {self.master}", *safe, password=password)
        auth = (f"sentinel auth-pass {self.SERVICE} {password}",) if password else ()
        self.sentinel = servers.start(
            f"sentinel monitor {self.SERVICE} 127.0.0.1 {self.master} 1",
            f"sentinel down-after-milliseconds {self.SERVICE} 2000",
            f"sentinel failover-timeout {self.SERVICE} 10000",
            *auth,
            sentinel=True,
        )
        tls = servers.tls
        scheme, query = ("rediss", f"?ssl_ca_certs={tls.ca}") if tls else ("redis", "")
        self.url = f"{scheme}+sentinel://127.0.0.1:{self.sentinel}/{self.SERVICE}/0{query}"
        _wait(self._replica_synced, 30, "the replica to sync")
        _wait(lambda: self.master_port() == self.master, 30, "the Sentinel to see the master")

    def _replica_synced(self) -> bool:
        client = self.servers.client(self.replica, self.password)
        try:
            return client.info("replication").get("master_link_status") == "up"
        finally:
            client.close()

    def master_port(self) -> int | None:
        client = self.servers.client(self.sentinel, decode_responses=True)
        try:
            found = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.SERVICE)
            return int(found[1]) if found else None
        finally:
            client.close()

    def failover(self, timeout: float = 30) -> int:
        """``SENTINEL FAILOVER``; returns the new master's port once the Sentinel names it."""
        before = self.master_port()
        client = self.servers.client(self.sentinel)
        try:
            client.execute_command("SENTINEL", "FAILOVER", self.SERVICE)
        finally:
            client.close()
        _wait(lambda: self.master_port() not in (None, before), timeout, "the failover")
        port = self.master_port()
        assert port is not None
        return port


@contextmanager
def sentinel_set(
    root: Path, password: str | None = None, tls: Tls | None = None
) -> Iterator[SentinelSet]:
    servers = Servers(root, tls)
    try:
        yield SentinelSet(servers, password)
    finally:
        servers.stop()
