"""Every example in examples/ runs as a script and keeps the promise its docstring makes."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

# Each file in examples/ and the test below that runs it. A new example needs a test here.
TESTED_EXAMPLES = ["async_gather.py", "map_retries.py", "parallel_dask.py"]
TESTED_EXAMPLES += ["web_app.py", "web_flows.py"]  # in test_web_app.py


def run_example(name: str, timeout: float) -> subprocess.CompletedProcess[str]:
    path = EXAMPLES / name
    if not path.is_file():
        pytest.fail(
            f"examples/{name} does not exist (expected at {path}); write it, or drop it "
            "from TESTED_EXAMPLES"
        )
    raw = subprocess.run(
        [sys.executable, str(path)], cwd=ROOT, capture_output=True, timeout=timeout
    )
    # Decoded by hand: text mode would turn the "\r" the examples print into "\n".
    done = subprocess.CompletedProcess(
        raw.args,
        raw.returncode,
        raw.stdout.decode("utf-8", "replace"),
        raw.stderr.decode("utf-8", "replace"),
    )
    assert done.returncode == 0, (
        f"examples/{name} exited with {done.returncode}\n"
        f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"
    )
    return done


def test_every_example_has_a_test() -> None:
    present = sorted(p.name for p in EXAMPLES.glob("*.py"))
    untested = sorted(set(present) - set(TESTED_EXAMPLES))
    assert not untested, f"examples without a test in {Path(__file__).name}: {untested}"
    missing = sorted(set(TESTED_EXAMPLES) - set(present))
    assert not missing, f"TESTED_EXAMPLES lists files that are not in examples/: {missing}"


def test_async_gather_prints_the_interleaved_sequence() -> None:
    done = run_example("async_gather.py", timeout=60)
    assert done.stdout.strip() == "1 2 a 6 b 7 c 8 d 9"


def test_parallel_dask_task_runs_overlap() -> None:
    done = run_example("parallel_dask.py", timeout=120)
    # print() writes the value and its end separately, so two processes' writes can meet
    # within one piece ("AAAABBBB\r\r"): count the values, not the pieces.
    lines = re.findall(r"AAAA|BBBB", done.stdout)
    assert re.sub(r"AAAA|BBBB|\s", "", done.stdout) == "", done.stdout
    assert len(lines) == 25, lines
    assert lines.count("AAAA") == 15
    assert lines.count("BBBB") == 10
    switches = sum(1 for a, b in itertools.pairwise(lines) if a != b)
    # Run one after the other, the output would switch once; running in parallel, it
    # switches back and forth while both tasks print.
    assert switches >= 8, f"only {switches} switches between AAAA and BBBB: {lines}"


def test_map_retries_prints_its_results() -> None:
    done = run_example("map_retries.py", timeout=60)
    lines = done.stdout.splitlines()
    # "bb" and "dddd" fail their first attempt and are retried once; the others run once.
    assert "attempts: {'a': 1, 'bb': 2, 'ccc': 1, 'dddd': 2}" in lines, done.stdout
    assert "results: [1, 2, 3, 4] total: 10" in lines, done.stdout
