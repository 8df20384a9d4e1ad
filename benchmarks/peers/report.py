"""The table, the floq-vs-best-peer ratios and ``RESULTS.md``."""

from __future__ import annotations

import os
import platform
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Figures = dict[str, Any]


def cpu_busy(seconds: float = 2.0) -> float:
    """The share of all cores busy over `seconds` (from /proc/stat): what else is running."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(1, total1 - total0)


@dataclass
class Run:
    """Everything a report needs to know about one harness run."""

    command: str
    counts: dict[str, int]
    task_seconds: dict[str, float]  # W3: sleep per task; W4: one spin task at calibration
    spin_iterations: int
    repeat: int = 1
    rounds: int = 1
    server: str = "?"
    token: str = field(default_factory=lambda: secrets.token_hex(3))  # in every queue name
    busy_before: float = 0.0  # cpu_busy() just before the run
    w4_floor: Figures | None = None  # W4 on a bare 2-process pool, no framework
    results: dict[str, dict[str, Figures]] = field(default_factory=dict)  # peer -> w -> figures
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    load: str = field(default_factory=lambda: ", ".join(f"{x:.2f}" for x in os.getloadavg()))


@dataclass(frozen=True)
class Metric:
    workload: str
    key: str
    title: str
    higher_is_better: bool
    fmt: Callable[[float], str]
    compared: bool = True  # in the floq-vs-best table (W4's wall time is not: see `ideal`)


def _fmt_rate(v: float) -> str:
    return f"{v:,.0f}"


def _fmt_ms(v: float) -> str:
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def _fmt_x(v: float) -> str:
    return f"{v:.3f}"


def _fmt_s(v: float) -> str:
    return f"{v:.3f}" if v < 10 else f"{v:.2f}"


def metrics(run: Run, workloads: list[str]) -> list[Metric]:
    c, t = run.counts, run.task_seconds
    all_metrics = [
        Metric("W1", "tasks_per_s", f"W1 tasks/s ({c['W1']:,} no-ops)", True, _fmt_rate),
        Metric("W2", "p50_ms", f"W2 p50 ms ({c['W2']} round trips)", False, _fmt_ms),
        Metric("W2", "p99_ms", "W2 p99 ms", False, _fmt_ms),
        Metric("W3", "seconds", f"W3 s ({c['W3']} x sleep {t['W3']:g} s)", False, _fmt_s),
        Metric("W4", "seconds", f"W4 s ({c['W4']} x {t['W4']:.2f} s CPU)", False, _fmt_s, False),
        Metric("W4", "vs_ideal", "W4 / ideal", False, _fmt_x),
        Metric("W4", "overhead_ms", "W4 framework ms", False, _fmt_ms),
    ]
    return [m for m in all_metrics if m.workload in workloads]


def ideal(run: Run, workload: str) -> str:
    if workload == "W3":
        return f"{run.task_seconds['W3']:g} s (all at once)"
    if workload == "W4":
        per_core = -(-run.counts["W4"] // 2)  # ceil(n / 2 cores)
        text = (f"{per_core * run.task_seconds['W4']:.2f} s at calibration ({per_core} per core, "
                "2 cores); since each core's speed drifts a lot here, and the two differ, each "
                "task reports its process and the CPU seconds its thread spent, and \"W4 / "
                "ideal\" divides the wall time by the shortest time 2 processes running at the "
                "speeds they showed could take for the tasks (`w4_figures` in "
                "`peers/common.py`); \"W4 framework ms\" is the wall time minus the shortest "
                "time they could take at the wall time each task took: what the framework "
                "kept the processes from the tasks (start, hand-offs, the way back), with the "
                "time the machine took a task's core away (the VM's steal) left out")  # fmt: skip
        measured = [f["task_s"] for row in run.results.values() for f in [row.get("W4", {})]
                    if "task_s" in f]  # fmt: skip
        if measured:
            text += f"; one task took {min(measured):.2f}-{max(measured):.2f} s of CPU in the runs"
        if run.w4_floor is not None:
            floor = run.w4_floor
            text += (f"; a bare 2-process pool (no framework) took {floor['seconds']:.2f} s "
                     f"= {floor['vs_ideal']:.3f} x its ideal, {floor['overhead_ms']:.1f} ms of "
                     "framework time, at the start of the run")  # fmt: skip
        return text
    return ""


def _cell(figures: Figures | None, metric: Metric) -> str:
    if figures is None:
        return "-"
    if "error" in figures:
        return "failed"
    return metric.fmt(figures[metric.key])


def table(run: Run, peers: list[str], workloads: list[str]) -> str:
    ms = metrics(run, workloads)
    lines = ["| peer | " + " | ".join(m.title for m in ms) + " |", "| --- |" + " ---: |" * len(ms)]
    for peer in peers:
        row = run.results.get(peer, {})
        lines.append(f"| {peer} | " + " | ".join(_cell(row.get(m.workload), m) for m in ms) + " |")
    return "\n".join(lines)


def ratios(run: Run, peers: list[str], workloads: list[str]) -> list[str]:
    """floq against the best other peer, per metric: >1x means floq is better."""
    out = []
    for m in (m for m in metrics(run, workloads) if m.compared):
        floq = run.results.get("floq", {}).get(m.workload, {})
        rows = {p: run.results.get(p, {}).get(m.workload, {}) for p in peers if p != "floq"}
        others: dict[str, float] = {p: f[m.key] for p, f in rows.items() if m.key in f}
        if m.key not in floq or not others:
            continue
        pick = max if m.higher_is_better else min
        best = pick(others, key=lambda p: others[p])
        mine, theirs = floq[m.key], others[best]
        factor = mine / theirs if m.higher_is_better else theirs / mine
        shown = f"{factor:.3f}" if abs(factor - 1) < 0.1 else f"{factor:.2f}"  # near 1: 3 places
        out.append(
            f"| {m.title.split(' (')[0]} | {m.fmt(mine)} | {best} {m.fmt(theirs)} | **{shown}x** |"
        )
    if not out:
        return []
    head = [
        "| metric | floq | best other peer | floq vs best (>1: floq better) |",
        "| --- | ---: | ---: | ---: |",
    ]
    return head + out


def _machine() -> str:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    kib = next(
        (
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        "0",
    )
    return (
        f"{os.cpu_count()} cores ({cpu}), {int(kib) / 2**20:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def _configs(run: Run, peers: list[str], workloads: list[str]) -> list[str]:
    """One line per peer; workloads that share a configuration share a clause."""
    lines = []
    for peer in peers:
        row = run.results.get(peer, {})
        version = next((f["version"] for f in row.values() if "version" in f), "?")
        shared: dict[str, list[str]] = {}
        for w in workloads:
            shared.setdefault(row.get(w, {}).get("config", "failed"), []).append(w)
        clauses = [f"{', '.join(ws)}: {config}" for config, ws in shared.items()]
        lines.append(f"- **{peer}** ({version}): " + "; ".join(clauses))
    return lines


def _best_of(run: Run) -> str:
    if run.rounds == 1:
        return f"Each figure is the best of {run.repeat} timed run(s) with the same workers."
    return (f"Each figure is the best of {run.rounds} rounds x {run.repeat} timed run(s): "
            "in each round every peer ran the workload in turn, its workers started afresh, "
            "so each peer's runs are spread over the same minutes.")  # fmt: skip


def write_results(path: Path, run: Run, peers: list[str], workloads: list[str]) -> None:
    failures = [
        f"- {peer} {w}: {f['error']}"
        for peer in peers
        for w, f in run.results.get(peer, {}).items()
        if "error" in f
    ]
    ideals = [f"{w}: {ideal(run, w)}" for w in workloads if ideal(run, w)]
    text = [
        "# floq vs. its peers: results",
        "",
        f"- Date: {run.started}",
        f"- Machine: {_machine()}",
        f"- Other load at the start: {run.busy_before:.0%} of the CPU busy, "
        f"load average {run.load}",
        f"- Server: {run.server} (one server for every peer in the run; Dask uses none)",
        f"- Command: `{run.command}`",
        f"- W4 calibration: {run.spin_iterations:,} loop iterations per task, "
        f"{run.task_seconds['W4']:.3f} s single-threaded",
        f"- Ideal: {'; '.join(ideals) or '-'}",
        "",
        "What each workload does and how each peer is run: `README.md`, section "
        f'"`peers.py`". {_best_of(run)} On a 2-core machine figures move by 10-30 % from '
        "run to run, more when the machine is busy (see the load average), so compare "
        "within one run.",
        "",
        "## Results",
        "",
        table(run, peers, workloads),
        "",
        "## floq vs. the best other peer",
        "",
        *(ratios(run, peers, workloads) or ["(floq was not measured in this run)"]),
        "",
        "## Per-peer configuration",
        "",
        *_configs(run, peers, workloads),
        "",
    ]
    if failures:
        text += ["## Failures", "", *failures, ""]
    path.write_text("\n".join(text) + "\n")
