"""Run one peer through one workload; print one JSON line of figures on stdout.

    PYTHONPATH=benchmarks <venv>/bin/python -m peers PEER --url URL --workload W1 --n 5000
        [--queue NAME] [--sleep 0.05] [--spin ITERATIONS] [--repeat R]

Worker logs go to a temporary directory; on failure their tails go to stderr and the exit
code is non-zero. SIGTERM stops the workers before the driver exits.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path
from types import FrameType
from typing import NoReturn

from peers import common
from peers.catalog import PEERS


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m peers", description=__doc__)
    parser.add_argument("peer", choices=sorted(PEERS))
    parser.add_argument("--url", required=True, help="Redis URL (db included)")
    parser.add_argument("--workload", required=True, choices=common.WORKLOADS)
    parser.add_argument("--n", type=int, required=True, help="tasks (W2: round trips)")
    parser.add_argument("--queue", default="bench", help="queue name, unique per run")
    parser.add_argument("--sleep", type=float, default=0.05, help="W3: seconds per task")
    parser.add_argument("--spin", type=int, default=0, help="W4: busy-loop iterations per task")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs (the best is kept)")
    return parser.parse_args(argv)


def _on_term(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _on_term)
    args = _parse(argv)
    entry = PEERS[args.peer]
    job = common.Job(
        args.workload, args.n, args.url, args.queue, args.sleep, args.spin, args.repeat
    )
    os.environ.update({common.ENV_URL: job.url, common.ENV_QUEUE: job.queue})
    module = importlib.import_module(f"peers.{entry.module}")
    with tempfile.TemporaryDirectory(prefix=f"bench-{args.peer}-") as logs:
        peer: common.Peer = module.Driver(job, entry.variant, Path(logs))

        def on_worker_death(signum: int, frame: FrameType | None) -> NoReturn:
            raise common.WorkerDied(peer.procs.died or "a worker exited")

        signal.signal(signal.SIGUSR1, on_worker_death)
        try:
            figures = common.run_workload(peer, job)
        except BaseException:
            traceback.print_exc()
            print(peer.procs.tails(), file=sys.stderr)
            return 1
        finally:
            peer.stop()
        line = {"peer": args.peer, "workload": args.workload, "version": peer.version()}
        line |= {"config": peer.config(), **figures}
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
