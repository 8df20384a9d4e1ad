"""The dashboard in a real headless chromium, over a real server, real flow-workers and a real
``floq dashboard`` process: live runs, a run's task runs and timeline, cancel and retry (with
the token only), live workers and queue depths. Each page's screenshot goes to the folder the
session prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import enqueued_flows
from integration_helpers import WAIT, wait_until
from playwright.sync_api import expect

from floq.producer import FlowRun, enqueue

TOKEN = "a-token-for-the-tests"
MAPPED = 12


def _live(page: Any) -> None:
    """Wait until the page follows its live region (events, or polling)."""
    expect(page.locator("#live-mode")).to_have_text("live", timeout=WAIT * 1000)


def test_a_flow_enqueued_while_the_runs_page_is_open_appears_and_completes(
    page: Any, dashboards: Any, workers: Any, redis_url: str, namespace: str, shoot: Any
) -> None:
    workers.start("--flow-slots", "1", PYTHONPATH=str(Path(enqueued_flows.__file__).parent))
    workers.wait_registered(1)
    base = dashboards.start()
    page.goto(base + "/")
    _live(page)
    page.evaluate("window.notReloaded = true")

    run = enqueue(enqueued_flows.sum_of_squares, (MAPPED,), url=redis_url, namespace=namespace)
    row = page.locator(f"tr[data-run='{run.id}']")
    expect(row).to_be_visible(timeout=WAIT * 1000)
    expect(row.locator(".state")).to_have_text("Completed", timeout=WAIT * 1000)
    assert page.evaluate("window.notReloaded") is True  # updated in place, never reloaded
    expect(page.locator(".count.st-COMPLETED b")).to_have_text("1")
    shoot(page, "runs")


def test_without_server_sent_events_the_page_polls(
    page: Any, dashboards: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    page.add_init_script("delete window.EventSource")
    base = dashboards.start()
    page.goto(base + "/")
    expect(page.locator("#live-mode")).to_have_text("live (polling)")
    run = enqueue(enqueued_flows.stuck, (str(tmp_path), False), url=redis_url,
                  namespace=namespace)  # fmt: skip
    expect(page.locator(f"tr[data-run='{run.id}'] .state")).to_have_text("Pending")
    run.cancel()
    expect(page.locator(f"tr[data-run='{run.id}'] .state")).to_have_text("Cancelled")


def test_the_run_page_lists_its_task_runs_and_draws_the_timeline(
    page: Any, dashboards: Any, workers: Any, redis_url: str, namespace: str, shoot: Any
) -> None:
    workers.start("--flow-slots", "1", PYTHONPATH=str(Path(enqueued_flows.__file__).parent))
    workers.start()
    workers.wait_registered(2)
    base = dashboards.start()
    run = enqueue(enqueued_flows.sum_of_squares, (MAPPED,), url=redis_url, namespace=namespace)
    assert run.wait(WAIT).is_completed()

    page.goto(f"{base}/runs/{run.id}")
    expect(page.locator("#run-state")).to_have_text("Completed")
    expect(page.locator("table.task-runs tbody tr")).to_have_count(MAPPED)
    expect(page.locator("table.summary tbody tr td").first).to_have_text("square")
    expect(page.locator("svg.gantt rect.bar")).to_have_count(MAPPED)
    expect(page.locator("pre.result")).to_have_text(str(sum(i * i for i in range(MAPPED))))
    lanes = page.locator("svg.gantt text.lane title").all_text_contents()
    assert lanes and all(name.startswith("w") for name in lanes), lanes
    shoot(page, "run")


def test_cancel_and_retry_work_from_the_page_with_the_token_and_are_refused_without(
    page: Any, dashboards: Any, workers: Any, redis_url: str, namespace: str, tmp_path: Path,
    shoot: Any,
) -> None:  # fmt: skip
    workers.start("--flow-slots", "2", PYTHONPATH=str(Path(enqueued_flows.__file__).parent))
    workers.wait_registered(1)
    base = dashboards.start(token=TOKEN)
    stuck = enqueue(enqueued_flows.stuck, (str(tmp_path), False), url=redis_url,
                    namespace=namespace)  # fmt: skip
    wait_until(lambda: (tmp_path / "hold").exists(), WAIT, "the stuck flow's task to start")

    page.goto(f"{base}/runs/{stuck.id}")
    expect(page.locator("#run-state")).to_have_text("Running")
    expect(page.locator("#cancel")).to_have_count(0)  # not logged in: no button
    refused = _post(page, f"{base}/runs/{stuck.id}/cancel", "csrf=")
    assert refused["status"] == 403 and "log in" in refused["text"], refused
    refused = _post(page, f"{base}/api/runs/{stuck.id}/cancel", "")
    assert refused["status"] == 401, refused
    assert FlowRun(stuck.id, stuck.store).state.is_running()

    page.goto(f"{base}/login")
    page.fill("input[name=token]", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".message.error")).to_have_text("wrong token")
    page.goto(f"{base}/login")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.goto(f"{base}/runs/{stuck.id}")
    refused = _post(page, f"{base}/runs/{stuck.id}/cancel", "csrf=forged")
    assert refused["status"] == 403 and "CSRF" in refused["text"], refused
    page.click("#cancel")
    expect(page.locator("#run-state")).to_have_text("Cancelled")
    assert stuck.wait(WAIT).is_cancelled()

    broken = enqueue(enqueued_flows.fail_until_fixed, (str(tmp_path), 3), url=redis_url,
                     namespace=namespace)  # fmt: skip
    assert broken.wait(WAIT).is_failed()
    (tmp_path / "fixed").write_text("fixed")
    page.goto(f"{base}/runs/{broken.id}")
    expect(page.locator("pre.error")).to_contain_text("fails until fixed")
    shoot(page, "run-failed")
    page.click("#retry")
    expect(page.locator("#run-state")).to_have_text("Completed", timeout=WAIT * 1000)
    assert broken.wait(WAIT).result() == 0 + 10 + 20


def _post(page: Any, url: str, body: str) -> dict[str, Any]:
    """POST ``body`` (a form) from the page's own origin, with its cookies; status and text."""
    script = """async ([url, body]) => {
        const r = await fetch(url, {method: "POST", body: body, credentials: "same-origin",
            headers: {"Content-Type": "application/x-www-form-urlencoded"}, redirect: "manual"});
        return {status: r.status, text: await r.text()};
    }"""
    return dict(page.evaluate(script, [url, body]))


