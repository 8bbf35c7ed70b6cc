"""Connections between a resource and a project (CONTRACT.md 3.2), for user tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from keyturn.domain.environment import Connection
from keyturn.http.body import parse_body, raw_body
from keyturn.http.dependencies import Caller, Context
from keyturn.http.openapi import answers, json_body
from keyturn.http.wire_out import ConnectionOut, ConnectionsOut
from keyturn.http.wire_projects import ConnectionIn
from keyturn.services import connections

router = APIRouter(
    prefix="/v1/integrations/installations/{integrationConfigurationId}/resources/{resourceId}",
    tags=["connections"],
)
Body = Annotated[bytes, Depends(raw_body)]


@router.post(
    "/connections",
    status_code=201,
    openapi_extra=json_body(ConnectionIn),
    response_model=None,
    responses=answers(201, ConnectionOut, 400, 401, 403, 404, 409, 413, 422, 503),
)
def connect(
    integrationConfigurationId: str,
    resourceId: str,
    context: Context,
    caller: Caller,
    body: Body,
) -> ConnectionOut:
    """Connect the resource to a project: its secrets become the project's env vars."""
    team_id, user_id = caller.member()
    request = parse_body(ConnectionIn, body).to_request()
    connection = connections.connect_resource(
        context, team_id, integrationConfigurationId, resourceId, request, user_id=user_id
    )
    return _connection_record(connection)


@router.get(
    "/connections",
    response_model=None,
    responses=answers(200, ConnectionsOut, 400, 401, 403, 404, 503),
)
def list_connections(
    integrationConfigurationId: str,
    resourceId: str,
    context: Context,
    caller: Caller,
) -> ConnectionsOut:
    team_id = caller.team_id()
    found = connections.list_connections(context, team_id, integrationConfigurationId, resourceId)
    return {"connections": [_connection_record(connection) for connection in found]}


@router.delete(
    "/connections/{projectId}",
    status_code=204,
    response_class=Response,
    responses=answers(204, None, 400, 401, 403, 404, 503),
)
def disconnect(
    integrationConfigurationId: str,
    resourceId: str,
    projectId: str,
    context: Context,
    caller: Caller,
) -> Response:
    team_id, user_id = caller.member()
    connections.disconnect_resource(
        context, team_id, integrationConfigurationId, resourceId, projectId, user_id=user_id
    )
    return Response(status_code=204)


def _connection_record(connection: Connection) -> ConnectionOut:
    return {
        "id": connection.id,
        "projectId": connection.project_id,
        "envVarEnvironments": list(connection.environments),
        "envVarPrefix": connection.env_var_prefix,
        "makeEnvVarsSensitive": connection.make_sensitive,
        "createdAt": connection.created_at,
    }
