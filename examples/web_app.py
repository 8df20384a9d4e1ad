"""A tiny web app (standard library only) that enqueues a flow run per request and shows the
run's result once a flow-worker has run it.

Run it in two terminals, with the same FLOQ_REDIS_URL (or none: both use floq's embedded server):

    PYTHONPATH=examples flow-worker --flow-slots 2     # runs the enqueued flow runs
    python examples/web_app.py --port 8000             # then open http://127.0.0.1:8000/

- ``POST /runs`` with the text (form field or JSON key ``text``) enqueues ``word_stats(text)``
  (examples/web_flows.py) and answers 202 with ``{"id": ..., "url": "/runs/<id>"}``.
- ``GET /runs/<id>`` answers ``{"id", "state", "result"}`` (plus ``"error"`` once it failed,
  crashed or was cancelled); the result is null until the run is Completed. An unknown id
  gives 404.
- ``GET /`` shows a form and links to the runs this app enqueued.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from web_flows import word_stats

from floq.errors import FloqError
from floq.producer import FlowRun

FORM = """<!doctype html><title>word stats</title>
<form method="post" action="/runs"><textarea name="text" rows="6" cols="60"></textarea>
<button>Count</button></form><ul>{links}</ul>"""


class WebApp(ThreadingHTTPServer):
    """The HTTP server; it keeps the ids of the flow runs it enqueued, newest first."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__((host, port), Handler)
        self.run_ids: list[str] = []


class Handler(BaseHTTPRequestHandler):
    server: WebApp

    def do_GET(self) -> None:
        if self.path == "/":
            self.send_form()
        elif self.path.startswith("/runs/"):
            self.send_run(self.path.removeprefix("/runs/"))
        else:
            self.send_json(HTTPStatus.NOT_FOUND, {"error": f"no page {self.path}"})

    def do_POST(self) -> None:
        if self.path != "/runs":
            self.send_json(HTTPStatus.NOT_FOUND, {"error": f"no page {self.path}"})
            return
        text = self.read_text()
        if text is None:
            self.send_json(HTTPStatus.BAD_REQUEST, {"error": "give the input as 'text'"})
            return
        run = word_stats.enqueue(text)
        self.server.run_ids.insert(0, run.id)
        self.send_json(HTTPStatus.ACCEPTED, {"id": run.id, "url": f"/runs/{run.id}"})

    def read_text(self) -> str | None:
        """The posted ``text``, from a JSON or a form body; None if there is none."""
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        if self.headers.get_content_type() == "application/json":
            try:
                fields = json.loads(body)
            except json.JSONDecodeError:
                return None
        else:
            fields = {name: values[0] for name, values in parse_qs(body).items()}
        text = fields.get("text") if isinstance(fields, dict) else None
        return text if isinstance(text, str) else None

    def send_run(self, run_id: str) -> None:
        try:
            run = FlowRun.fetch(run_id)
        except FloqError:
            self.send_json(HTTPStatus.NOT_FOUND, {"error": f"no flow run {run_id!r}"})
            return
        state = run.state
        body = {"id": run.id, "state": state.name, "result": None}
        if state.is_completed():
            body["result"] = state.result()
        elif state.is_final():
            body["error"] = str(state.result(raise_on_failure=False))
        self.send_json(HTTPStatus.OK, body)

    def send_form(self) -> None:
        links = "".join(
            f'<li><a href="/runs/{run_id}">{run_id}</a></li>'
            for run_id in map(html.escape, self.server.run_ids)
        )
        self.send_body(HTTPStatus.OK, "text/html", FORM.format(links=links))

    def send_json(self, status: HTTPStatus, value: dict[str, Any]) -> None:
        self.send_body(status, "application/json", json.dumps(value))

    def send_body(self, status: HTTPStatus, content_type: str, text: str) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def make_server(host: str = "127.0.0.1", port: int = 8000) -> WebApp:
    """The app, listening on ``host:port`` (port 0: a free one); call ``serve_forever()``."""
    return WebApp(host, port)


def main() -> None:
    parser = argparse.ArgumentParser(description="Enqueue a word_stats flow run per request.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    with make_server(args.host, args.port) as server:
        print(f"serving on http://{args.host}:{server.server_port}/ (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