def test_a_read_only_dashboard_offers_no_actions(
    page: Any, dashboards: Any, redis_url: str, namespace: str, tmp_path: Path
) -> None:
    base = dashboards.start()
    run = enqueue(enqueued_flows.stuck, (str(tmp_path), False), url=redis_url,
                  namespace=namespace)  # fmt: skip
    page.goto(f"{base}/runs/{run.id}")
    expect(page.locator(".actions")).to_contain_text("read-only")
    expect(page.locator("#cancel")).to_have_count(0)
    refused = _post(page, f"{base}/runs/{run.id}/cancel", "csrf=")
    assert refused["status"] == 403 and "read-only" in refused["text"], refused
    run.cancel()


def test_the_workers_and_queues_pages_show_live_workers_and_depths(
    page: Any, dashboards: Any, workers: Any, redis_url: str, namespace: str, tmp_path: Path,
    shoot: Any,
) -> None:  # fmt: skip
    flows = str(Path(enqueued_flows.__file__).parent)
    workers.start("--flow-slots", "1", "--concurrency", "1", PYTHONPATH=flows)
    workers.start("--queue", "other")
    workers.wait_registered(2)
    base = dashboards.start()
    page.goto(f"{base}/workers")
    _live(page)
    for index in range(2):
        expect(page.locator(f"tr[data-worker='w{index}-{namespace}']")).to_be_visible()
    expect(page.locator(f"tr[data-worker='w1-{namespace}']")).to_contain_text("other")
    shoot(page, "workers")

    run = enqueue(enqueued_flows.long_one, (str(tmp_path), 5, 4.0), url=redis_url,
                  namespace=namespace)  # fmt: skip
    wait_until(lambda: (tmp_path / "hold").exists(), WAIT, "the long task to start")
    page.goto(f"{base}/queues")
    _live(page)
    depth = page.locator("tr[data-queue='default'] td.depth")
    expect(depth).to_have_text("5")  # one task run held by the one slot, five waiting
    expect(page.locator("tr[data-queue='other']")).to_be_visible()
    assert run.wait(WAIT).is_completed()
    expect(depth).to_have_text("0", timeout=WAIT * 1000)  # live: drained without a reload
    chart = page.locator("tr[data-queue='default'] svg.spark polyline")
    expect(chart).to_have_count(1, timeout=WAIT * 1000)  # sampled every 5 s: two samples
    shoot(page, "queues")

    page.goto(f"{base}/dead-letters")
    expect(page.locator("table.dead")).to_contain_text("no dead letters")
    shoot(page, "dead-letters")
