"""The live parts of the pages: server-sent events carrying each page's live region, rendered by
the same templates as the page (the browser polls ``?fragment=1`` where events do not work);
and the formatting the templates share."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from functools import partial
from html import escape
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from floq.dashboard.auth import same_origin
from floq.errors import FloqError

T = TypeVar("T")
EVERY = 1.0  # seconds between looks at a page's live region
KEEPALIVE = 15.0  # seconds between comments that keep an idle stream open
STREAM_SECONDS = 600.0  # a stream ends after this long (the browser reconnects at once)


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    return await run_in_threadpool(partial(fn, *args))


def same_origin_post(request: Request) -> bool:
    return same_origin(request)


def when(epoch: float | None) -> str:
    if not epoch:
        return ""
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def seconds(value: float | None) -> str:
    if value is None:
        return ""
    if value < 60:
        return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"
    minutes, rest = divmod(int(value), 60)
    return f"{minutes} min {rest} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def query_string(values: dict[str, Any]) -> str:
    """``?a=1&b=x`` of the values that are set."""
    return "?" + urlencode({k: v for k, v in values.items() if v not in (None, "")})


def page_url(request: Request) -> str:
    """The page's path under the dashboard's root, with its query but not ``fragment``."""
    root = request.scope.get("root_path", "")
    path = request.url.path
    path = path[len(root) :] if root and path.startswith(root) else path
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "fragment"]
    return (path or "/") + (f"?{urlencode(query)}" if query else "")


def _route(pages: dict[str, str], path: str) -> tuple[str, dict[str, Any]] | None:
    """The view and path parameters of a page path (``/runs/abc`` -> run, run_id=abc)."""
    for pattern, name in pages.items():
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$"
        match = re.match(regex, path)
        if match:
            return name, match.groupdict()
    return None


Render = Callable[[Request, str, dict[str, Any], bool], str]


def events(render: Render, pages: dict[str, str]) -> Callable[[Request], Any]:
    """``GET /events?page=/runs/abc`` streams the live region of that page whenever it changes,
    as one JSON string per event."""

    async def endpoint(request: Request) -> Response:
        target = urlsplit(request.query_params.get("page", "/"))
        found = _route(pages, target.path or "/")
        if found is None:
            return Response("no such page", 404)
        name, params = found
        scope = dict(request.scope, query_string=target.query.encode())
        page_request = Request(scope, request.receive)
        return StreamingResponse(
            _stream(lambda: render(page_request, name, params, True)),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return endpoint


async def _stream(region: Callable[[], str]) -> AsyncIterator[str]:
    last, idle, began = "", time.monotonic(), time.monotonic()
    yield "retry: 1000\n\n"
    while time.monotonic() - began < STREAM_SECONDS:
        rendered = time.monotonic()
        try:
            html = await run_in_threadpool(region)
        except FloqError as error:
            html = f"<p class='message error'>{escape(str(error))}</p>"
        took = time.monotonic() - rendered
        if html != last:
            last, idle = html, time.monotonic()
            yield f"data: {json.dumps(html)}\n\n"
        elif time.monotonic() - idle > KEEPALIVE:
            idle = time.monotonic()
            yield ": keep-alive\n\n"
        # at most a fifth of the time goes to rendering (a run of many task runs is slower);
        # Starlette cancels the stream when the client goes away
        await asyncio.sleep(max(EVERY, 4 * took))
