"""The dashboard's JSON API and its guard, in process (Starlette's TestClient) over the real
test server: indexed pages of flow runs (filters, paging, counts), 404s and 400s, cancel and
retry only with the token (Bearer for the API; login cookie, CSRF token and same origin for
the forms), the app mounted under a prefix in another ASGI app, and served from WSGI."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from floq.dashboard import create_app
from floq.dashboard.auth import COOKIE
from floq.settings import Settings
from floq.states import Completed, Failed, Pending, Running
from floq.store.connection import connect
from floq.store.flow_runs import FlowRunStore
from floq.store.keys import Keys

TOKEN = "t0ken"


@pytest.fixture
def settings(redis_url: str, namespace: str, flow_run_env: dict[str, str]) -> Settings:
    """The test's server and namespace (and on a cluster, its flow-run server)."""
    flow_runs = flow_run_env.get("FLOQ_FLOW_RUN_REDIS_URL")
    return Settings(redis_url=redis_url, namespace=namespace, flow_run_redis_url=flow_runs)


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, token=TOKEN), base_url="http://dash.local") as client:
        yield client


def _store(redis_url: str, namespace: str) -> FlowRunStore:
    return FlowRunStore(connect(redis_url), Keys(namespace), ttl=3600)


def _store_runs(redis_url: str, namespace: str) -> dict[str, str]:
    """60 flow runs: a ... on queue q1 (odd ones completed), b on q2 (the last one failed)."""
    store = _store(redis_url, namespace)
    ids = {}
    for i in range(60):
        run_id = f"run-{i:03d}"
        flow, queue = ("a", "q1") if i < 50 else ("b", "q2")
        store.create(run_id, Pending(), flow=flow, queue=queue, description=f"{flow}(i={i})")
        if i % 2 and i < 50:
            store.transition(run_id, Running(), started="1.0")
            store.transition(run_id, Completed(), ended="2.0")
        ids[run_id] = flow
    store.transition("run-059", Failed(), ended="2.0")
    return ids


def test_runs_are_paged_newest_first_filtered_and_counted(
    api: TestClient, redis_url: str, namespace: str
) -> None:
    _store_runs(redis_url, namespace)
    first = api.get("/api/runs").json()
    assert first["total"] == 60 and first["pages"] == 2
    assert [row["id"] for row in first["runs"][:2]] == ["run-059", "run-058"]
    last = api.get("/api/runs?page=2").json()
    assert [row["id"] for row in last["runs"]] == [f"run-{i:03d}" for i in range(9, -1, -1)]
    assert first["counts"]["COMPLETED"] == 25 and first["counts"]["FAILED"] == 1
    assert first["counts"]["PENDING"] == 34 and first["flows"] == ["b", "a"]

    def ids(query: str) -> list[str]:
        return [row["id"] for row in api.get(f"/api/runs?{query}").json()["runs"]]

    assert ids("state=failed") == ["run-059"]
    assert len(ids("state=COMPLETED")) == 25
    assert ids("flow=b&state=PENDING") == [f"run-{i:03d}" for i in range(58, 49, -1)]
    assert ids("queue=q1&state=completed")[:2] == ["run-049", "run-047"]
    assert ids("flow=b&queue=q1") == []
    assert api.get("/api/runs?state=NOPE").status_code == 400
    assert api.get("/").status_code == 200


def test_a_retried_run_leaves_the_index_of_its_final_state(
    api: TestClient, redis_url: str, namespace: str
) -> None:
    store = _store(redis_url, namespace)
    store.create("r1", Pending(), flow="f", queue="default")
    store.transition("r1", Failed())
    assert api.get("/api/runs?state=FAILED").json()["total"] == 1
    store.reopen("r1", Pending("retried"))
    counts = api.get("/api/runs").json()["counts"]
    assert (counts["FAILED"], counts["PENDING"]) == (0, 1)


def test_the_json_twins_of_every_page(api: TestClient, redis_url: str, namespace: str) -> None:
    _store_runs(redis_url, namespace)
    run = api.get("/api/runs/run-001").json()
    assert (run["state"], run["flow"], run["can_retry"], run["can_cancel"]) == (
        "Completed", "a", False, False,
    )  # fmt: skip
    assert [step["type"] for step in run["history"]] == ["PENDING", "RUNNING", "COMPLETED"]
    assert run["task_runs"] == [] and run["timeline"]["lanes"] == []
    assert api.get("/api/runs/nosuchrun").status_code == 404
    assert api.get("/runs/nosuchrun").status_code == 404
    assert api.get("/api/workers").json() == {"workers": []}
    assert api.get("/api/queues").json() == {"queues": []}
    assert api.get("/api/dead-letters").json() == {"dead_letters": []}


