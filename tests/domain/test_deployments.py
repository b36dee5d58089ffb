"""Deployments and releases in the log: tags move, LATEST names the newest, history stays."""

from __future__ import annotations

import uuid

import pytest

from domain.deployments import LATEST, Deployments, deployment_id_for
from domain.errors import DeploymentNotFound
from domain.log.ledger import Ledger

WORKSPACE = uuid.uuid4()


def test_tags_move_to_the_newest_release_that_carries_them(ledger: Ledger) -> None:
    deployments = Deployments(ledger)
    _, first, _ = deployments.register(WORKSPACE, "flow", "pkg.a:run", tags=["production"])
    _, second, _ = deployments.register(WORKSPACE, "flow", "pkg.b:run", tags=["staging"])
    _, third, _ = deployments.register(WORKSPACE, "flow", "pkg.c:run", tags=["production"])
    deployment = deployments.find(WORKSPACE, "flow")
    assert [r.id for r in deployment.releases] == [first.id, second.id, third.id]
    assert deployment.resolve(None).id == third.id
    assert deployment.resolve(LATEST).id == third.id
    assert deployment.resolve("production").id == third.id
    assert deployment.resolve("staging").id == second.id
    assert deployment.resolve(str(first.id)).id == first.id  # a release id names it for good
    assert deployment.releases[0].tags == ()
    assert deployment.releases[-1].tags == (LATEST, "production")
    with pytest.raises(DeploymentNotFound, match="no release tagged 'canary'"):
        deployment.resolve("canary")


def test_registering_the_newest_release_again_adds_nothing(ledger: Ledger) -> None:
    deployments = Deployments(ledger)
    _, first, created = deployments.register(WORKSPACE, "same", "pkg.a:run", tags=["prod"])
    _, again, created_again = deployments.register(WORKSPACE, "same", "pkg.a:run", tags=["prod"])
    assert created
    assert not created_again
    assert again.id == first.id
    _, changed, created_changed = deployments.register(
        WORKSPACE, "same", "pkg.a:run", tags=["prod"], timeout_seconds=5
    )
    assert created_changed
    assert changed.timeout_seconds == 5


def test_a_deployment_is_found_by_id_or_name_only_in_its_workspace(ledger: Ledger) -> None:
    deployments = Deployments(ledger)
    deployment, _, _ = deployments.register(WORKSPACE, "mine", "pkg.a:run")
    assert deployment.id == deployment_id_for(WORKSPACE, "mine")
    assert deployments.find(WORKSPACE, str(deployment.id)).name == "mine"
    assert deployments.find(WORKSPACE, "mine").id == deployment.id
    other = uuid.uuid4()
    with pytest.raises(DeploymentNotFound):
        deployments.find(other, "mine")
    with pytest.raises(DeploymentNotFound):
        deployments.find(other, str(deployment.id))
    assert [d.name for d in deployments.list(WORKSPACE)] == ["mine"]
    assert list(deployments.list(other)) == []
