"""The seed's parallel example: two tasks on a local Dask cluster, their output interleaving.

The output switches back and forth between AAAA and BBBB. Dask starts worker processes,
so the flow call sits under ``if __name__ == "__main__":``.
"""

import time

from floq import flow, task
from floq.runners import DaskTaskRunner


@task
def print_values(values):
    for value in values:
        time.sleep(0.5)
        print(value, end="\r")


@flow(task_runner=DaskTaskRunner())
def parallel_flow():
    print_values.submit(["AAAA"] * 15)
    print_values.submit(["BBBB"] * 10)


if __name__ == "__main__":
    parallel_flow()
