"""Who may cancel and retry from the dashboard.

Read-only unless a token is set (``--token`` / ``FLOQ_DASHBOARD_TOKEN``). With one, a write
needs it: the API takes ``Authorization: Bearer <token>``; the pages take a session cookie set
by the login form (an HMAC of the token, HttpOnly, SameSite=Strict), and each form carries a
CSRF token (another HMAC of it) and must come from the dashboard's own origin.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request

COOKIE = "floq_dashboard"


@dataclass(frozen=True)
class Guard:
    token: str | None

    @property
    def writable(self) -> bool:
        return bool(self.token)

    def _mac(self, purpose: str) -> str:
        assert self.token
        return hmac.new(self.token.encode(), purpose.encode(), hashlib.sha256).hexdigest()

    @property
    def session(self) -> str:
        """The session cookie's value: an HMAC of the token, never the token itself."""
        return self._mac("session")

    @property
    def csrf(self) -> str:
        """The CSRF token the forms carry."""
        return self._mac("csrf") if self.token else ""

    def token_matches(self, given: str) -> bool:
        return bool(self.token) and hmac.compare_digest(given.encode(), (self.token or "").encode())

    def logged_in(self, request: Request) -> bool:
        cookie = request.cookies.get(COOKIE, "")
        return self.writable and hmac.compare_digest(cookie.encode(), self.session.encode())

    def bearer(self, request: Request) -> bool:
        """True if the request carries the token in ``Authorization: Bearer``."""
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.token_matches(given.strip())

    def form_refusal(self, request: Request, form_csrf: str) -> str:
        """Why a form post may not write ('' if it may): read-only, not logged in, a bad CSRF
        token, or another origin."""
        if not self.writable:
            return READ_ONLY
        if not same_origin(request):
            return "refused: the form was posted from another site"
        if not self.logged_in(request):
            return "log in with the dashboard's token first"
        if not hmac.compare_digest(form_csrf.encode(), self.csrf.encode()):
            return "refused: the form's CSRF token is missing or wrong (reload the page)"
        return ""

    def api_refusal(self, request: Request) -> tuple[int, str]:
        """(status, why) an API write is refused; (0, '') if it may go ahead."""
        if not self.writable:
            return 403, READ_ONLY
        if not self.bearer(request):
            return 401, "send the dashboard's token: Authorization: Bearer <token>"
        return 0, ""


READ_ONLY = (
    "this dashboard is read-only: start it with --token (or FLOQ_DASHBOARD_TOKEN) to cancel "
    "and retry"
)


def same_origin(request: Request) -> bool:
    """True if the request's Origin (or, without one, its Referer) is this host; a request
    with neither (not from a browser form) passes on the cookie and the CSRF token alone."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin != "null"
    return urlsplit(origin).netloc == request.headers.get("host", "")
