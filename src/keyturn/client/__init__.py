"""keyturn's Python client: the partner and owner APIs over HTTP, for scripts and test suites.

It imports nothing of keyturn's server (only httpx and pydantic), so a partner can use it
against keyturn or against Vercel itself. `Client` blocks; `AsyncClient` is its asyncio twin.
"""

from keyturn.client.asynchronous import AsyncClient
from keyturn.client.errors import APIError, ClientError, ConnectionFailed, FieldError
from keyturn.client.models import (
    ClientSecret,
    Connection,
    ContentHint,
    CreatedIntegration,
    Deployment,
    EnvVar,
    Installation,
    Integration,
    ListedResource,
    Product,
    Project,
    Resource,
    ResourceName,
    RolledBack,
    Rotation,
    RotationError,
    SecretsUsage,
    SecretsVersion,
    SecretsVersions,
    SecretsVersionUsed,
    SecretValueUsage,
    Team,
    UserToken,
)
from keyturn.client.retry import RetryPolicy
from keyturn.client.secret import Secret
from keyturn.client.sync import Client

__all__ = [
    "APIError",
    "AsyncClient",
    "Client",
    "ClientError",
    "ClientSecret",
    "Connection",
    "ConnectionFailed",
    "ContentHint",
    "CreatedIntegration",
    "Deployment",
    "EnvVar",
    "FieldError",
    "Installation",
    "Integration",
    "ListedResource",
    "Product",
    "Project",
    "Resource",
    "ResourceName",
    "RetryPolicy",
    "RolledBack",
    "Rotation",
    "RotationError",
    "Secret",
    "SecretValueUsage",
    "SecretsUsage",
    "SecretsVersion",
    "SecretsVersionUsed",
    "SecretsVersions",
    "Team",
    "UserToken",
]
