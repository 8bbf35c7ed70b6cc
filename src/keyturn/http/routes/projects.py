"""Projects (CONTRACT.md 3.1) and the account lookups Vercel's CLI makes (3.4)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from keyturn.domain.accounts import user_id_of
from keyturn.http.body import parse_body, raw_body
from keyturn.http.dependencies import Caller, Context
from keyturn.http.openapi import answers, json_body
from keyturn.http.wire_out import (
    CurrentUserOut,
    CustomEnvironmentsOut,
    ProjectOut,
    ProjectsOut,
    TeamOut,
)
from keyturn.http.wire_projects import ProjectIn, project_record
from keyturn.services import projects

router = APIRouter(tags=["projects"])
Body = Annotated[bytes, Depends(raw_body)]


@router.post(
    "/v11/projects",
    openapi_extra=json_body(ProjectIn),
    response_model=None,
    responses=answers(200, ProjectOut, 400, 401, 403, 409, 413, 503),
)
def create_project(context: Context, caller: Caller, body: Body) -> ProjectOut:
    team_id, user_id = caller.member()
    request = parse_body(ProjectIn, body)
    return project_record(projects.create_project(context, team_id, request.name, user_id=user_id))


@router.get(
    "/v9/projects",
    response_model=None,
    responses=answers(200, ProjectsOut, 400, 401, 403, 503),
)
def list_projects(context: Context, caller: Caller) -> ProjectsOut:
    team_id = caller.team_id()
    found = projects.list_projects(context, team_id)
    return {
        "projects": [project_record(project) for project in found],
        "pagination": {"count": len(found), "next": None, "prev": None},
    }


@router.get(
    "/v9/projects/{idOrName}",
    response_model=None,
    responses=answers(200, ProjectOut, 400, 401, 403, 404, 503),
)
def get_project(idOrName: str, context: Context, caller: Caller) -> ProjectOut:
    team_id = caller.team_id()
    return project_record(projects.get_project(context, team_id, idOrName))


@router.delete(
    "/v9/projects/{idOrName}",
    status_code=204,
    response_class=Response,
    responses=answers(204, None, 400, 401, 403, 404, 503),
)
def delete_project(idOrName: str, context: Context, caller: Caller) -> Response:
    team_id, user_id = caller.member()
    projects.delete_project(context, team_id, idOrName, user_id=user_id)
    return Response(status_code=204)


@router.get(
    "/projects/{idOrName}/custom-environments",
    response_model=None,
    responses=answers(200, CustomEnvironmentsOut, 400, 401, 403, 404, 503),
)
@router.get(
    "/v9/projects/{idOrName}/custom-environments",
    response_model=None,
    responses=answers(200, CustomEnvironmentsOut, 400, 401, 403, 404, 503),
)
def custom_environments(idOrName: str, context: Context, caller: Caller) -> CustomEnvironmentsOut:
    """keyturn has the three standard environments only."""
    team_id = caller.team_id()
    projects.get_project(context, team_id, idOrName)
    return {"environments": []}


@router.get(
    "/v2/user",
    tags=["account"],
    response_model=None,
    responses=answers(200, CurrentUserOut, 400, 401, 403, 503),
)
def current_user(context: Context, caller: Caller) -> CurrentUserOut:
    """The token as a user: the CLI asks for it; a team token's user is its team's member."""
    team_id = caller.team_id()
    team = projects.find_team(context, team_id, team_id)
    principal = caller.principal()
    user_id = user_id_of(principal)
    return {
        "user": {
            "id": user_id,
            "uid": user_id,
            "username": team.slug,
            "name": team.name,
            "defaultTeamId": team.id,
        }
    }


@router.get(
    "/teams/{teamId}",
    tags=["account"],
    response_model=None,
    responses=answers(200, TeamOut, 400, 401, 403, 503),
)
@router.get(
    "/v2/teams/{teamId}",
    tags=["account"],
    response_model=None,
    responses=answers(200, TeamOut, 400, 401, 403, 503),
)
def get_team(teamId: str, context: Context, caller: Caller) -> TeamOut:
    team = projects.find_team(context, caller.team_id(), teamId)
    return {"id": team.id, "slug": team.slug, "name": team.name}
