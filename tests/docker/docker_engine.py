"""A Docker engine, a base image and floq's image for the docker tests, cached between runs.

- Engine: the one that answers (``DOCKER_HOST`` or the default socket); else, as root with
  ``dockerd`` installed, one this session starts with no bridge and no iptables rules (every
  test container uses the host's network), its data root under the cache so that images
  survive the session.
- Base image: ``FLOQ_DOCKER_BASE_IMAGE`` if set, else Debian bookworm made by ``debootstrap``
  (minbase, python3, python3-venv, ca-certificates) and imported; its root tarball is cached.
- Wheelhouse: ``pip wheel`` of floq's dependencies on this machine (pip inside a build cannot
  verify TLS here), cached per content of pyproject.toml.
- Image: ``docker build --network host`` of the repo's Dockerfile from a context of the files
  it needs, with ``--build-arg BASE_IMAGE`` and ``WHEELHOUSE``.

Anything that cannot be had raises :class:`Unavailable` with the reason (the fixture skips,
or fails under ``FLOQ_REQUIRE_DOCKER=1``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("FLOQ_DOCKER_CACHE", Path.home() / ".cache" / "floq-docker"))
BASE_TAG = "floq-test-base:bookworm"
IMAGE_TAG = "floq-test:latest"
CONTEXT_FILES = ["Dockerfile", "pyproject.toml", "README.md", "src", "examples", "deploy/docker"]


class Unavailable(Exception):
    """No Docker engine, base image or image can be had here; the message says why."""


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    """Run a command to its end; its stdout. A failure raises with its output."""
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        output = done.stdout + done.stderr
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}:\n{output}")
    return done.stdout


def _answers(env: dict[str, str]) -> bool:
    try:
        run("docker", "version", "--format", "{{.Server.Version}}", env=env, timeout=20)
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        return False
    return True


@contextlib.contextmanager
def docker_engine() -> Iterator[dict[str, str]]:
    """The environment (``DOCKER_HOST``) of a Docker engine that answers, for the session."""
    if shutil.which("docker") is None:
        raise Unavailable("no docker command (apt-get install docker.io)")
    env = dict(os.environ)
    if _answers(env):
        yield env
        return
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        raise Unavailable("no Docker engine answers, and no dockerd to start as root")
    with _own_dockerd() as host:
        yield {**env, "DOCKER_HOST": host}


@contextlib.contextmanager
def _own_dockerd() -> Iterator[str]:
    data_root, run_dir = CACHE / "data-root", Path(tempfile.mkdtemp(prefix="floq-dockerd-"))
    data_root.mkdir(parents=True, exist_ok=True)
    host = f"unix://{run_dir}/docker.sock"
    log = (CACHE / "dockerd.log").open("wb")
    daemon = subprocess.Popen(
        ["dockerd", "--bridge=none", "--iptables=false", "--ip-forward=false", "--ip-masq=false",
         "--data-root", str(data_root), "--exec-root", f"{run_dir}/exec",
         "--pidfile", f"{run_dir}/docker.pid", "-H", host],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        env = {**os.environ, "DOCKER_HOST": host}
        _wait_for_engine(daemon, env)
        _clear_leftovers(env)
        yield host
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(timeout=10)
        log.close()
        _unmount_under(run_dir)  # dockerd leaves its network namespace mounted
        shutil.rmtree(run_dir, ignore_errors=True)


def _clear_leftovers(env: dict[str, str]) -> None:
    """Remove what a session that died left in the cached data root: its containers would
    otherwise start again with the engine, on the host's network."""
    left = run("docker", "ps", "-aq", env=env).split()
    if left:
        run("docker", "rm", "-f", *left, env=env)
    run("docker", "volume", "prune", "-f", env=env)


def _unmount_under(folder: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for point in sorted((m for m in mounts if m.startswith(f"{folder}/")), reverse=True):
        subprocess.run(["umount", point], capture_output=True, timeout=30)


def _wait_for_engine(daemon: subprocess.Popen[bytes], env: dict[str, str]) -> None:
    deadline = time.monotonic() + 60
    while not _answers(env):
        if daemon.poll() is not None:
            tail = (CACHE / "dockerd.log").read_text()[-2000:]
            raise Unavailable(f"dockerd exited {daemon.returncode}: {tail}")
        if time.monotonic() > deadline:
            raise Unavailable("dockerd did not answer within 60 s")
        time.sleep(0.2)


def base_image(env: dict[str, str]) -> str:
    """A Debian image with python3 and its venv module, in the engine."""
    given = os.environ.get("FLOQ_DOCKER_BASE_IMAGE")
    if given:
        return given
    if subprocess.run(["docker", "image", "inspect", BASE_TAG], env=env,
                      capture_output=True).returncode == 0:  # fmt: skip
        return BASE_TAG
    tarball = CACHE / "base-bookworm.tar"
    if not tarball.exists():
        _debootstrap(tarball)
    with tarball.open("rb") as source:
        done = subprocess.run(["docker", "import", "-", BASE_TAG], env=env, stdin=source,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"docker import failed: {done.stderr}")
    return BASE_TAG


def _debootstrap(tarball: Path) -> None:
    if shutil.which("debootstrap") is None or os.geteuid() != 0:
        raise Unavailable("no base image: debootstrap (as root) is needed to make one")
    with tempfile.TemporaryDirectory(prefix="floq-rootfs-") as root:
        run("debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
            "bookworm", root, "http://deb.debian.org/debian", timeout=900)  # fmt: skip
        partial = tarball.with_suffix(".partial")
        run("tar", "-C", root, "-cf", str(partial), ".", timeout=300)
        partial.rename(tarball)


def wheelhouse() -> Path:
    """Wheels of floq's dependencies (dask and dashboard extras), hatchling and async-timeout
    (which Debian's Python 3.11.2 needs for redis), made on this machine once per
    pyproject.toml."""
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()[:12]
    folder = CACHE / f"wheelhouse-{digest}"
    if folder.exists():
        return folder
    partial = Path(tempfile.mkdtemp(prefix="partial-wheels-", dir=CACHE))
    run(sys.executable, "-m", "pip", "wheel", "-q", "-w", str(partial), f"{REPO}[dask,dashboard]",
        "hatchling", "async-timeout", timeout=600)  # fmt: skip
    for own in partial.glob("floq-*.whl"):
        own.unlink()  # floq itself is built from the sources in the image
    for older in CACHE.glob("wheelhouse-*"):
        shutil.rmtree(older, ignore_errors=True)  # of an earlier pyproject.toml
    partial.rename(folder)
    return folder


def build_image(env: dict[str, str], base: str, wheels: Path) -> str:
    """floq's image from the repo's Dockerfile, tagged IMAGE_TAG."""
    with tempfile.TemporaryDirectory(prefix="floq-context-") as context:
        for name in CONTEXT_FILES:
            source, target = REPO / name, Path(context) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, target)
        shutil.copytree(wheels, Path(context) / ".wheelhouse", copy_function=_link_or_copy)
        run("docker", "build", "-q", "--network", "host", "-t", IMAGE_TAG,
            "--build-arg", f"BASE_IMAGE={base}", "--build-arg", "WHEELHOUSE=.wheelhouse",
            context, env=env, timeout=600)  # fmt: skip
    run("docker", "image", "prune", "-f", env=env)  # earlier builds' layers
    return IMAGE_TAG


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
