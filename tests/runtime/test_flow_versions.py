"""Flow versions: records keep the flow they started under across YAML changes, until migrated explicitly."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import select, update

from runtime import flow_versions
from runtime.access import SYSTEM_ACTOR, Actor
from runtime.crypto import ENCRYPTION_KEYS_VARIABLE, HASH_KEY_VARIABLE
from runtime.database import make_engine
from runtime.errors import ValidationFailed
from runtime.flow_migration import FlowMigrationError, migrate_records, plan_migration, version_report
from runtime.flow_versions import register_versions, version_id
from runtime.flows import flow_of
from runtime.permission_admin import PermissionAdmin
from tests.runtime.flow_version_app import CLERK, Deployment, create, fire, rename_review, version_rows

FLOWS = ("expense_all", "expense_levels", "expense_quorum", "expense_ratio", "expense_single")


@pytest.fixture
def deployment(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    monkeypatch.delenv(ENCRYPTION_KEYS_VARIABLE, raising=False)
    monkeypatch.delenv(HASH_KEY_VARIABLE, raising=False)
    yield Deployment(tmp_path, database_url)


def test_open_registers_each_flow_once(deployment: Deployment) -> None:
    runtime = deployment.open()
    try:
        rows = version_rows(runtime)
        assert [(flow, number) for flow, number, _ in rows] == [(name, 1) for name in FLOWS]
        assert all(version == version_id(runtime.model.flows[flow]) for flow, _, version in rows)
    finally:
        runtime.close()
    again = deployment.open()
    try:
        assert version_rows(again) == rows
    finally:
        again.close()


def test_records_keep_version_after_yaml_change(deployment: Deployment) -> None:
    runtime = deployment.open()
    try:
        in_review = fire(runtime, create(runtime), "submit")
        draft = create(runtime)
        first = version_id(runtime.model.flows["expense_single"])
        assert in_review["flow_version"] == draft["flow_version"] == first
    finally:
        runtime.close()

    deployment.edit("expense_single", rename_review)
    runtime = deployment.open()
    try:
        second = version_id(runtime.model.flows["expense_single"])
        assert second != first
        assert version_rows(runtime, "expense_single") == [("expense_single", 1, first), ("expense_single", 2, second)]
        # Only the flow that changed has a new version.
        assert len(version_rows(runtime)) == len(FLOWS) + 1

        # The record in review follows v1: its state exists there, and approval ends in approved.
        old_flow = flow_of(runtime.records, "expense", runtime.records.get(SYSTEM_ACTOR, "expense", in_review["id"]))
        assert old_flow is not None
        assert "review" in old_flow.states
        assert "checked" not in old_flow.states
        names = [t.name for t in runtime.records.transitions_for(SYSTEM_ACTOR, "expense", in_review)]
        assert "approve" in names
        assert "close" not in names
        assert fire(runtime, in_review, "approve")["state"] == "approved"

        # The draft started under v1 too: submitting it goes to review, not pending.
        assert fire(runtime, draft, "submit")["state"] == "review"

        # A new record takes v2.
        new = create(runtime)
        assert new["flow_version"] == second
        new = fire(runtime, fire(runtime, new, "submit"), "approve")
        assert (new["state"], fire(runtime, new, "close")["state"]) == ("checked", "approved")
    finally:
        runtime.close()


def test_state_lock_follows_old_version(deployment: Deployment) -> None:
    runtime = deployment.open()
    try:
        in_review = fire(runtime, create(runtime), "submit")
    finally:
        runtime.close()

    def unlock_review(data: dict[str, Any]) -> None:
        for state in data["states"]:
            if state["name"] == "review":
                state["editable"] = ["flagged", "title"]

    deployment.edit("expense_single", unlock_review)
    runtime = deployment.open()
    try:
        admin = PermissionAdmin(runtime.permissions())
        admin.add_user(SYSTEM_ACTOR, "qian", "qian", "qian", "east")
        admin.assign(SYSTEM_ACTOR, "qian", "clerk", "east")
        users = runtime.records_for_users()
        with pytest.raises(ValidationFailed) as failed:
            users.update(CLERK, "expense", in_review["id"], {"title": "改"}, version=in_review["version"])
        assert "title" in failed.value.errors
    finally:
        runtime.close()


def test_old_automatic_transitions_still_fire(deployment: Deployment) -> None:
    runtime = deployment.open()
    try:
        in_review = fire(runtime, create(runtime), "submit")
    finally:
        runtime.close()

    def drop_automatic(data: dict[str, Any]) -> None:
        data["transitions"] = [transition for transition in data["transitions"] if not transition.get("automatic")]

    for name in FLOWS:
        deployment.edit(name, drop_automatic)
    runtime = deployment.open()
    try:
        assert not any(t.automatic for flow in runtime.model.flows.values() for t in flow.transitions.values())
        flagged = runtime.records.update(SYSTEM_ACTOR, "expense", in_review["id"], {"flagged": True}, version=in_review["version"])
        assert flagged["state"] == "rejected"
        # A record of the new version has no automatic rejection any more.
        new = fire(runtime, create(runtime), "submit")
        assert runtime.records.update(SYSTEM_ACTOR, "expense", new["id"], {"flagged": True}, version=new["version"])["state"] == "review"
    finally:
        runtime.close()


def test_label_change_keeps_version(deployment: Deployment) -> None:
    runtime = deployment.open()
    try:
        before = version_rows(runtime, "expense_single")
    finally:
        runtime.close()

    def relabel(data: dict[str, Any]) -> None:
        data["label"] = {"zh-CN": "报销审批", "en": "Claim approval"}
        data["states"][1]["label"] = {"zh-CN": "待审批", "en": "Awaiting approval"}
        data["transitions"][0]["label"] = {"zh-CN": "送审", "en": "Send for approval"}
        data["transitions"][0]["confirm"] = {"zh-CN": "确定送审？", "en": "Send it?"}

    deployment.edit("expense_single", relabel)
    runtime = deployment.open()
    try:
        assert version_rows(runtime, "expense_single") == before
        table = runtime.schema.flows.versions
        with runtime.engine.connect() as connection:
            stored = json.loads(str(connection.scalar(select(table.c.definition).where(table.c.flow == "expense_single"))))
        assert stored["states"][1]["label"]["en"] == "Awaiting approval"
    finally:
        runtime.close()


def test_guard_change_makes_new_version(deployment: Deployment) -> None:
    deployment.open().close()

    def loosen(data: dict[str, Any]) -> None:
        for transition in data["transitions"]:
            if transition["name"] == "approve":
                transition["guard"] = "not flagged or amount < 100"

    deployment.edit("expense_single", loosen)
    runtime = deployment.open()
    try:
        assert [number for _, number, _ in version_rows(runtime, "expense_single")] == [1, 2]
    finally:
        runtime.close()


def test_unversioned_records_follow_first_version(deployment: Deployment) -> None:
    runtime = deployment.open()
    try:
        old = fire(runtime, create(runtime), "submit")
        waiting = fire(runtime, create(runtime), "submit")
        table = runtime.schema.entities["expense"].table
        with runtime.engine.begin() as connection:
            connection.execute(update(table).where(table.c.id.in_([old["id"], waiting["id"]])).values(flow_version=None))
    finally:
        runtime.close()

    deployment.edit("expense_single", rename_review)
    runtime = deployment.open()
    try:
        record = runtime.records.get(SYSTEM_ACTOR, "expense", old["id"])
        assert record["flow_version"] is None
        flow = flow_of(runtime.records, "expense", record)
        assert flow is not None and "review" in flow.states
        assert fire(runtime, record, "approve")["state"] == "approved"
        report = {item.flow: item for item in version_report(runtime.records)}["expense_single"]
        assert [(count.version.number, count.records, count.current) for count in report.versions] == [(1, 2, False), (2, 0, True)]
        other = fire(runtime, create(runtime), "submit")
        assert other["flow_version"] == version_id(runtime.model.flows["expense_single"])

        # Migrating v1 takes the records without a version along, and only them; the approved one is finished and stays.
        plan = plan_migration(runtime.records, "expense_single", "v1", {"review": "pending"})
        assert (plan.total, plan.unversioned, plan.finished) == (1, 1, 1)
        migrate_records(runtime.records, plan, SYSTEM_ACTOR)
        assert runtime.records.get(SYSTEM_ACTOR, "expense", waiting["id"])["flow_version"] == other["flow_version"]
        assert runtime.records.get(SYSTEM_ACTOR, "expense", old["id"])["flow_version"] is None
        assert runtime.records.get(SYSTEM_ACTOR, "expense", other["id"])["version"] == other["version"]
    finally:
        runtime.close()


def test_rebuilt_definition_has_same_version(deployment: Deployment) -> None:
    runtime = deployment.open()
    try:
        table = runtime.schema.flows.versions
        with runtime.engine.connect() as connection:
            for row in connection.execute(select(table.c.flow, table.c.version_id, table.c.definition)):
                rebuilt = flow_versions.rebuild(json.loads(row.definition), row.flow)
                assert rebuilt is not None and version_id(rebuilt) == row.version_id
                loaded = runtime.model.flows[row.flow]
                assert dataclasses.replace(rebuilt, source=loaded.source) == loaded
    finally:
        runtime.close()


def test_register_race_loser_reads_again(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = deployment.open()
    try:
        before = version_rows(runtime)
        real = flow_versions._stored_number
        missed: list[str] = []

        def stale_look(connection: Any, table: Any, name: str, version: str) -> int | None:
            # The first look finds nothing, as for a worker that looked just before another one inserted.
            if not missed:
                missed.append(name)
                return None
            return real(connection, table, name, version)

        monkeypatch.setattr(flow_versions, "_stored_number", stale_look)
        current = version_id(runtime.model.flows["expense_single"])
        assert flow_versions._insert(runtime.engine, runtime.schema.flows.versions, "expense_single", current, "{}") is None
        assert missed == ["expense_single"]
        assert version_rows(runtime) == before
    finally:
        runtime.close()


def test_concurrent_workers_register_once(deployment: Deployment) -> None:
    runtime = deployment.open()
    table = runtime.schema.flows.versions
    with runtime.engine.begin() as connection:
        connection.execute(table.delete())
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        engine = make_engine(deployment.settings.database_url)
        try:
            barrier.wait()
            register_versions(engine, runtime.schema, runtime.model)
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert [(flow, number) for flow, number, _ in version_rows(runtime)] == [(name, 1) for name in FLOWS]
    finally:
        runtime.close()


def test_migrate_complete_map_moves_records(deployment: Deployment) -> None:
    runtime = deployment.open()
    try:
        in_review = fire(runtime, create(runtime), "submit")
        draft = create(runtime)
        approved = fire(runtime, fire(runtime, create(runtime), "submit"), "approve")
    finally:
        runtime.close()
    deployment.edit("expense_single", rename_review)
    runtime = deployment.open()
    try:
        current = version_id(runtime.model.flows["expense_single"])
        untouched = create(runtime)
        plan = plan_migration(runtime.records, "expense_single", "v1", {"review": "pending"})
        assert not plan.refused
        assert [(move.old, move.new, move.count, move.same_name) for move in plan.moves] == [
            ("draft", "draft", 1, True), ("review", "pending", 1, False)]
        # The approved record is finished: it stays on the version it was decided under.
        assert (plan.final_states, plan.finished) == (("approved", "rejected"), 1)

        assert migrate_records(runtime.records, plan, SYSTEM_ACTOR) == 2
        moved = runtime.records.get(SYSTEM_ACTOR, "expense", in_review["id"])
        assert (moved["state"], moved["flow_version"], moved["version"]) == ("pending", current, in_review["version"] + 1)
        assert runtime.records.get(SYSTEM_ACTOR, "expense", draft["id"])["flow_version"] == current
        finished = runtime.records.get(SYSTEM_ACTOR, "expense", approved["id"])
        assert (finished["state"], finished["flow_version"], finished["version"]) == ("approved", approved["flow_version"],
                                                                                      approved["version"])
        assert runtime.records.get(SYSTEM_ACTOR, "expense", untouched["id"])["version"] == untouched["version"]

        audit = runtime.schema.audit
        with runtime.engine.connect() as connection:
            entries = connection.execute(select(audit.c.record_id, audit.c.changes).where(audit.c.action == "flow_migrate")
                                         .order_by(audit.c.record_id)).all()
            steps = runtime.schema.flows.steps
            open_steps = connection.execute(select(steps.c.state, steps.c.flow_version).where(
                steps.c.record_id == in_review["id"], steps.c.left_at.is_(None))).all()
        assert [record_id for record_id, _ in entries] == sorted([in_review["id"], draft["id"]])
        changes = dict(entries)[in_review["id"]]
        assert changes == {"state": ["review", "pending"], "flow_version": [in_review["flow_version"], current]}
        assert [tuple(row) for row in open_steps] == [("pending", current)]

        # The moved record now follows v2.
        assert fire(runtime, moved, "approve")["state"] == "checked"
    finally:
        runtime.close()


def test_migrate_incomplete_map_is_refused(deployment: Deployment) -> None:
    runtime = deployment.open()
    try:
        in_review = fire(runtime, create(runtime), "submit")
        fire(runtime, create(runtime), "submit")
    finally:
        runtime.close()
    deployment.edit("expense_single", rename_review)
    runtime = deployment.open()
    try:
        plan = plan_migration(runtime.records, "expense_single", "1", {"draft": "nowhere"})
        assert plan.refused
        assert plan.unmapped == (("review", 2),)
        assert plan.unknown_targets == (("draft", "nowhere"),)
        with pytest.raises(FlowMigrationError):
            migrate_records(runtime.records, plan, SYSTEM_ACTOR)
        record = runtime.records.get(SYSTEM_ACTOR, "expense", in_review["id"])
        assert (record["state"], record["version"]) == ("review", in_review["version"])
        with pytest.raises(FlowMigrationError) as current:
            plan_migration(runtime.records, "expense_single", "v2", {})
        assert "current version" in current.value.message("en")
        with pytest.raises(FlowMigrationError) as unknown:
            plan_migration(runtime.records, "expense_single", "v7", {})
        assert unknown.value.message("zh-CN") == "该流程没有版本 'v7'；现有版本：v1, v2"
    finally:
        runtime.close()


def signed_by_member(deployment: Deployment) -> dict[str, Any]:
    """Return a countersign claim submitted by qian and signed by m1 of the two members m1 and m2."""
    runtime = deployment.open()
    try:
        admin = PermissionAdmin(runtime.permissions())
        admin.add_user(SYSTEM_ACTOR, "qian", "qian", "qian", "east")
        admin.assign(SYSTEM_ACTOR, "qian", "clerk", "east")
        for user in ("m1", "m2"):
            admin.add_user(SYSTEM_ACTOR, user, user, user, "company")
            admin.assign(SYSTEM_ACTOR, user, "member", "company")
        draft = create(runtime, "all")
        submitted = runtime.records.transition(CLERK, "expense", draft["id"], "submit", version=draft["version"])
        m1 = Actor(id="m1", name="m1", roles=("member",), org_unit="company")
        signed = runtime.records.transition(m1, "expense", draft["id"], "approve", version=submitted["version"])
        assert signed["state"] == "review"
        return signed
    finally:
        runtime.close()


def open_step_of(runtime: Any, record_id: int) -> Any:
    steps = runtime.schema.flows.steps
    with runtime.engine.connect() as connection:
        return connection.execute(select(steps).where(steps.c.record_id == record_id, steps.c.left_at.is_(None))).mappings().one()


def test_migrate_keeps_signatures_and_submitter(deployment: Deployment) -> None:
    signed = signed_by_member(deployment)
    deployment.edit("expense_all", rename_review)
    runtime = deployment.open()
    try:
        plan = plan_migration(runtime.records, "expense_all", "v1", {"review": "pending"})
        assert [(group.state, group.transition, group.count, group.kept) for group in plan.signatures] == [
            ("review", "approve", 1, True)]
        assert plan.signatures_lost == ()
        migrate_records(runtime.records, plan, SYSTEM_ACTOR)
        moved = runtime.records.get(SYSTEM_ACTOR, "expense", signed["id"])
        assert moved["state"] == "pending"
        (progress,) = runtime.records.approval_progress(SYSTEM_ACTOR, "expense", moved)
        assert progress.levels[0].signers == {"m1"}
        assert set(progress.levels[0].waiting_for) == {"m2"}
        # qian still submitted it, so qian may neither sign it nor see a withdrawal offered after m1's signature.
        assert open_step_of(runtime, signed["id"])["entered_by"] == "qian"
        assert "withdraw" not in [t.name for t in runtime.records.transitions_for(CLERK, "expense", moved)]
        m2 = Actor(id="m2", name="m2", roles=("member",), org_unit="company")
        assert runtime.records.transition(m2, "expense", moved["id"], "approve", version=moved["version"])["state"] == "checked"
    finally:
        runtime.close()


def test_migrate_counts_signatures_that_cannot_carry_over(deployment: Deployment) -> None:
    signed = signed_by_member(deployment)

    def rename_approve(data: dict[str, Any]) -> None:
        for transition in data["transitions"]:
            if transition["name"] == "approve":
                transition["name"] = "agree"

    deployment.edit("expense_all", rename_approve)
    runtime = deployment.open()
    try:
        plan = plan_migration(runtime.records, "expense_all", "v1", {})
        assert [(group.state, group.transition, group.count) for group in plan.signatures_lost] == [("review", "approve", 1)]
        migrate_records(runtime.records, plan, SYSTEM_ACTOR)
        moved = runtime.records.get(SYSTEM_ACTOR, "expense", signed["id"])
        (progress,) = runtime.records.approval_progress(SYSTEM_ACTOR, "expense", moved)
        assert progress.transition.name == "agree"
        assert progress.levels[0].signed == []
    finally:
        runtime.close()


def test_migrate_fires_approval_already_complete(deployment: Deployment) -> None:
    signed = signed_by_member(deployment)

    def lower_quorum(data: dict[str, Any]) -> None:
        for transition in data["transitions"]:
            if transition["name"] == "approve":
                transition["approval"] = {"mode": "countersign", "roles": ["member"], "quorum": 1}

    deployment.edit("expense_all", lower_quorum)
    runtime = deployment.open()
    try:
        migrate_records(runtime.records, plan_migration(runtime.records, "expense_all", "v1", {}), SYSTEM_ACTOR)
        moved = runtime.records.get(SYSTEM_ACTOR, "expense", signed["id"])
        # m1's signature meets the new quorum of one, so the record does not wait for a signature no one needs to give.
        assert moved["state"] == "approved"
        audit = runtime.schema.audit
        with runtime.engine.connect() as connection:
            actions = connection.execute(select(audit.c.action, audit.c.changes).where(audit.c.record_id == signed["id"])
                                         .order_by(audit.c.id)).all()
        assert [action for action, _ in actions][-2:] == ["flow_migrate", "transition:approve"]
        assert "state" not in actions[-2][1]
    finally:
        runtime.close()


def test_migrate_keeps_time_limit_running(deployment: Deployment) -> None:
    runtime = deployment.open()
    try:
        in_review = fire(runtime, create(runtime), "submit")
        due_before = open_step_of(runtime, in_review["id"])["due"]["approve"]["due_at"]
    finally:
        runtime.close()
    deployment.edit("expense_single", rename_review)
    runtime = deployment.open()
    try:
        migrate_records(runtime.records, plan_migration(runtime.records, "expense_single", "v1", {"review": "pending"}), SYSTEM_ACTOR)
        assert open_step_of(runtime, in_review["id"])["due"]["approve"]["due_at"] == due_before
    finally:
        runtime.close()
