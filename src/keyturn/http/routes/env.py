"""Env var endpoints (CONTRACT.md 3.4), shaped as Vercel's so its CLI and SDK work unchanged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import TypeAdapter

from keyturn.http.body import parse_body, parse_body_as, parsed_when_asked, raw_body
from keyturn.http.dependencies import Caller, Context, request_team_caller
from keyturn.http.openapi import answers, json_body, request_parameters
from keyturn.http.responses import json_response
from keyturn.http.threads import in_worker_thread
from keyturn.http.wire_out import (
    CreatedEnvVarsOut,
    DeploymentEnvOut,
    EnvVarOut,
    EnvVarsOut,
    PulledEnvOut,
)
from keyturn.http.wire_projects import UserEnvVarIn, UserEnvVarPatchIn, env_record
from keyturn.services import deployments, env
from keyturn.services.context import ServiceContext
from keyturn.services.projects import TeamCaller

router = APIRouter(tags=["env"])
Body = Annotated[bytes, Depends(raw_body)]
OneUserEnvVarIn = TypeAdapter(UserEnvVarIn)
UserEnvVarListIn = TypeAdapter(list[UserEnvVarIn])


def _flag(value: str | None) -> bool:
    return value in ("true", "1")


@router.get(
    "/v10/projects/{idOrName}/env",
    response_model=None,
    responses=answers(200, EnvVarsOut, 400, 401, 403, 404, 503),
)
def list_env(
    idOrName: str,
    context: Context,
    caller: Caller,
    target: str | None = None,
    gitBranch: str | None = None,
    decrypt: str | None = None,
) -> EnvVarsOut:
    """The project's variables; values only with `decrypt=true`, and never sensitive ones."""
    team_id = caller.team_id()
    found = env.list_env(context, team_id, idOrName, target=target, git_branch=gitBranch)
    return {
        "envs": [env_record(var, decrypt=_flag(decrypt)) for var in found],
        "pagination": {"count": len(found), "next": None, "prev": None},
    }


@router.get(
    "/v1/projects/{idOrName}/env/{envId}",
    response_model=None,
    responses=answers(200, EnvVarOut, 400, 401, 403, 404, 503),
)
def get_env_var(idOrName: str, envId: str, context: Context, caller: Caller) -> EnvVarOut:
    """One variable, decrypted unless it is sensitive."""
    team_id = caller.team_id()
    return env_record(env.get_env_var(context, team_id, idOrName, envId), decrypt=True)


@router.post(
    "/v10/projects/{idOrName}/env",
    status_code=201,
    openapi_extra=json_body(UserEnvVarIn | list[UserEnvVarIn]),
    response_model=None,
    responses=answers(201, CreatedEnvVarsOut, 400, 401, 403, 404, 409, 413, 503),
)
def create_env_vars(
    idOrName: str,
    context: Context,
    caller: Caller,
    body: Body,
    upsert: Annotated[str | None, Query()] = None,
) -> Response:
    """Create user variables, one or a list; with `upsert=true`, replace those of the same key."""

    def parse() -> list[env.NewUserVar]:
        # One variable or a list of them; errors then name `[1].key` rather than a union branch.
        if body.lstrip().startswith(b"["):
            items = parse_body_as(UserEnvVarListIn, body)
        else:
            items = [parse_body_as(OneUserEnvVarIn, body)]
        return [item.to_input() for item in items]

    result = env.create_env_vars(
        context, caller.team, idOrName, parsed_when_asked(parse), upsert=_flag(upsert)
    )
    return json_response(
        {
            "created": [env_record(var, decrypt=False) for var in result.created],
            "failed": [
                {"error": {"code": code, "message": message, "key": key, "envVarKey": key}}
                for key, code, message in result.failed
            ],
        },
        status_code=201,
    )


@router.patch(
    "/v9/projects/{idOrName}/env/{envId}",
    openapi_extra=json_body(UserEnvVarPatchIn),
    response_model=None,
    responses=answers(200, EnvVarOut, 400, 401, 403, 404, 409, 413, 503),
)
def patch_env_var(
    idOrName: str,
    envId: str,
    context: Context,
    caller: Caller,
    body: Body,
) -> EnvVarOut:
    team_id = caller.team_id()
    patch = parse_body(UserEnvVarPatchIn, body).to_input()
    return env_record(env.patch_env_var(context, team_id, idOrName, envId, patch), decrypt=False)


@router.delete(
    "/v9/projects/{idOrName}/env/{envId}",
    response_model=None,
    responses=answers(200, EnvVarOut, 400, 401, 403, 404, 409, 503),
)
def delete_env_var(idOrName: str, envId: str, context: Context, caller: Caller) -> EnvVarOut:
    team_id = caller.team_id()
    return env_record(env.delete_env_var(context, team_id, idOrName, envId), decrypt=False)


PULL_PATH = ("projectId", "target")


# Env pull reads its request itself instead of through FastAPI's parameters and dependencies,
# as the secrets PUT does (docs/performance.md "Seventh pass"): `Caller`'s work, in its order,
# then the pull and its answer in one thread-pool hop.
@router.get(
    "/v3/env/pull/{projectId}/{target}",
    openapi_extra=request_parameters(PULL_PATH, optional=(("query", "gitBranch"),)),
    response_model=None,
    responses=answers(200, PulledEnvOut, 400, 401, 403, 404, 503),
)
@router.get(
    "/v3/env/pull/{projectId}/{target}/{gitBranch:path}",
    openapi_extra=request_parameters(PULL_PATH, optional=(("path", "gitBranch"),)),
    response_model=None,
    responses=answers(200, PulledEnvOut, 400, 401, 403, 404, 503),
)
async def pull_project_env(request: Request) -> Response:
    """`vercel env pull`: the env a build of this target (and branch) would get now."""
    context: ServiceContext = request.app.state.context
    caller = request_team_caller(request, context)
    path = request.path_params
    # The branch is the path's on the longer route, else the query's (`?gitBranch=`).
    git_branch = path["gitBranch"] if "gitBranch" in path else request.query_params.get("gitBranch")
    return await in_worker_thread(
        _pulled, context, caller, path["projectId"], path["target"], git_branch
    )


def _pulled(
    context: ServiceContext,
    caller: TeamCaller,
    project_ref: str,
    target: str,
    git_branch: str | None,
) -> Response:
    return json_response({"env": env.pull_env(context, caller, project_ref, target, git_branch)})


@router.get(
    "/v3/env/pull/{deploymentId}",
    response_model=None,
    responses=answers(200, DeploymentEnvOut, 400, 401, 403, 404, 503),
)
def pull_deployment_env(deploymentId: str, context: Context, caller: Caller) -> Response:
    """The env a deployment was built with, frozen; the CLI reads `buildEnv`."""
    team_id = caller.team_id()
    frozen = deployments.pull_deployment_env(context, team_id, deploymentId)
    return json_response({"env": frozen, "buildEnv": frozen})
