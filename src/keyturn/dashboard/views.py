"""What every dashboard page shares: the session of a request, the security headers, and
running a page or a form post for the signed-in user (refusals rendered as pages).

A page the signed-in team does not own answers the same 404 as one that does not exist; a form
post without the session's CSRF token is refused with 403 and does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from keyturn.dashboard.rendering import render
from keyturn.dashboard.sessions import COOKIE_NAME, COOKIE_PATH, Session, SessionCodec
from keyturn.domain.errors import Forbidden, NotFound, ServiceUnavailable, Unauthorized
from keyturn.domain.text import text_problem
from keyturn.services import overview
from keyturn.services.context import ServiceContext
from keyturn.services.overview import SignedInUser

# What every dashboard answer carries. The pages load only their own script and stylesheet,
# are never framed, never cached (they name a team's deployments) and send no referrer.
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True, slots=True)
class DashboardState:
    context: ServiceContext
    sessions: SessionCodec


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in user of a request and their session (for its CSRF token)."""

    user: SignedInUser
    session: Session

    @property
    def team_id(self) -> str:
        return self.user.team.id


def state_of(request: Request) -> DashboardState:
    state: DashboardState = request.app.state.dashboard
    return state


def html_response(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def see_other(location: str) -> RedirectResponse:
    response = RedirectResponse(location, status_code=303, headers=SECURITY_HEADERS)
    return response


def set_session(response: Response, request: Request, session: Session) -> None:
    sessions = state_of(request).sessions
    response.set_cookie(
        COOKIE_NAME,
        sessions.encode(session),
        max_age=sessions.max_age_s(session),
        path=COOKIE_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def session_of(request: Request) -> Session | None:
    return state_of(request).sessions.decode(request.cookies.get(COOKIE_NAME))


def error_page(status: int, title: str, message: str, viewer: Viewer | None = None) -> HTMLResponse:
    return html_response(
        render(
            "error.html",
            title=title,
            message=message,
            viewer=viewer,
            csrf=viewer_csrf(viewer),
            nav=None,
        ),
        status,
    )


def viewer_csrf(viewer: Viewer | None) -> str:
    return viewer.session.csrf if viewer else ""


def run_view(request: Request, build: Callable[[Viewer], Response]) -> Response:
    """Run a page for the signed-in user, or send them to sign in; render refusals as pages."""
    session = session_of(request)
    if session is None:
        # A cookie that no longer decodes is a session that has ended (or was tampered with).
        return to_sign_in(request, expired=COOKIE_NAME in request.cookies)
    if session.token_digest is None:
        return to_sign_in(request, expired=False)
    try:
        user = overview.session_user(state_of(request).context, session.token_digest)
    except (Unauthorized, Forbidden):
        return to_sign_in(request, expired=True)
    viewer = Viewer(user, session)
    try:
        return build(viewer)
    except (NotFound, Forbidden):
        # Another team's ids answer as if they did not exist.
        return error_page(404, "Not found", "There is nothing here for your team.", viewer)
    except ServiceUnavailable:
        return error_page(503, "Unavailable", "The database is unavailable; retry later.", viewer)


def run_action(
    request: Request, csrf_token: str | None, build: Callable[[Viewer], Response]
) -> Response:
    """A form post of a signed-in user: refused with 403, doing nothing, unless it carries
    the session's CSRF token; then run as a page."""
    session = session_of(request)
    if session is None or session.token_digest is None or not session.accepts(csrf_token):
        return csrf_refused()
    return run_view(request, build)


def to_sign_in(request: Request, *, expired: bool) -> Response:
    location = "/dashboard/sign-in" + ("?expired=1" if expired else "")
    if request.headers.get("HX-Request"):
        # htmx follows a redirect inside the swapped part; this makes it load the whole page.
        return Response(status_code=204, headers={**SECURITY_HEADERS, "HX-Redirect": location})
    response = see_other(location)
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH)
    return response


def render_page(viewer: Viewer, template: str, **values: Any) -> HTMLResponse:
    return html_response(render(template, viewer=viewer, csrf=viewer.session.csrf, **values))


def storable(*values: str) -> None:
    """Ids from the path that no row can have (NUL, lone surrogates) are simply not found."""
    if any(text_problem(value) is not None for value in values):
        raise NotFound("no such page")


def int_param(query: Mapping[str, str], name: str, default: int, *, most: int) -> int:
    """A positive integer query parameter; anything else falls back to the default."""
    raw = query.get(name, "")
    return min(int(raw), most) if raw.isdecimal() and int(raw) >= 1 else default


def csrf_refused() -> Response:
    return error_page(
        403,
        "Refused",
        "This form's security token is missing or out of date, so nothing was done. "
        "Reload the page and try again.",
    )
