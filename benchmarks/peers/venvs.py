"""One venv per peer under ``benchmarks/.venvs/<venv>`` (git-ignored), made by ``--setup``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from peers.catalog import PEERS, VENVS
from peers.common import BENCHMARKS

VENVS_DIR = BENCHMARKS / ".venvs"
INSTALL_TIMEOUT = 900.0


def python_of(peer: str) -> Path:
    """The interpreter that runs a peer's driver: its venv's, or floq's own (this one)."""
    venv = PEERS[peer].venv
    return Path(sys.executable) if venv is None else VENVS_DIR / venv / "bin" / "python"


def is_ready(venv: str) -> bool:
    python = VENVS_DIR / venv / "bin" / "python"
    if not python.exists():
        return False
    probe = subprocess.run([str(python), "-c", VENVS[venv][1]], capture_output=True, timeout=120)
    return probe.returncode == 0


def missing(peers: list[str]) -> list[str]:
    """The venvs that these peers need and that do not exist yet (a cheap check)."""
    wanted = {v for p in peers if (v := PEERS[p].venv)}
    return sorted(v for v in wanted if not (VENVS_DIR / v / "bin" / "python").exists())


def setup(peers: list[str], *, force: bool = False) -> None:
    """Create (or repair) the venvs these peers need; floq uses this interpreter."""
    if PEERS["floq"].name in peers:
        try:
            from floq.runners import RedisTaskRunner  # noqa: F401
        except ImportError as error:
            print(f"note: floq's RedisTaskRunner is not importable here yet ({error})")
    for venv in sorted({v for p in peers if (v := PEERS[p].venv)}):
        path = VENVS_DIR / venv
        if force and path.exists():
            shutil.rmtree(path)
        if not force and is_ready(venv):
            print(f"{path}: ready")
            continue
        specs = VENVS[venv][0]
        print(f"{path}: installing {' '.join(specs)}", flush=True)
        _run([sys.executable, "-m", "venv", "--clear", str(path)])
        _run([str(path / "bin" / "python"), "-m", "pip", "install", "-q", *specs])
        if not is_ready(venv):
            raise SystemExit(f"{path}: `{VENVS[venv][1]}` fails after the install")
        print(f"{path}: ready")


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, timeout=INSTALL_TIMEOUT)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(argv)}")
