"""The dashboard's ASGI app: pages rendered on the server, their JSON twins under ``/api/``,
the live parts (server-sent events, or polling), cancel and retry, requeue and purge."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

import redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from floq.dashboard import data, live
from floq.dashboard.auth import COOKIE, Guard
from floq.errors import FloqError

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["when"] = live.when
templates.env.filters["seconds"] = live.seconds
templates.env.filters["qs"] = live.query_string

View = Callable[[data.Board, dict[str, Any], Any], dict[str, Any]]


def _page(query: Any) -> int:
    try:
        return max(1, int(query.get("page", 1)))
    except ValueError:
        return 1


VIEWS: dict[str, tuple[str, View]] = {
    "runs": ("runs.html", lambda board, params, query: data.runs_page(
        board, query.get("state"), query.get("flow"), query.get("queue"), _page(query))),
    "run": ("run.html", lambda board, params, query: data.run_page(
        board, params["run_id"], _page(query))),
    "workers": ("workers.html", lambda board, params, query: data.workers_page(board)),
    "queues": ("queues.html", lambda board, params, query: data.queues_page(board)),
    "dead_letters": ("dead_letters.html",
                     lambda board, params, query: data.dead_letters_page(board)),
}  # fmt: skip


class Dashboard:
    """The routes' handlers, over one :class:`data.Board` and one :class:`Guard`."""

    def __init__(self, board: data.Board, guard: Guard) -> None:
        self.board, self.guard = board, guard

    def context(self, request: Request, **extra: Any) -> dict[str, Any]:
        return {
            "base": request.scope.get("root_path", ""),
            "writable": self.guard.writable,
            "logged_in": self.guard.logged_in(request),
            "csrf": self.guard.csrf if self.guard.logged_in(request) else "",
            "page_url": live.page_url(request),
            **extra,
        }

    def render(self, request: Request, name: str, params: dict[str, Any], fragment: bool) -> str:
        """The page of view ``name`` (only its live part if ``fragment``), as HTML."""
        template, view = VIEWS[name]
        found = view(self.board, params, request.query_params)
        context = self.context(request, data=found, fragment=fragment, view=name)
        return templates.get_template(template).render(context)

    def page(self, name: str) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            fragment = request.query_params.get("fragment") == "1"
            try:
                html = self.render(request, name, dict(request.path_params), fragment)
            except FloqError as error:
                return self.message(request, str(error), _status(error))
            return HTMLResponse(html)

        return endpoint

    def api(self, name: str) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            try:
                found = VIEWS[name][1](self.board, dict(request.path_params), request.query_params)
            except FloqError as error:
                return JSONResponse({"error": str(error)}, _status(error))
            return JSONResponse(found)

        return endpoint

    def message(self, request: Request, text: str, status: int) -> Response:
        context = self.context(request, text=text, status=status, view="message")
        html = templates.get_template("message.html").render(context)
        return HTMLResponse(html, status)

    async def form_action(self, request: Request) -> Response:
        """Cancel or retry a flow run from its page."""
        run_id, action = request.path_params["run_id"], request.path_params["action"]
        return await self._form(
            request, lambda form: data.act(self.board, run_id, action),
            f"/runs/{run_id}?done={action}",
        )  # fmt: skip

    async def api_action(self, request: Request) -> Response:
        run_id, action = request.path_params["run_id"], request.path_params["action"]
        return await self._api(request, lambda: data.act(self.board, run_id, action))

    async def letters_form(self, request: Request) -> Response:
        """Requeue a dead letter (form field ``letter``) or purge a queue's (``queue``)."""
        action = request.path_params["action"]

        def act(form: Any) -> Any:
            letter, queue = str(form.get("letter", "")), str(form.get("queue", ""))
            return data.act_on_letters(self.board, action, letter, queue)

        return await self._form(request, act, f"/dead-letters?done={action}")

    async def letters_api(self, request: Request) -> Response:
        """``POST /api/dead-letters/requeue?id=<queue>/<stream id>``, ``.../purge[?queue=Q]``."""
        action, query = request.path_params["action"], request.query_params
        args = (action, query.get("id", ""), query.get("queue", ""))
        return await self._api(request, lambda: data.act_on_letters(self.board, *args))

    async def _form(self, request: Request, act: Callable[[Any], Any], target: str) -> Response:
        """A write from a page: refused without the login cookie and CSRF token; ``act(form)``
        in a thread; then back to ``target`` (or the error as a page)."""
        form = await request.form()
        refusal = self.guard.form_refusal(request, str(form.get("csrf", "")))
        if refusal:
            return self.message(request, refusal, 403)
        try:
            await live.in_thread(act, form)
        except FloqError as error:
            return self.message(request, str(error), _status(error))
        return RedirectResponse(request.scope.get("root_path", "") + target, 303)

    async def _api(self, request: Request, act: Callable[[], Any]) -> Response:
        """A write through the API: refused without the Bearer token; ``act()``'s answer."""
        status, refusal = self.guard.api_refusal(request)
        if refusal:
            return JSONResponse({"error": refusal}, status)
        try:
            return JSONResponse(await live.in_thread(act))
        except FloqError as error:
            return JSONResponse({"error": str(error)}, _status(error))

    async def login(self, request: Request) -> Response:
        base = request.scope.get("root_path", "")
        if request.method == "GET":
            html = templates.get_template("login.html").render(self.context(request, view="login"))
            return HTMLResponse(html)
        form = await request.form()
        if not self.guard.writable:
            return self.message(request, "this dashboard has no token: it is read-only", 403)
        if not live.same_origin_post(request) or not self.guard.token_matches(
            str(form.get("token", ""))
        ):
            return self.message(request, "wrong token", 403)
        response = RedirectResponse(f"{base}/", 303)
        response.set_cookie(COOKIE, self.guard.session, httponly=True, samesite="strict",
                            path=base or "/")  # fmt: skip
        return response

    async def logout(self, request: Request) -> Response:
        base = request.scope.get("root_path", "")
        response = RedirectResponse(f"{base}/", 303)
        response.delete_cookie(COOKIE, path=base or "/")
        return response


