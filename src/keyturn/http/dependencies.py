"""What routes need from the composition root: the services' context and the caller.

The caller dependency is also where path and query parameters are checked to be storable text
(`domain.text`), once for every authenticated route: right after the token (401) and before
any scope check (403) or lookup (404), because such a parameter can name nothing keyturn
stores and PostgreSQL refuses NUL in a query's parameters.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from keyturn.domain.accounts import Principal
from keyturn.domain.errors import BadRequest, FieldError
from keyturn.domain.text import text_problem
from keyturn.services.auth import require_user
from keyturn.services.context import ServiceContext
from keyturn.services.projects import check_team_scope


def service_context(request: Request) -> ServiceContext:
    """The context `keyturn.app.create_app` put on `app.state`."""
    context: ServiceContext = request.app.state.context
    return context


def principal(request: Request) -> Principal:
    """The caller, from `Authorization: Bearer`; 401 when there is no usable token, then 400
    when a path or query parameter is not storable text."""
    caller = service_context(request).authenticator.authenticate(
        request.headers.get("authorization")
    )
    check_parameters_text(request)
    return caller


def check_parameters_text(request: Request) -> None:
    """400 `bad_request` naming the first path or query parameter that is not storable text."""
    named = [("path", name, value) for name, value in request.path_params.items()]
    named += [("query", name, value) for name, value in request.query_params.multi_items()]
    for where, name, value in named:
        problem = text_problem(name)
        if problem is not None:
            message = f"{where}: a parameter's name {problem}"
            raise BadRequest(message, (FieldError(where, message),))
        problem = text_problem(str(value))
        if problem is not None:
            message = f"{where} parameter {name}: {problem}"
            raise BadRequest(message, (FieldError(name, problem),))


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
