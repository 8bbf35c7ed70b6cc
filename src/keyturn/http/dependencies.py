"""What routes need from the composition root: the services' context and the caller.

These dependencies are `async` and touch no database, so FastAPI runs them on the event loop.
A sync dependency would cost a hop to the thread pool of its own; the database work of a
request (looking up its token included) happens in the route, which is its one hop. The hot
writes (the secrets PUT, a deployment, an env var create) hand the credentials to their use
case, which looks them up in its own transaction.

The caller dependency is also where path and query parameters are checked to be storable text
(`domain.text`), once for every authenticated route. Its 400 is answered right after the
token's look-up (401) and before any scope check (403) or lookup (404), because such a
parameter can name nothing keyturn stores and PostgreSQL refuses NUL in a query's parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from keyturn.domain.accounts import Principal
from keyturn.domain.errors import BadRequest, FieldError
from keyturn.domain.text import text_problem
from keyturn.services.auth import Credentials, identify
from keyturn.services.context import ServiceContext
from keyturn.services.projects import TeamCaller, caller_member, caller_team


async def service_context(request: Request) -> ServiceContext:
    """The context `keyturn.app.create_app` put on `app.state`."""
    context: ServiceContext = request.app.state.context
    return context


Context = Annotated[ServiceContext, Depends(service_context)]


@dataclass(frozen=True, slots=True)
class RequestCaller:
    """The request's credentials, not yet looked up; the route does that in its thread."""

    context: ServiceContext
    credentials: Credentials
    team: TeamCaller

    def principal(self) -> Principal:
        """Whom the token speaks for; 401 when it is unknown or revoked."""
        with self.context.store.read() as uow:
            return identify(uow, self.credentials)

    def team_id(self) -> str:
        """The user token's team; `?teamId=` or `?slug=`, if given, must name it (else 403)."""
        with self.context.store.read() as uow:
            return caller_team(uow, self.team)

    def member(self) -> tuple[str, str | None]:
        """`team_id()`, and the user the token stands for (events name it as their `user`)."""
        with self.context.store.read() as uow:
            return caller_member(uow, self.team)


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


def request_credentials(request: Request, context: ServiceContext) -> Credentials:
    """The request's token, not yet looked up, carrying any parameter's 400 for `identify`;
    401 at once when the header is missing or malformed. For `caller`, and for the routes
    that read their request themselves (the secrets PUT)."""
    credentials = context.authenticator.credentials(request.headers.get("authorization"))
    try:
        check_parameters_text(request)
    except BadRequest as refusal:
        # Answered by `identify`, once the token is known to be good: an unknown one is a 401.
        credentials = credentials.refusing(refusal)
    return credentials


def request_team_caller(request: Request, context: ServiceContext) -> TeamCaller:
    """The request's credentials and the team its `?teamId=` or `?slug=` names, not yet looked
    up; 401 at once when the header is missing or malformed. For `caller`, and for the user
    routes that read their request themselves (env pull, deployment create)."""
    return TeamCaller(
        request_credentials(request, context),
        team_ref=request.query_params.get("teamId"),
        team_slug=request.query_params.get("slug"),
    )


async def caller(request: Request, context: Context) -> RequestCaller:
    """The caller of this request; 401 at once when the header is missing or malformed."""
    team = request_team_caller(request, context)
    return RequestCaller(context=context, credentials=team.credentials, team=team)


Caller = Annotated[RequestCaller, Depends(caller)]