def _status(error: FloqError) -> int:
    """404 for a run that is not stored, 400 for a bad filter or id, 409 for an action the
    run's state refuses (retrying a Completed run, requeueing a letter whose run ended)."""
    if isinstance(error, data.NotFound):
        return 404
    return 400 if isinstance(error, data.BadRequest) else 409


def build_app(board: data.Board, token: str | None = None) -> Starlette:
    """The dashboard over ``board``; cancel and retry need ``token`` (None: read-only)."""
    dashboard = Dashboard(board, Guard(token))
    pages = {"/": "runs", "/runs/{run_id}": "run", "/workers": "workers",
             "/queues": "queues", "/dead-letters": "dead_letters"}  # fmt: skip
    routes: list[BaseRoute] = [Route(path, dashboard.page(name)) for path, name in pages.items()]
    routes += [
        Route("/api" + ("/runs" if path == "/" else path), dashboard.api(name))
        for path, name in pages.items()
    ]
    routes += [
        Route("/runs/{run_id}/{action:str}", dashboard.form_action, methods=["POST"]),
        Route("/api/runs/{run_id}/{action:str}", dashboard.api_action, methods=["POST"]),
        Route("/dead-letters/{action:str}", dashboard.letters_form, methods=["POST"]),
        Route("/api/dead-letters/{action:str}", dashboard.letters_api, methods=["POST"]),
        Route("/login", dashboard.login, methods=["GET", "POST"]),
        Route("/logout", dashboard.logout, methods=["POST"]),
        Route("/events", live.events(dashboard.render, pages)),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={redis.RedisError: _unavailable})


async def _unavailable(request: Request, error: Exception) -> Response:
    """A lost or refusing server: 503 naming it, as JSON under /api/, else as a page."""
    text = f"Redis: {type(error).__name__}: {error}"
    if "/api/" in request.url.path:
        return JSONResponse({"error": text}, 503)
    return HTMLResponse(f"<p class='message error'>{escape(text)}</p>", 503)