def test_api_writes_need_the_bearer_token(
    api: TestClient, settings: Settings, redis_url: str, namespace: str
) -> None:
    _store_runs(redis_url, namespace)
    assert api.post("/api/runs/run-000/cancel").status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert api.post("/api/runs/run-000/cancel", headers=wrong).status_code == 401
    right = {"Authorization": f"Bearer {TOKEN}"}
    done = api.post("/api/runs/run-000/cancel", headers=right)
    assert done.status_code == 200 and done.json()["state"] == "Cancelled", done.text
    refused = api.post("/api/runs/run-001/retry", headers=right)
    assert refused.status_code == 409 and "only a Failed" in refused.json()["error"]
    assert api.post("/api/runs/run-001/explode", headers=right).status_code == 404
    with TestClient(create_app(settings)) as read_only:
        refused = read_only.post("/api/runs/run-002/cancel", headers=right)
        assert refused.status_code == 403 and "read-only" in refused.json()["error"]


def test_forms_need_the_login_cookie_the_csrf_token_and_the_same_origin(
    api: TestClient, redis_url: str, namespace: str
) -> None:
    _store_runs(redis_url, namespace)
    assert api.post("/login", data={"token": "nope"}).status_code == 403
    assert api.post("/runs/run-000/cancel", data={"csrf": ""}).status_code == 403
    logged = api.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert logged.status_code == 303
    cookie = logged.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
    assert COOKIE in api.cookies
    page = api.get("/runs/run-000").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    refused = api.post("/runs/run-000/cancel", data={"csrf": "forged"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    evil = {"Origin": "http://evil.example"}
    refused = api.post("/runs/run-000/cancel", data={"csrf": csrf}, headers=evil)
    assert refused.status_code == 403 and "another site" in refused.text
    done = api.post("/runs/run-000/cancel", data={"csrf": csrf}, follow_redirects=False,
                    headers={"Origin": "http://dash.local"})  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/runs/run-000?done=cancel"
    assert api.get("/api/runs/run-000").json()["state"] == "Cancelled"


def test_mounted_under_a_prefix_in_another_app(
    settings: Settings, redis_url: str, namespace: str
) -> None:
    _store_runs(redis_url, namespace)
    outer = Starlette(routes=[Mount("/floq", create_app(settings))])
    with TestClient(outer) as client:
        page = client.get("/floq/")
        assert page.status_code == 200
        assert 'href="/floq/runs/run-059"' in page.text
        assert 'data-page="/"' in page.text and "/floq/static/dashboard.js" in page.text
        assert client.get("/floq/api/runs/run-059").json()["flow"] == "b"
        assert client.get("/floq/static/dashboard.css").status_code == 200


def test_served_from_a_wsgi_app_through_a2wsgi(settings: Settings, redis_url: str,
                                               namespace: str) -> None:  # fmt: skip
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from a2wsgi import ASGIMiddleware

    _store_runs(redis_url, namespace)

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: object) -> None: ...

    server = make_server("127.0.0.1", 0, ASGIMiddleware(create_app(settings)), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        with urllib.request.urlopen(f"{base}/api/runs?state=FAILED", timeout=10) as response:
            assert [row["id"] for row in json.loads(response.read())["runs"]] == ["run-059"]
        with urllib.request.urlopen(f"{base}/runs/run-059", timeout=10) as response:
            assert "run-059" in response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_dead_letters_are_requeued_and_purged_with_the_token(
    api: TestClient, redis_url: str, namespace: str
) -> None:
    client, keys = connect(redis_url), Keys(namespace)
    raw = repr({b"junk": b"\xff garbage"}).encode()  # what a worker keeps of such an entry
    client.xadd(keys.dead("q1"), {"entry": "1-1", "reason": "garbage", "raw": raw})
    client.xadd(keys.dead("q2"), {"entry": "2-1", "reason": "truncated", "raw": b"x"})
    letters = api.get("/api/dead-letters").json()["dead_letters"]
    assert {(d["queue"], d["reason"]) for d in letters} == {("q2", "truncated"), ("q1", "garbage")}
    first = next(d["id"] for d in letters if d["queue"] == "q1")
    assert api.post(f"/api/dead-letters/requeue?id={first}").status_code == 401
    right = {"Authorization": f"Bearer {TOKEN}"}
    bad = api.post("/api/dead-letters/requeue?id=nonsense", headers=right)
    assert bad.status_code == 400 and "not a dead letter id" in bad.json()["error"], bad.text
    done = api.post(f"/api/dead-letters/requeue?id={first}", headers=right)
    assert done.status_code == 200 and done.json()["queue"] == "q1", done.text
    assert client.xlen(keys.queue("q1")) == 1  # back on its queue, as it was refused
    gone = api.post(f"/api/dead-letters/requeue?id={first}", headers=right)
    assert gone.status_code == 409, gone.text  # requeued once: the letter is gone
    purged = api.post("/api/dead-letters/purge?queue=q2", headers=right)
    assert purged.json() == {"purged": 1, "queue": "q2"}
    assert api.get("/api/dead-letters").json() == {"dead_letters": []}
