"""Fixtures of the browser tests: Debian's chromium driven by Playwright (one browser per
module), real ``floq dashboard`` processes on free ports, and a folder of screenshots.

Playwright's own browser download does not work on these machines: the tests launch
``/usr/bin/chromium`` (``apt-get install -y chromium``; ``.ci/run`` does it) by its path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
sys.path.insert(0, str(INTEGRATION))  # enqueued_flows, integration_helpers

from floq.store import embedded  # noqa: E402
from proctree import terminate_all  # noqa: E402

CHROMIUM = os.environ.get("FLOQ_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
FLOQ_CLI = [sys.executable, "-c", "from floq.cli import floq_cli; floq_cli()"]
START_WAIT = 30.0
_SHOTS: list[Path] = []


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the tests write a screenshot of each page to (printed at the end)."""
    folder = Path(os.environ.get("FLOQ_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    _SHOTS.append(folder)
    print(f"\ndashboard screenshots: {folder}")
    return folder


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for folder in _SHOTS:
        terminalreporter.write_line(f"dashboard screenshots: {folder}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium for the module."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no chromium at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page for the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


class Dashboards:
    """``floq dashboard`` processes on the test's server and namespace; stopped at the end."""

    def __init__(self, url: str, namespace: str, log_dir: Path) -> None:
        self.url, self.namespace, self.log_dir = url, namespace, log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, token: str | None = None) -> str:
        """A dashboard (with ``token``, or read-only); its base URL once it answers."""
        port = embedded.free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOQ_")}
        args = [*FLOQ_CLI, "dashboard", "--redis", self.url, "--namespace", self.namespace,
                "--port", str(port)]  # fmt: skip
        if token:
            args += ["--token", token]
        log = (self.log_dir / f"dashboard-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_WAIT
        while not _answers(f"{base}/api/workers"):
            assert process.poll() is None, f"the dashboard exited: {self.logs()}"
            assert time.monotonic() < deadline, f"the dashboard did not answer: {self.logs()}"
            time.sleep(0.05)
        return base

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.log_dir.glob("dashboard-*.log")))

    def stop(self) -> None:
        terminate_all(self.processes)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture
def dashboards(redis_url: str, namespace: str, tmp_path: Path) -> Iterator[Dashboards]:
    pool = Dashboards(redis_url, namespace, tmp_path)
    yield pool
    pool.stop()


@pytest.fixture
def shoot(screenshots: Path) -> Callable[[Any, str], None]:
    """``shoot(page, "runs")`` writes ``runs.png`` of the whole page to the folder."""

    def take(page: Any, name: str) -> None:
        page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)

    return take
