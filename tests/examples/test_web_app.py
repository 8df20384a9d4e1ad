"""examples/web_app.py: a flow run per POST, its result on GET once a flow-worker has run it."""

from __future__ import annotations

import importlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import floq.settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WAIT = 60.0  # bound on the wait for a run to complete


@pytest.fixture
def app_url(redis_url: str, namespace: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The example app on a free port, in a thread, enqueueing on the test's namespace."""
    monkeypatch.setenv("FLOQ_REDIS_URL", redis_url)
    monkeypatch.setenv("FLOQ_NAMESPACE", namespace)
    monkeypatch.setattr(floq.settings, "_settings", None)  # read again; restored afterwards
    monkeypatch.syspath_prepend(str(EXAMPLES))
    server = importlib.import_module("web_app").make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def request(url: str, body: bytes | None = None, content_type: str = "") -> tuple[int, Any]:
    """Status and body (JSON decoded, else text) of a GET, or of a POST if ``body`` is given."""
    headers = {"Content-Type": content_type} if content_type else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=10) as r:
            status, raw, kind = r.status, r.read(), r.headers.get_content_type()
    except urllib.error.HTTPError as error:
        status, raw, kind = error.code, error.read(), error.headers.get_content_type()
    return status, json.loads(raw) if kind == "application/json" else raw.decode()


def wait_completed(url: str, workers: Any) -> dict[str, Any]:
    """Poll the run at ``url`` until it is Completed; fail after WAIT s."""
    deadline = time.monotonic() + WAIT
    while True:
        status, run = request(url)
        assert status == 200, run
        if run["state"] == "Completed":
            return dict(run)
        assert time.monotonic() < deadline, f"run still {run} after {WAIT} s\n{workers.logs()}"
        time.sleep(0.1)


def test_posted_texts_get_their_word_stats(app_url: str, workers: Any) -> None:
    workers.start("--flow-slots", "1", PYTHONPATH=str(EXAMPLES))
    workers.wait_registered(1)
    text = "the quick brown fox\njumps over\nthe lazy dog"
    status, posted = request(f"{app_url}/runs", json.dumps({"text": text}).encode(),
                             "application/json")  # fmt: skip
    assert status == 202, posted
    assert posted["url"] == f"/runs/{posted['id']}"
    status, form = request(f"{app_url}/runs", b"text=one+two", "application/x-www-form-urlencoded")
    assert status == 202, form

    run = wait_completed(app_url + posted["url"], workers)
    stats = {"lines": 3, "words": 9, "characters": len(text)}
    assert run == {"id": posted["id"], "state": "Completed", "result": stats}
    run = wait_completed(app_url + form["url"], workers)
    assert run["result"] == {"lines": 1, "words": 2, "characters": 7}

    status, page = request(app_url + "/")
    assert status == 200
    assert f'href="{form["url"]}"' in page
    assert page.index(form["id"]) < page.index(posted["id"])  # newest first


def test_unknown_run_id_is_404_naming_it(app_url: str) -> None:
    status, reply = request(f"{app_url}/runs/no-such-run")
    assert status == 404
    assert "no-such-run" in reply["error"]


def test_post_without_text_is_400(app_url: str) -> None:
    status, reply = request(f"{app_url}/runs", b'{"words": 1}', "application/json")
    assert status == 400
    assert "text" in reply["error"]
