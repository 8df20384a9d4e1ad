"""Map a task over items, with retries: a flaky fetch fails on its first attempt for some
items, floq retries it after a short delay, and the flow collects every result.

Runs on the default ConcurrentTaskRunner (threads); prints the attempts and the results.
"""

import threading
from collections import Counter

from floq import flow, get_run_logger, task, unmapped

attempts: Counter[str] = Counter()
lock = threading.Lock()


@task(retries=2, retry_delay_seconds=[0.1, 0.5], task_run_name="fetch-{item}")
def fetch(item: str, flaky: set[str]) -> int:
    with lock:
        attempts[item] += 1
        first_try = attempts[item] == 1
    if item in flaky and first_try:
        raise ConnectionError(f"{item}: connection reset")
    return len(item)


@task
def total(sizes: list[int]) -> int:
    get_run_logger().info("adding %d sizes", len(sizes))
    return sum(sizes)


@flow
def sizes_flow(items: list[str]) -> tuple[list[int], int]:
    sizes = fetch.map(items, flaky=unmapped({"bb", "dddd"}))
    return sizes, total(sizes)


if __name__ == "__main__":
    sizes, size_sum = sizes_flow(["a", "bb", "ccc", "dddd"])
    print("attempts:", dict(sorted(attempts.items())))
    print("results:", sizes, "total:", size_sum)
