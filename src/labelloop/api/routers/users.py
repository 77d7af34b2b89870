"""Members of a project: tokens (admins only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from labelloop.api.deps import CurrentPrincipal, Registry
from labelloop.governance.service import new_token, require, revoke_tokens

router = APIRouter(prefix="/api/v1/projects/{project}/users", tags=["users"])


@router.post("/{name}/tokens", status_code=201, summary="Issue another API token for a user (shown once)")
def issue(
    project: str,
    name: str,
    principal: CurrentPrincipal,
    registry: Registry,
    days: Annotated[int, Query(ge=1, le=3650, description="days the token lives")] = 90,
) -> dict[str, Any]:
    """The token is in this answer only; the store keeps its hash."""
    require(principal, "users.manage", project)
    return new_token(registry.get(project), name, actor=f"user:{principal.name}", token_days=days)


@router.delete("/{name}/tokens", summary="Revoke every API token of a user")
def revoke(project: str, name: str, principal: CurrentPrincipal, registry: Registry) -> dict[str, Any]:
    """Effective at once on this server, within seconds on others."""
    require(principal, "users.manage", project)
    return revoke_tokens(registry.get(project), name, actor=f"user:{principal.name}")
