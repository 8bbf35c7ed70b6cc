"""Wire models and record shapes of the projects side (CONTRACT.md 3), Vercel's field names.

Bodies that Vercel's own clients build with many optional fields (projects, deployments) ignore
keys keyturn does not use; keyturn's own bodies (connections) refuse unknown keys.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from keyturn.domain.accounts import Project
from keyturn.domain.environment import SENSITIVE, EnvVar, UserEnvType
from keyturn.domain.envkeys import ENVIRONMENTS, in_standard_order
from keyturn.domain.secrets import MAX_NAME_LENGTH
from keyturn.http.wire import EnvironmentName, WireModel
from keyturn.http.wire_out import ContentHintOut, DeploymentOut, EnvVarOut, ProjectOut
from keyturn.services.connections import ConnectionRequest
from keyturn.services.deployments import DeploymentView
from keyturn.services.env import NewUserVar, UserVarPatch

# Git's own refs may be longer, but keyturn stores at most this many characters of a branch.
MAX_GIT_BRANCH_LENGTH = 256


class LenientWireModel(WireModel):
    model_config = ConfigDict(extra="ignore", strict=True, hide_input_in_errors=True)


class ProjectIn(LenientWireModel):
    name: str


class ConnectionIn(WireModel):
    projectId: str = Field(min_length=1)
    envVarEnvironments: list[EnvironmentName] | None = Field(default=None, min_length=1)
    makeEnvVarsSensitive: bool | None = None
    envVarPrefix: str | None = Field(default=None, max_length=MAX_NAME_LENGTH)

    def to_request(self) -> ConnectionRequest:
        environments = in_standard_order(self.envVarEnvironments or ENVIRONMENTS)
        return ConnectionRequest(
            project_ref=self.projectId,
            environments=environments,
            env_var_prefix=self.envVarPrefix,
            make_sensitive=bool(self.makeEnvVarsSensitive),
        )


class UserEnvVarIn(LenientWireModel):
    key: str
    value: str = Field(repr=False)
    type: UserEnvType = "encrypted"
    target: list[EnvironmentName] | EnvironmentName
    gitBranch: str | None = Field(default=None, max_length=MAX_GIT_BRANCH_LENGTH)
    comment: str | None = Field(default=None, max_length=500)

    def to_input(self) -> NewUserVar:
        return NewUserVar(
            key=self.key,
            value=self.value,
            type=self.type,
            targets=_targets(self.target),
            git_branch=self.gitBranch,
            comment=self.comment,
        )


class UserEnvVarPatchIn(LenientWireModel):
    key: str | None = None
    value: str | None = Field(default=None, repr=False)
    type: UserEnvType | None = None
    target: list[EnvironmentName] | EnvironmentName | None = None
    gitBranch: str | None = Field(default=None, max_length=MAX_GIT_BRANCH_LENGTH)
    comment: str | None = Field(default=None, max_length=500)

    def to_input(self) -> UserVarPatch:
        return UserVarPatch(
            key=self.key,
            value=self.value,
            type=self.type,
            targets=_targets(self.target) if self.target is not None else None,
            git_branch=self.gitBranch,
            comment=self.comment,
        )


class DeploymentIn(LenientWireModel):
    name: str | None = None
    project: str | None = None
    target: str | None = None
    gitBranch: str | None = Field(default=None, max_length=MAX_GIT_BRANCH_LENGTH)
    deploymentId: str | None = None


def _targets(target: list[EnvironmentName] | EnvironmentName) -> tuple[str, ...]:
    """Vercel accepts one target or a list of them."""
    return in_standard_order([target] if isinstance(target, str) else target)


def project_record(project: Project) -> ProjectOut:
    return {
        "id": project.id,
        "name": project.name,
        "accountId": project.team_id,
        "createdAt": project.created_at,
        "updatedAt": project.updated_at,
    }


def env_record(var: EnvVar, *, decrypt: bool) -> EnvVarOut:
    """An env var as Vercel's API shows it; the value only where the caller may read it."""
    readable = var.type != SENSITIVE and (decrypt or var.type == "plain")
    record: EnvVarOut = {
        "id": var.id,
        "key": var.key,
        "value": var.value if readable else "",
        "type": var.type,
        "target": list(var.targets),
        "configurationId": var.source.installation_id if var.source else None,
        "contentHint": _content_hint(var),
        "createdAt": var.created_at,
        "updatedAt": var.updated_at,
        "decrypted": readable and var.type != "plain",
        "securityIssues": [],
    }
    if var.git_branch is not None:
        record["gitBranch"] = var.git_branch
    if var.comment is not None:
        record["comment"] = var.comment
    return record


def _content_hint(var: EnvVar) -> ContentHintOut | None:
    if var.source is None:
        return None
    return {
        "type": "integration-store-secret",
        "storeId": var.source.internal_id,
        "integrationId": var.source.integration_id,
        "integrationProductId": var.source.product_id,
        "integrationConfigurationId": var.source.installation_id,
    }


def deployment_record(view: DeploymentView) -> DeploymentOut:
    deployment = view.deployment
    return {
        "id": deployment.id,
        "uid": deployment.id,
        "name": deployment.name,
        "projectId": deployment.project_id,
        "target": deployment.target,
        "gitBranch": deployment.git_branch,
        "readyState": "READY",
        "state": "READY",
        "createdAt": deployment.created_at,
        "created": deployment.created_at,
        "url": deployment.url,
        # keyturn's addition: which secrets version of each connected resource this build runs.
        "secretsVersions": [
            {
                "resourceId": used.resource_id,
                "secretsVersion": used.secrets_version,
                "currentVersion": used.current_version,
            }
            for used in deployment.secrets_versions
        ],
    }
