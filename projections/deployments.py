"""Deployments and their releases as the projections hold them (0012's tables)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from clickhouse_connect.driver.client import Client

from domain.deployments import Release, releases_as_tagged_today
from projections.clickhouse import query_text
from projections.queries import utc

_PAGE = query_text("deployments")
_COUNT = query_text("deployments_count")
_ONE = query_text("deployment")
_RELEASES = query_text("releases")
_NO_ID = UUID(int=0)

DEPLOYMENT_ORDERS = {
    "created": "d.position ASC",
    "-created": "d.position DESC",
    "name": "d.name ASC, d.position ASC",
    "-name": "d.name DESC, d.position ASC",
    "last_deployed_on": "r.last_deployed_on ASC, d.position ASC",
    "-last_deployed_on": "r.last_deployed_on DESC, d.position ASC",
}
"""The orders a deployments page can be in (Vellum's `ordering`), oldest first by default."""


@dataclass(frozen=True, slots=True)
class DeploymentView:
    """A deployment with its releases, oldest first, each with the tags it names today."""

    id: UUID
    name: str
    registered_at: datetime
    releases: list[Release]


class DeploymentQueries:
    """Reads of deployments; give it a client of its own (calls on one client serialise)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def page(
        self, workspace_id: UUID, limit: int, offset: int, ordering: str = "created"
    ) -> tuple[int, list[DeploymentView]]:
        """How many deployments the workspace has, and a page of them in `ordering` (one of
        `DEPLOYMENT_ORDERS`)."""
        ids = {"workspace_id": workspace_id}
        total = int(self._client.query(_COUNT, parameters=ids).result_rows[0][0])
        parameters = {**ids, "limit": limit, "offset": offset}
        query = _PAGE.replace("@ORDER@", DEPLOYMENT_ORDERS[ordering])
        return total, self._with_releases(
            self._client.query(query, parameters=parameters).result_rows
        )

    def find(self, workspace_id: UUID, id_or_name: str) -> DeploymentView | None:
        """A deployment of the workspace by id or name; None when it has none such."""
        deployment_id = _NO_ID
        with contextlib.suppress(ValueError):
            deployment_id = UUID(id_or_name)
        parameters = {
            "workspace_id": workspace_id,
            "deployment_id": deployment_id,
            "name": id_or_name,
        }
        found = self._with_releases(self._client.query(_ONE, parameters=parameters).result_rows)
        return found[0] if found else None

    def _with_releases(self, rows: Sequence[Sequence[Any]]) -> list[DeploymentView]:
        if not rows:
            return []
        ids = [row[0] for row in rows]
        released: dict[UUID, list[Release]] = {deployment_id: [] for deployment_id in ids}
        result = self._client.query(_RELEASES, parameters={"deployment_ids": ids})
        for (
            deployment_id,
            release_id,
            entrypoint,
            tags,
            timeout,
            description,
            at,
        ) in result.result_rows:
            released[deployment_id].append(
                Release(release_id, entrypoint, tuple(tags), timeout, description, utc(at) or at)
            )
        return [
            DeploymentView(
                id=deployment_id,
                name=name,
                registered_at=utc(registered_at) or registered_at,
                releases=releases_as_tagged_today(released[deployment_id]),
            )
            for deployment_id, name, registered_at in rows
        ]
