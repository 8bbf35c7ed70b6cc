"""Deployments (CONTRACT.md 3.5): each one runs the env it was created with, for good."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from keyturn.http.body import parse_body, parsed_when_asked
from keyturn.http.dependencies import Caller, Context, request_team_caller
from keyturn.http.openapi import answers, json_body
from keyturn.http.responses import json_response
from keyturn.http.threads import in_worker_thread
from keyturn.http.wire_out import DeletedDeploymentOut, DeploymentOut, DeploymentsOut
from keyturn.http.wire_projects import DeploymentIn, deployment_record
from keyturn.services import deployments
from keyturn.services.context import ServiceContext
from keyturn.services.projects import TeamCaller

router = APIRouter(tags=["deployments"])


# Deployment create reads its request itself instead of through FastAPI's parameters and
# dependencies, as the secrets PUT does (docs/performance.md "Seventh pass"): `Caller`'s and
# `Body`'s work, in their order, then the deployment and its answer in one thread-pool hop.
@router.post(
    "/v13/deployments",
    openapi_extra=json_body(DeploymentIn),
    response_model=None,
    responses=answers(200, DeploymentOut, 400, 401, 403, 404, 409, 413, 503),
)
async def create_deployment(request: Request) -> Response:
    """Deploy a project, or redeploy with `deploymentId`: the env is frozen now."""
    context: ServiceContext = request.app.state.context
    caller = request_team_caller(request, context)
    body = await request.body()
    return await in_worker_thread(_created, context, caller, body)


def _created(context: ServiceContext, caller: TeamCaller, body: bytes) -> Response:
    def parse() -> deployments.DeploymentRequest:
        request = parse_body(DeploymentIn, body)
        return deployments.DeploymentRequest(
            name=request.name,
            project_ref=request.project,
            target=request.target,
            git_branch=request.gitBranch,
            redeploy_of=request.deploymentId,
        )

    view = deployments.create_deployment(context, caller, parsed_when_asked(parse))
    return json_response(deployment_record(view))


@router.get(
    "/v13/deployments/{deploymentId}",
    response_model=None,
    responses=answers(200, DeploymentOut, 400, 401, 403, 404, 503),
)
def get_deployment(deploymentId: str, context: Context, caller: Caller) -> DeploymentOut:
    team_id = caller.team_id()
    return deployment_record(deployments.get_deployment(context, team_id, deploymentId))


@router.get(
    "/v6/deployments",
    response_model=None,
    responses=answers(200, DeploymentsOut, 400, 401, 403, 404, 503),
)
def list_deployments(
    context: Context,
    caller: Caller,
    projectId: str | None = None,
    target: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> DeploymentsOut:
    team_id = caller.team_id()
    found, total = deployments.list_deployments(
        context, team_id, project_ref=projectId, target=target, limit=limit
    )
    return {
        "deployments": [deployment_record(view) for view in found],
        "pagination": {"count": len(found), "total": total, "next": None, "prev": None},
    }


@router.delete(
    "/v13/deployments/{deploymentId}",
    response_model=None,
    responses=answers(200, DeletedDeploymentOut, 400, 401, 403, 404, 503),
)
def delete_deployment(deploymentId: str, context: Context, caller: Caller) -> DeletedDeploymentOut:
    team_id = caller.team_id()
    deleted = deployments.delete_deployment(context, team_id, deploymentId)
    return {"uid": deleted.id, "state": "DELETED"}
