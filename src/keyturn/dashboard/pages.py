"""The dashboard's routes: sign-in and sign-out, and one page per thing an owner looks at.

Each page is a sync route (FastAPI runs it in its thread pool, where the service's database
work belongs) that renders a template; a request from htmx (`HX-Request`) gets only the part
it swaps. Anything the signed-in team does not own answers the same 404 as what does not
exist. Every form post carries the session's CSRF token; a post without it, or with another
session's, is refused with 403 and changes nothing.
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from keyturn.dashboard import event_pages
from keyturn.dashboard.chart import ChartValue, usage_chart
from keyturn.dashboard.rendering import render, versions_label
from keyturn.dashboard.sessions import COOKIE_NAME, COOKIE_PATH, CSRF_FIELD, SessionCodec
from keyturn.dashboard.views import (
    DashboardState,
    Viewer,
    csrf_refused,
    html_response,
    int_param,
    render_page,
    run_action,
    run_view,
    see_other,
    session_of,
    set_session,
    state_of,
    storable,
)
from keyturn.domain.errors import Conflict, Forbidden, Unauthorized
from keyturn.domain.ledger import ValueUsage
from keyturn.domain.rotations import MAX_DELAY_HOURS, MAX_REASON_LENGTH
from keyturn.domain.text import text_problem
from keyturn.services import ledger, overview, rotations
from keyturn.services.context import ServiceContext
from keyturn.services.rotations import RotationFailed, RotationRequest

PROJECTS_PER_PAGE: Final = 50
DEPLOYMENTS_STEP: Final = 20
MAX_DEPLOYMENTS_SHOWN: Final = 1_000
CONNECTIONS_STEP: Final = 50
MAX_CONNECTIONS_SHOWN: Final = 1_000

router = APIRouter(prefix="/dashboard", include_in_schema=False)


def install_dashboard(app: FastAPI, context: ServiceContext, session_key: bytes) -> None:
    """Serve the dashboard under `/dashboard`; `session_key` signs its session cookies, whose
    expiry is kept on the services' clock."""
    app.state.dashboard = DashboardState(context, SessionCodec(session_key, context.clock))
    # As app.py does with the API's routers: routes built once, at import, not per app.
    app.router.routes.extend(router.routes)
    app.router.routes.extend(event_pages.router.routes)
    static = StaticFiles(packages=[("keyturn.dashboard", "static")])
    app.mount("/dashboard/static", static, name="dashboard-static")


def _resource_path(installation_id: str, resource_id: str) -> str:
    return f"/dashboard/resources/{quote(installation_id)}/{quote(resource_id, safe='')}"


# Signing in and out


SIGN_IN_MESSAGES: Final = {
    "expired": "Your session has ended. Sign in again.",
    "signed_out": "You are signed out.",
}


@router.get("/sign-in")
def sign_in_form(request: Request) -> Response:
    session = session_of(request)
    if session is not None and session.token_digest is not None:
        return see_other("/dashboard")
    notice = next(
        (text for key, text in SIGN_IN_MESSAGES.items() if key in request.query_params), None
    )
    return _sign_in_page(request, notice=notice)


