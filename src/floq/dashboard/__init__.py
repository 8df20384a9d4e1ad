"""``floq dashboard``: a web UI over what floq stores (flow runs, task runs, workers, queues,
dead letters), with cancel and retry; every page also as JSON under ``/api/``.

Serve it with ``floq dashboard``, or mount it in an ASGI app of your own::

    from starlette.applications import Starlette
    from starlette.routing import Mount
    import floq.dashboard

    app = Starlette(routes=[Mount("/floq", floq.dashboard.create_app())])

app.py       routes: pages, their JSON twins, actions, login
data.py      what each page shows, as plain data
auth.py      the token, the session cookie, CSRF
live.py      server-sent events of each page's live region; formatting
templates/   Jinja2 pages (each renders whole, or only its live region)
static/      the stylesheet and the small script (live updates, timeline and charts in SVG)
"""

from __future__ import annotations

import threading
from typing import Any

from floq.settings import Settings, get_settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *, token: str | None = None) -> Any:
    """The dashboard's ASGI app on the server and namespace of ``settings`` (default: from the
    environment); cancel and retry need ``token`` (default: ``settings.dashboard_token``;
    none: read-only)."""
    from floq.dashboard.app import build_app
    from floq.dashboard.data import Board, sample_forever
    from floq.store.connection import check, connect
    from floq.store.embedded import redis_url_or_embedded
    from floq.store.flow_runs import FlowRunStore
    from floq.store.keys import Keys

    settings = settings or get_settings()
    url = redis_url_or_embedded(settings)
    client, rq_client = connect(url), None
    check(client, url)
    rq_url = settings.flow_run_redis_url
    if rq_url is not None and rq_url != url:
        rq_client = connect(rq_url)
        check(rq_client, rq_url)
    store = FlowRunStore(client, Keys(settings.namespace), settings.result_ttl, rq_client)
    board = Board(store, url)
    name = "floq-dashboard-throughput"
    threading.Thread(target=sample_forever, args=(board,), name=name, daemon=True).start()
    return build_app(board, token if token is not None else settings.dashboard_token)
