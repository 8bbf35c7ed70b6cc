"""The dashboard's routes: sign-in and sign-out, and one page per thing an owner looks at.

Each page is a sync route (FastAPI runs it in its thread pool, where the service's database
work belongs) that renders a template; a request from htmx (`HX-Request`) gets only the part
it swaps. Anything the signed-in team does not own answers the same 404 as what does not
exist. Every form post carries the session's CSRF token; a post without it, or with another
session's, is refused with 403 and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from keyturn.dashboard.chart import ChartValue, usage_chart
from keyturn.dashboard.rendering import render, versions_label
from keyturn.dashboard.sessions import (
    COOKIE_NAME,
    COOKIE_PATH,
    CSRF_FIELD,
    Session,
    SessionCodec,
)
from keyturn.domain.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from keyturn.domain.ledger import ValueUsage
from keyturn.domain.rotations import MAX_DELAY_HOURS, MAX_REASON_LENGTH
from keyturn.domain.text import text_problem
from keyturn.services import ledger, overview, rotations
from keyturn.services.context import ServiceContext
from keyturn.services.overview import SignedInUser
from keyturn.services.rotations import RotationFailed, RotationRequest

PROJECTS_PER_PAGE: Final = 50
DEPLOYMENTS_STEP: Final = 20
MAX_DEPLOYMENTS_SHOWN: Final = 1_000
CONNECTIONS_STEP: Final = 50
MAX_CONNECTIONS_SHOWN: Final = 1_000

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

router = APIRouter(prefix="/dashboard", include_in_schema=False)


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


def install_dashboard(app: FastAPI, context: ServiceContext, session_key: bytes) -> None:
    """Serve the dashboard under `/dashboard`; `session_key` signs its session cookies, whose
    expiry is kept on the services' clock."""
    app.state.dashboard = DashboardState(context, SessionCodec(session_key, context.clock))
    # As app.py does with the API's routers: routes built once, at import, not per app.
    app.router.routes.extend(router.routes)
    static = StaticFiles(packages=[("keyturn.dashboard", "static")])
    app.mount("/dashboard/static", static, name="dashboard-static")


def _state(request: Request) -> DashboardState:
    state: DashboardState = request.app.state.dashboard
    return state


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def _redirect(location: str) -> RedirectResponse:
    response = RedirectResponse(location, status_code=303, headers=SECURITY_HEADERS)
    return response


def _set_session(response: Response, request: Request, session: Session) -> None:
    sessions = _state(request).sessions
    response.set_cookie(
        COOKIE_NAME,
        sessions.encode(session),
        max_age=sessions.max_age_s(session),
        path=COOKIE_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def _session(request: Request) -> Session | None:
    return _state(request).sessions.decode(request.cookies.get(COOKIE_NAME))


def _error_page(
    status: int, title: str, message: str, viewer: Viewer | None = None
) -> HTMLResponse:
    return _html(
        render(
            "error.html", title=title, message=message, viewer=viewer, csrf=_csrf(viewer), nav=None
        ),
        status,
    )


def _csrf(viewer: Viewer | None) -> str:
    return viewer.session.csrf if viewer else ""


def _view(request: Request, build: Callable[[Viewer], Response]) -> Response:
    """Run a page for the signed-in user, or send them to sign in; render refusals as pages."""
    session = _session(request)
    if session is None:
        # A cookie that no longer decodes is a session that has ended (or was tampered with).
        return _to_sign_in(request, expired=COOKIE_NAME in request.cookies)
    if session.token_digest is None:
        return _to_sign_in(request, expired=False)
    try:
        user = overview.session_user(_state(request).context, session.token_digest)
    except (Unauthorized, Forbidden):
        return _to_sign_in(request, expired=True)
    viewer = Viewer(user, session)
    try:
        return build(viewer)
    except (NotFound, Forbidden):
        # Another team's ids answer as if they did not exist.
        return _error_page(404, "Not found", "There is nothing here for your team.", viewer)
    except ServiceUnavailable:
        return _error_page(503, "Unavailable", "The database is unavailable; retry later.", viewer)


def _action(
    request: Request, csrf_token: str | None, build: Callable[[Viewer], Response]
) -> Response:
    """A form post of a signed-in user: refused with 403, doing nothing, unless it carries
    the session's CSRF token; then run as a page."""
    session = _session(request)
    if session is None or session.token_digest is None or not session.accepts(csrf_token):
        return _csrf_refused()
    return _view(request, build)


def _resource_path(installation_id: str, resource_id: str) -> str:
    return f"/dashboard/resources/{quote(installation_id)}/{quote(resource_id, safe='')}"


def _to_sign_in(request: Request, *, expired: bool) -> Response:
    location = "/dashboard/sign-in" + ("?expired=1" if expired else "")
    if request.headers.get("HX-Request"):
        # htmx follows a redirect inside the swapped part; this makes it load the whole page.
        return Response(status_code=204, headers={**SECURITY_HEADERS, "HX-Redirect": location})
    response = _redirect(location)
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH)
    return response