def _sign_in_page(
    request: Request, *, notice: str | None = None, error: str | None = None, status: int = 200
) -> Response:
    # A fresh anonymous session per form: its CSRF token is what the form posts back.
    session = state_of(request).sessions.new(None)
    response = html_response(
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
    set_session(response, request, session)
    return response


@router.post("/sign-in")
def sign_in(
    request: Request,
    token: Annotated[str | None, Form()] = None,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    session = session_of(request)
    if session is None or not session.accepts(csrf_token):
        return csrf_refused()
    if not token or not token.strip():
        return _sign_in_page(request, error="Enter your user token.", status=400)
    try:
        user = overview.sign_in(state_of(request).context, token.strip())
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
    response = see_other("/dashboard")
    # A new session (and CSRF token) on sign-in: nothing from before it carries over.
    set_session(response, request, state_of(request).sessions.new(user.token_digest))
    return response


@router.post("/sign-out")
def sign_out(request: Request, csrf_token: Annotated[str | None, Form()] = None) -> Response:
    session = session_of(request)
    if session is None or not session.accepts(csrf_token):
        return csrf_refused()
    response = see_other("/dashboard/sign-in?signed_out=1")
    response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH)
    return response


# Pages


@router.get("")
def resources_page(request: Request) -> Response:
    def build(viewer: Viewer) -> Response:
        context = state_of(request).context
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
        return render_page(
            viewer,
            "resources.html",
            nav="resources",
            resources=resources,
            counts=counts,
            last_rotations=last_rotations,
        )

    return run_view(request, build)


@router.get("/resources/{installation_id}/{resource_id}")
def resource_page(request: Request, installation_id: str, resource_id: str) -> Response:
    def build(viewer: Viewer) -> Response:
        storable(installation_id, resource_id)
        shown = int_param(
            request.query_params, "projects", CONNECTIONS_STEP, most=MAX_CONNECTIONS_SHOWN
        )
        found = overview.resource_overview(
            state_of(request).context,
            viewer.team_id,
            installation_id,
            resource_id,
            connection_limit=shown,
        )
        if request.headers.get("HX-Request"):
            return render_page(
                viewer,
                "_connections.html",
                view=found,
                shown=shown,
                step=CONNECTIONS_STEP,
                most=MAX_CONNECTIONS_SHOWN,
            )
        context, caller = state_of(request).context, viewer.user.caller
        versions = ledger.list_versions(
            context, caller, installation_id, resource_id, limit=None, until=None
        )
        usage = ledger.secrets_usage(context, caller, installation_id, resource_id, state=None)
        history = rotations.list_rotations_for_owner(context, caller, installation_id, resource_id)
        redeployed = request.query_params.get("redeployed", "")
        return render_page(
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

    return run_view(request, build)


@router.post("/resources/{installation_id}/{resource_id}/redeploy-stale")
def redeploy_stale(
    request: Request,
    installation_id: str,
    resource_id: str,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Redeploy every project, target and branch whose newest deployment is stale."""

    def build(viewer: Viewer) -> Response:
        storable(installation_id, resource_id)
        made = ledger.redeploy_stale(
            state_of(request).context, viewer.user.caller, installation_id, resource_id
        )
        path = _resource_path(installation_id, resource_id)
        return see_other(f"{path}?redeployed={len(made)}#stale-heading")

    return run_action(request, csrf_token, build)


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
        storable(installation_id, resource_id)
        path = _resource_path(installation_id, resource_id) + "?rotation="
        asked = _rotation_request(reason, delay_hours)
        if isinstance(asked, str):
            return see_other(path + asked + "#rotations-heading")
        context = state_of(request).context
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
        return see_other(path + outcome + "#rotations-heading")

    return run_action(request, csrf_token, build)


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
        page = int_param(request.query_params, "page", 1, most=1_000_000)
        summaries, total = overview.team_projects(
            state_of(request).context, viewer.team_id, page=page, page_size=PROJECTS_PER_PAGE
        )
        pages = max(1, -(-total // PROJECTS_PER_PAGE))
        return render_page(
            viewer,
            "projects.html",
            nav="projects",
            projects=summaries,
            total=total,
            page=page,
            pages=pages,
        )

    return run_view(request, build)


@router.get("/projects/{project_id}")
def project_page(request: Request, project_id: str) -> Response:
    def build(viewer: Viewer) -> Response:
        storable(project_id)
        shown = int_param(
            request.query_params, "deployments", DEPLOYMENTS_STEP, most=MAX_DEPLOYMENTS_SHOWN
        )
        found = overview.project_overview(
            state_of(request).context, viewer.team_id, project_id, deployment_limit=shown
        )
        template = "_deployments.html" if request.headers.get("HX-Request") else "project.html"
        return render_page(
            viewer,
            template,
            nav="projects",
            view=found,
            shown=shown,
            step=DEPLOYMENTS_STEP,
            most=MAX_DEPLOYMENTS_SHOWN,
        )

    return run_view(request, build)


@router.get("/deployments/{deployment_id}")
def deployment_page(request: Request, deployment_id: str) -> Response:
    def build(viewer: Viewer) -> Response:
        storable(deployment_id)
        found = overview.deployment_overview(
            state_of(request).context, viewer.team_id, deployment_id
        )
        return render_page(viewer, "deployment.html", nav="projects", view=found)

    return run_view(request, build)
