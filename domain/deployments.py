"""Workflow deployments and their releases, kept as aggregates in the same log as the events.

A deployment is a name in a workspace; its id is derived from the two, so registering the same
name from the command line, from a deployments file and from another replica is the same
deployment. Every release is an event of it, so the release that ran an execution (recorded on
the run) can be looked up forever. Release tags move: a tag names the newest release that
carries it, and `LATEST` always names the newest release of all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import get_topic

from domain.errors import DeploymentNotFound
from domain.log.ledger import Ledger

_DEPLOYMENTS = uuid5(NAMESPACE_URL, "https://runledger.dev/deployments")
LATEST = "LATEST"


def deployment_id_for(workspace_id: UUID, name: str) -> UUID:
    """The stable id of a deployment: its workspace and name."""
    return uuid5(_DEPLOYMENTS, f"{workspace_id}/{name}")


@dataclass(frozen=True, slots=True)
class Release:
    """One release of a deployment: what runs, and for how long it may."""

    id: UUID
    entrypoint: str
    tags: tuple[str, ...]
    timeout_seconds: float | None
    description: str | None
    released_at: datetime


class Deployment(Aggregate):
    """A named workflow deployment of a workspace."""

    @event("Registered")
    def __init__(self, workspace_id: UUID, name: str) -> None:
        self.workspace_id = workspace_id
        self.name = name
        # (release id, entrypoint, tags, timeout, description, released at): plain values,
        # because the aggregate's state is what snapshots would store.
        self._releases: list[list[Any]] = []

    @staticmethod
    def create_id(workspace_id: UUID, name: str) -> UUID:
        """Derived, so a deployment is found by name with one point read."""
        return deployment_id_for(workspace_id, name)

    @event("Released")
    def _released(
        self,
        *,
        release_id: UUID,
        entrypoint: str,
        tags: list[str],
        timeout_seconds: float | None,
        description: str | None,
        released_at: datetime,
    ) -> None:
        self._releases.append(
            [release_id, entrypoint, tags, timeout_seconds, description, released_at]
        )

    def release(
        self,
        entrypoint: str,
        tags: Sequence[str] = (),
        timeout_seconds: float | None = None,
        description: str | None = None,
    ) -> Release:
        """Add a release; its tags move to it from older releases."""
        clean = sorted({t.strip() for t in tags if t.strip() and t.strip() != LATEST})
        # The time travels in the event, so every replay of it agrees.
        now = datetime.now(UTC)
        self._released(
            release_id=uuid4(),
            entrypoint=entrypoint,
            tags=clean,
            timeout_seconds=timeout_seconds,
            description=description,
            released_at=now,
        )
        return self.releases[-1]

    @property
    def releases(self) -> list[Release]:
        """Every release, oldest first, with the tags each names today."""
        return releases_as_tagged_today(
            [Release(r[0], r[1], tuple(r[2]), r[3], r[4], r[5]) for r in self._releases]
        )

    def resolve(self, release_tag: str | None) -> Release:
        """The release a tag (default `LATEST`) or release id names."""
        releases = self.releases
        if not releases:
            raise DeploymentNotFound(f"deployment {self.name!r} has no release yet")
        wanted = release_tag or LATEST
        for release in reversed(releases):
            if wanted in release.tags or wanted == str(release.id):
                return release
        raise DeploymentNotFound(f"deployment {self.name!r} has no release tagged {wanted!r}")

    def release_by_id(self, release_id: UUID) -> Release:
        """A release by id, whatever its tags are now."""
        for release in self.releases:
            if release.id == release_id:
                return release
        raise DeploymentNotFound(f"deployment {self.name!r} has no release {release_id}")


def releases_as_tagged_today(released: Sequence[Release]) -> list[Release]:
    """Releases in release order, each with the tags it was released with, as they name them
    today: a tag names the newest release that carries it, `LATEST` the newest of all. The
    projection of deployments reads them with the same rule."""
    owner: dict[str, int] = {}
    for index, release in enumerate(released):
        for tag in release.tags:
            owner[tag] = index
    result = []
    for index, release in enumerate(released):
        tags = sorted(tag for tag, i in owner.items() if i == index)
        if index == len(released) - 1:
            tags = [LATEST, *tags]
        result.append(
            Release(
                release.id,
                release.entrypoint,
                tuple(tags),
                release.timeout_seconds,
                release.description,
                release.released_at,
            )
        )
    return result


_REGISTERED_TOPIC = get_topic(Deployment.Registered)  # type: ignore[attr-defined]


class Deployments:
    """Registers, finds and lists deployments in the log."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def register(
        self,
        workspace_id: UUID,
        name: str,
        entrypoint: str,
        *,
        tags: Sequence[str] = (),
        timeout_seconds: float | None = None,
        description: str | None = None,
    ) -> tuple[Deployment, Release, bool]:
        """Release `entrypoint` under `name`; True if that made a new release.

        Registering what the newest release already is (same entrypoint, tags and timeout)
        changes nothing, so a deployments file read at every start adds no history.
        """
        name = name.strip()
        if not name:
            raise ValueError("a deployment name must not be empty")
        deployment = self._get(deployment_id_for(workspace_id, name))
        if deployment is None:
            deployment = Deployment(workspace_id, name)
        elif deployment.releases:
            newest = deployment.releases[-1]
            wanted = {t.strip() for t in tags if t.strip()} - {LATEST}
            if (
                newest.entrypoint == entrypoint
                and wanted <= set(newest.tags)
                and newest.timeout_seconds == timeout_seconds
            ):
                return deployment, newest, False
        release = deployment.release(entrypoint, tags, timeout_seconds, description)
        self._ledger.save(deployment)
        return deployment, release, True

    def find(self, workspace_id: UUID, id_or_name: str) -> Deployment:
        """A deployment of the workspace by id or name; another workspace's is not found."""
        candidates = [deployment_id_for(workspace_id, id_or_name)]
        with contextlib.suppress(ValueError):
            candidates.insert(0, UUID(id_or_name))
        for candidate in candidates:
            deployment = self._get(candidate)
            if deployment is not None and deployment.workspace_id == workspace_id:
                return deployment
        raise DeploymentNotFound(f"no workflow deployment {id_or_name!r} in this workspace")

    def list(self, workspace_id: UUID) -> Iterator[Deployment]:
        """The workspace's deployments, oldest first.

        A scan of the log's registrations (an indexed topic filter on PostgreSQL, a table scan
        on SQLite): fine for the tens to hundreds of deployments a workspace has.
        """
        position = 0
        while batch := self._ledger.recorder.select_notifications(
            start=position, limit=1000, topics=[_REGISTERED_TOPIC], inclusive_of_start=False
        ):
            for notification in batch:
                deployment = self._get(UUID(str(notification.originator_id)))
                if deployment is not None and deployment.workspace_id == workspace_id:
                    yield deployment
            position = batch[-1].id

    def _get(self, deployment_id: UUID) -> Deployment | None:
        try:
            deployment: Deployment = self._ledger.repository.get(deployment_id)
        except AggregateNotFoundError:
            return None
        return deployment