def _page(viewer: Viewer, template: str, **values: Any) -> HTMLResponse:
    return _html(render(template, viewer=viewer, csrf=viewer.session.csrf, **values))


def _storable(*values: str) -> None:
    """Ids from the path that no row can have (NUL, lone surrogates) are simply not found."""
    if any(text_problem(value) is not None for value in values):
        raise NotFound("no such page")


def _int_param(query: Mapping[str, str], name: str, default: int, *, most: int) -> int:
    """A positive integer query parameter; anything else falls back to the default."""
    raw = query.get(name, "")
    return min(int(raw), most) if raw.isdecimal() and int(raw) >= 1 else default


# Signing in and out


SIGN_IN_MESSAGES: Final = {
    "expired": "Your session has ended. Sign in again.",
    "signed_out": "You are signed out.",
}


@router.get("/sign-in")
def sign_in_form(request: Request) -> Response:
    session = _session(request)
    if session is not None and session.token_digest is not None:
        return _redirect("/dashboard")
    notice = next(
        (text for key, text in SIGN_IN_MESSAGES.items() if key in request.query_params), None
    )
    return _sign_in_page(request, notice=notice)


def _sign_in_page(
    request: Request, *, notice: str | None = None, error: str | None = None, status: int = 200
) -> Response:
    # A fresh anonymous session per form: its CSRF token is what the form posts back.
    session = _state(request).sessions.new(None)
    response = _html(
        render(
            "sign_in.html",
            viewer=None,
            csrf=session.csrf,
            csrf_field=CSRF_FIELD,
            notice=notice,
            error=error,
        ),
        status,
    )
    _set_session(response, request, session)
    return response


@router.post("/sign-in")
def sign_in(
    request: Request,
    token: Annotated[str | None, Form()] = None,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    session = _session(request)
    if session is None or not session.accepts(csrf_token):
        return _csrf_refused()
    if not token or not token.strip():
        return _sign_in_page(request, error="Enter your user token.", status=400)
    try:
        user = overview.sign_in(_state(request).context, token.strip())
    except Unauthorized:
        return _sign_in_page(
            request,
            error="That token was not accepted: it is unknown, revoked or mistyped.",
            status=401,
        )
    except Forbidden:
        return _sign_in_page(
            request,
            error="That is not a user token. Sign in with a user token of your team, "
            "not the admin token or a partner's installation token.",
            status=403,
        )
    response = _redirect("/dashboard")
    # A new session (and CSRF token) on sign-in: nothing from before it carries over.
    _set_session(response, request, _state(request).sessions.new(user.token_digest))
    return response


@router.post("/sign-out")
def sign_out(request: Request, csrf_token: Annotated[str | None, Form()] = None) -> Response:
    session = _session(request)
    if session is None or not session.accepts(csrf_token):
        return _csrf_refused()
    response = _redirect("/dashboard/sign-in?signed_out=1")
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH)
    return response


def _csrf_refused() -> Response:
    return _error_page(
        403,
        "Refused",
        "This form's security token is missing or out of date, so nothing was done. "
        "Reload the page and try again.",
    )


# Pages


