"""Local task-submission overhead: floq vs. a bare thread pool vs. Prefect 3.

Each runner submits N no-op tasks and collects every result; the figure is tasks/s.
Prefect is never imported here: it runs as a child process in its own venv
(``benchmarks/.venv-prefect``, created on first use) so it never enters floq's venv.

    python benchmarks/local_overhead.py [--tasks N] [--prefect-tasks N] [--repeat R]
        [--skip-floq] [--skip-prefect] [--json PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PREFECT_VENV = HERE / ".venv-prefect"
# fastapi 0.155 dropped Body(**extra); Prefect 3's server still passes Body(min_items=1).
PREFECT_SPECS = ("prefect>=3,<4", "fastapi<0.155")
PREFECT_PROBE = "import prefect.server.api.server"  # imports fail here if the pins drift
WARMUP_TASKS = 200
Result = dict[str, Any]


def noop(i: int) -> int:
    return i


def _measure(runner: str, run: Callable[[int], list[int]], n: int, repeat: int = 1) -> Result:
    """Warm up once (untimed), then time `run(n)` `repeat` times and keep the best."""
    run(WARMUP_TASKS)
    seconds = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        got = run(n)
        seconds = min(seconds, time.perf_counter() - start)
        if got != list(range(n)):
            raise SystemExit(f"{runner}: wrong results (got {len(got)} items, expected {n})")
    return {"runner": runner, "tasks": n, "seconds": seconds, "tasks_per_s": n / seconds}


def bench_bare(n: int, repeat: int) -> Result:
    def run(count: int) -> list[int]:
        with ThreadPoolExecutor() as pool:
            futures = [pool.submit(noop, i) for i in range(count)]
            return [f.result() for f in futures]

    return _measure("ThreadPoolExecutor (bare)", run, n, repeat)


def bench_floq(n: int, repeat: int) -> Result:
    if importlib.util.find_spec("floq") is None:  # not installed: use the source tree
        sys.path.insert(0, str(HERE.parent / "src"))
    try:
        from floq import flow, task
        from floq.runners import ConcurrentTaskRunner
    except ImportError as exc:
        raise SystemExit(f"cannot import floq ({exc}); install it or pass --skip-floq") from exc

    @task
    def noop_task(i: int) -> int:
        return i

    @flow(task_runner=ConcurrentTaskRunner())
    def bench(count: int) -> list[int]:
        futures = [noop_task.submit(i) for i in range(count)]
        return [f.result() for f in futures]

    return _measure("floq ConcurrentTaskRunner", bench, n, repeat)


def prefect_child(n: int) -> None:
    """Runs inside the Prefect venv; prints one JSON line last on stdout."""
    from prefect import flow, task
    from prefect.task_runners import ThreadPoolTaskRunner

    @task
    def noop_task(i: int) -> int:
        return i

    @flow(task_runner=ThreadPoolTaskRunner())
    def bench(count: int) -> list[int]:
        futures = [noop_task.submit(i) for i in range(count)]
        return [f.result() for f in futures]

    # The untimed warm-up run also starts the ephemeral API server.
    result = _measure("Prefect 3 ThreadPoolTaskRunner", bench, n)
    print(json.dumps(result), flush=True)


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_prefect_venv() -> Path:
    python = _venv_python(PREFECT_VENV)
    if not python.exists():
        print(f"creating {PREFECT_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(PREFECT_VENV)], check=True)
    probe = subprocess.run([str(python), "-c", PREFECT_PROBE], capture_output=True)
    if probe.returncode != 0:
        print(f"installing {' '.join(PREFECT_SPECS)} into {PREFECT_VENV} ...", file=sys.stderr)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *PREFECT_SPECS], check=True)
    return python


def _prefect_env(home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=home,  # fresh profile + SQLite database, nothing shared with the user
        PREFECT_SERVER_ALLOW_EPHEMERAL_MODE="true",  # no PREFECT_API_URL: temporary local server
        PREFECT_LOGGING_LEVEL="WARNING",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
        PREFECT_CLI_PROMPT="false",
        DO_NOT_TRACK="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def bench_prefect(n: int) -> Result:
    python = ensure_prefect_venv()
    with tempfile.TemporaryDirectory(prefix="floq-bench-prefect-") as home:
        proc = subprocess.run(
            [str(python), str(Path(__file__).resolve()), "--prefect-child", str(n)],
            env=_prefect_env(home),
            capture_output=True,  # the ephemeral server logs shutdown noise on stderr
            text=True,
            check=False,
        )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0 or not lines:
        output = (proc.stdout + proc.stderr)[-5000:]
        raise SystemExit(f"prefect child failed (exit {proc.returncode}):\n{output}")
    result: Result = json.loads(lines[-1])
    return result


def _ratio(a: Result | None, b: Result | None) -> float | None:
    return a["tasks_per_s"] / b["tasks_per_s"] if a and b else None


def report(results: dict[str, Result | None]) -> dict[str, float | None]:
    print(f"\n{'runner':<32} {'tasks':>8} {'seconds':>9} {'tasks/s':>11}")
    for res in results.values():
        if res:
            row = f"{res['runner']:<32} {res['tasks']:>8} {res['seconds']:>9.3f}"
            print(f"{row} {res['tasks_per_s']:>11,.0f}")
    floq = results["floq"]
    ratios = {
        "floq/prefect": _ratio(floq, results["prefect"]),
        "floq/bare": _ratio(floq, results["bare"]),
    }
    targets = {"floq/prefect": 100.0, "floq/bare": 1 / 3}
    print()
    for name, value in ratios.items():
        if value is None:
            print(f"{name:<13} n/a")
        else:
            verdict = "met" if value >= targets[name] else "MISSED"
            print(f"{name:<13} {value:10.3f}x   (target >= {targets[name]:.3g}x: {verdict})")
    return ratios


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--tasks", type=int, default=10_000, help="tasks for floq and bare")
    p.add_argument("--prefect-tasks", type=int, default=10_000, help="tasks for Prefect")
    p.add_argument("--repeat", type=int, default=1, help="floq/bare runs, best kept")
    p.add_argument("--skip-prefect", action="store_true", help="do not run Prefect")
    p.add_argument("--skip-floq", action="store_true", help="do not run floq")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    p.add_argument("--prefect-child", type=int, metavar="N", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.prefect_child is not None:
        prefect_child(args.prefect_child)
        return 0
    results: dict[str, Result | None] = {"floq": None, "bare": None, "prefect": None}
    if not args.skip_floq:
        results["floq"] = bench_floq(args.tasks, args.repeat)
    results["bare"] = bench_bare(args.tasks, args.repeat)
    if not args.skip_prefect:
        results["prefect"] = bench_prefect(args.prefect_tasks)
    ratios = report(results)
    if args.json:
        machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
        payload = {"machine": machine, "results": results, "ratios": ratios}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
