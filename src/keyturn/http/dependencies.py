"""What routes need from the composition root: the services' context and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from keyturn.domain.accounts import Principal
from keyturn.services.auth import require_user
from keyturn.services.context import ServiceContext
from keyturn.services.projects import check_team_scope


def service_context(request: Request) -> ServiceContext:
    """The context `keyturn.app.create_app` put on `app.state`."""
    context: ServiceContext = request.app.state.context
    return context


def principal(request: Request) -> Principal:
    """The caller, from `Authorization: Bearer`; 401 when there is no usable token."""
    return service_context(request).authenticator.authenticate(request.headers.get("authorization"))


Context = Annotated[ServiceContext, Depends(service_context)]
Caller = Annotated[Principal, Depends(principal)]


def user_team(request: Request, caller: Caller, context: Context) -> str:
    """The user token's team; `?teamId=` or `?slug=`, if given, must name it (else 403)."""
    team_id = require_user(caller)
    check_team_scope(
        context.store,
        team_id,
        request.query_params.get("teamId"),
        request.query_params.get("slug"),
    )
    return team_id


UserTeam = Annotated[str, Depends(user_team)]