@router.get("")
def resources_page(request: Request) -> Response:
    def build(viewer: Viewer) -> Response:
        context = _state(request).context
        resources = overview.team_resources(context, viewer.team_id)
        # Per resource, from its usage ledger: superseded values still run, and those that
        # no live deployment runs any more (safe to revoke).
        values = {
            item.resource.internal_id: ledger.secrets_usage(
                context,
                viewer.user.caller,
                item.resource.installation_id,
                item.resource.partner_id,
                state=None,
            ).values
            for item in resources
        }
        counts = {
            internal_id: (
                sum(1 for v in found if not v.span.current and not v.safe_to_revoke),
                sum(1 for v in found if v.safe_to_revoke),
            )
            for internal_id, found in values.items()
        }
        last_rotations = {
            item.resource.internal_id: next(
                iter(
                    rotations.list_rotations_for_owner(
                        context,
                        viewer.user.caller,
                        item.resource.installation_id,
                        item.resource.partner_id,
                    )
                ),
                None,
            )
            for item in resources
        }
        return _page(
            viewer,
            "resources.html",
            nav="resources",
            resources=resources,
            counts=counts,
            last_rotations=last_rotations,
        )

    return _view(request, build)


@router.get("/resources/{installation_id}/{resource_id}")
def resource_page(request: Request, installation_id: str, resource_id: str) -> Response:
    def build(viewer: Viewer) -> Response:
        _storable(installation_id, resource_id)
        shown = _int_param(
            request.query_params, "projects", CONNECTIONS_STEP, most=MAX_CONNECTIONS_SHOWN
        )
        found = overview.resource_overview(
            _state(request).context,
            viewer.team_id,
            installation_id,
            resource_id,
            connection_limit=shown,
        )
        if request.headers.get("HX-Request"):
            return _page(
                viewer,
                "_connections.html",
                view=found,
                shown=shown,
                step=CONNECTIONS_STEP,
                most=MAX_CONNECTIONS_SHOWN,
            )
        context, caller = _state(request).context, viewer.user.caller
        versions = ledger.list_versions(
            context, caller, installation_id, resource_id, limit=None, until=None
        )
        usage = ledger.secrets_usage(context, caller, installation_id, resource_id, state=None)
        history = rotations.list_rotations_for_owner(context, caller, installation_id, resource_id)
        redeployed = request.query_params.get("redeployed", "")
        return _page(
            viewer,
            "resource.html",
            nav="resources",
            view=found,
            shown=shown,
            step=CONNECTIONS_STEP,
            most=MAX_CONNECTIONS_SHOWN,
            versions=versions.versions,
            values=usage.values,
            chart=usage_chart([_chart_value(value) for value in usage.values]),
            path=_resource_path(installation_id, resource_id),
            redeployed=int(redeployed) if redeployed.isdecimal() else None,
            rotations=history,
            rotation_notice=ROTATION_NOTICES.get(request.query_params.get("rotation", "")),
            max_reason=MAX_REASON_LENGTH,
            max_delay=MAX_DELAY_HOURS,
        )

    return _view(request, build)


