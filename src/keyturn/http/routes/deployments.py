"""Deployments (CONTRACT.md 3.5): each one runs the env it was created with, for good."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from keyturn.http.body import parse_body, raw_body
from keyturn.http.dependencies import Context, UserTeam
from keyturn.http.openapi import json_body
from keyturn.http.wire_projects import DeploymentIn, deployment_record
from keyturn.services import deployments

router = APIRouter(tags=["deployments"])
Body = Annotated[bytes, Depends(raw_body)]


@router.post("/v13/deployments", openapi_extra=json_body(DeploymentIn))
def create_deployment(context: Context, team_id: UserTeam, body: Body) -> dict[str, Any]:
    """Deploy a project, or redeploy with `deploymentId`: the env is frozen now."""
    request = parse_body(DeploymentIn, body)
    view = deployments.create_deployment(
        context.store,
        team_id,
        name=request.name,
        project_ref=request.project,
        target=request.target,
        git_branch=request.gitBranch,
        redeploy_of=request.deploymentId,
    )
    return deployment_record(view)


@router.get("/v13/deployments/{deploymentId}")
def get_deployment(deploymentId: str, context: Context, team_id: UserTeam) -> dict[str, Any]:
    return deployment_record(deployments.get_deployment(context.store, team_id, deploymentId))


@router.get("/v6/deployments")
def list_deployments(
    context: Context,
    team_id: UserTeam,
    projectId: str | None = None,
    target: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    found, total = deployments.list_deployments(
        context.store, team_id, project_ref=projectId, target=target, limit=limit
    )
    return {
        "deployments": [deployment_record(view) for view in found],
        "pagination": {"count": len(found), "total": total, "next": None, "prev": None},
    }


@router.delete("/v13/deployments/{deploymentId}")
def delete_deployment(deploymentId: str, context: Context, team_id: UserTeam) -> dict[str, Any]:
    deleted = deployments.delete_deployment(context.store, team_id, deploymentId)
    return {"uid": deleted.id, "state": "DELETED"}