@router.post("/resources/{installation_id}/{resource_id}/redeploy-stale")
def redeploy_stale(
    request: Request,
    installation_id: str,
    resource_id: str,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Redeploy every project, target and branch whose newest deployment is stale."""

    def build(viewer: Viewer) -> Response:
        _storable(installation_id, resource_id)
        made = ledger.redeploy_stale(
            _state(request).context, viewer.user.caller, installation_id, resource_id
        )
        path = _resource_path(installation_id, resource_id)
        return _redirect(f"{path}?redeployed={len(made)}#stale-heading")

    return _action(request, csrf_token, build)


# What the resource page says after a rotation request, by outcome (`?rotation=`).
ROTATION_NOTICES: Final = {
    "completed": "The partner rotated the secrets: a new version is in force.",
    "pending": "Rotation requested: the partner will send the new secrets (pending).",
    "failed": "The partner did not rotate the secrets; the history below says why.",
    "rotation_not_supported": "This integration has no partner API to ask for a rotation.",
    "rotation_in_progress": "A rotation of this resource is already pending.",
    "bad_reason": f"The reason must be 1 to {MAX_REASON_LENGTH} characters.",
    "bad_delay": f"The delay must be a number of hours from 0 to {MAX_DELAY_HOURS}.",
}


@router.post("/resources/{installation_id}/{resource_id}/rotate")
def request_rotation(
    request: Request,
    installation_id: str,
    resource_id: str,
    csrf_token: Annotated[str | None, Form()] = None,
    reason: Annotated[str | None, Form()] = None,
    delay_hours: Annotated[str | None, Form()] = None,
) -> Response:
    """Ask the partner to rotate the resource's secrets (CONTRACT.md 5.3), as the API does."""

    def build(viewer: Viewer) -> Response:
        _storable(installation_id, resource_id)
        path = _resource_path(installation_id, resource_id) + "?rotation="
        asked = _rotation_request(reason, delay_hours)
        if isinstance(asked, str):
            return _redirect(path + asked + "#rotations-heading")
        context = _state(request).context
        issuer = context.oidc_issuer or str(request.base_url).rstrip("/")
        try:
            answer = rotations.request_rotation(
                context,
                viewer.user.caller,
                installation_id,
                resource_id,
                lambda: asked,
                issuer=issuer,
            )
        except RotationFailed:
            outcome = "failed"
        except Conflict as refused:
            outcome = refused.code if refused.code in ROTATION_NOTICES else "failed"
        else:
            outcome = "completed" if answer.completed else "pending"
        return _redirect(path + outcome + "#rotations-heading")

    return _action(request, csrf_token, build)


def _rotation_request(reason: str | None, delay_hours: str | None) -> RotationRequest | str:
    """The form as the API's body (only the fields filled in), or what is wrong with it."""
    sent: dict[str, Any] = {}
    reason = (reason or "").strip()
    if reason:
        if len(reason) > MAX_REASON_LENGTH or text_problem(reason):
            return "bad_reason"
        sent["reason"] = reason
    delay = (delay_hours or "").strip()
    if delay:
        try:
            hours = float(delay)
        except ValueError:
            return "bad_delay"
        if not 0 <= hours <= MAX_DELAY_HOURS:  # NaN fails this too
            return "bad_delay"
        sent["delayOldSecretsExpirationHours"] = hours
    return RotationRequest(
        reason=sent.get("reason"),
        delay_hours=sent.get("delayOldSecretsExpirationHours"),
        sent=sent,
    )


def _chart_value(value: ValueUsage) -> ChartValue:
    span = value.span
    return ChartValue(
        label=f"{span.name} {versions_label(span.from_version, span.to_version)}",
        live=value.live_deployments,
        serving=value.serving_deployments,
        current=span.current,
        safe_to_revoke=value.safe_to_revoke,
    )


@router.get("/projects")
def projects_page(request: Request) -> Response:
    def build(viewer: Viewer) -> Response:
        page = _int_param(request.query_params, "page", 1, most=1_000_000)
        summaries, total = overview.team_projects(
            _state(request).context, viewer.team_id, page=page, page_size=PROJECTS_PER_PAGE
        )
        pages = max(1, -(-total // PROJECTS_PER_PAGE))
        return _page(
            viewer,
            "projects.html",
            nav="projects",
            projects=summaries,
            total=total,
            page=page,
            pages=pages,
        )

    return _view(request, build)


@router.get("/projects/{project_id}")
def project_page(request: Request, project_id: str) -> Response:
    def build(viewer: Viewer) -> Response:
        _storable(project_id)
        shown = _int_param(
            request.query_params, "deployments", DEPLOYMENTS_STEP, most=MAX_DEPLOYMENTS_SHOWN
        )
        found = overview.project_overview(
            _state(request).context, viewer.team_id, project_id, deployment_limit=shown
        )
        template = "_deployments.html" if request.headers.get("HX-Request") else "project.html"
        return _page(
            viewer,
            template,
            nav="projects",
            view=found,
            shown=shown,
            step=DEPLOYMENTS_STEP,
            most=MAX_DEPLOYMENTS_SHOWN,
        )

    return _view(request, build)


@router.get("/deployments/{deployment_id}")
def deployment_page(request: Request, deployment_id: str) -> Response:
    def build(viewer: Viewer) -> Response:
        _storable(deployment_id)
        found = overview.deployment_overview(_state(request).context, viewer.team_id, deployment_id)
        return _page(viewer, "deployment.html", nav="projects", view=found)

    return _view(request, build)
