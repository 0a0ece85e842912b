"""Approval steps of the flow engine on the expense app: every mode, routing, returns, withdrawal, races and delegation."""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from metamodel import load_app
from runtime.access import SYSTEM_ACTOR, Actor
from runtime.crypto import KeyRing
from runtime.delegations import Delegations
from runtime.errors import NotFound, PermissionDenied, StaleVersion, ValidationFailed
from runtime.inbox import Inbox
from runtime.migrate import migrate
from runtime.permission_admin import PermissionAdmin
from runtime.permissions import PermissionStore
from runtime.policy_access import PolicyAccess
from runtime.records import RecordService
from runtime.schema import build_schema
from tests.conftest import REPOSITORY

APPROVALS = REPOSITORY / "tests" / "apps" / "approvals"
#: 2026-12-02 10:00 in Shanghai.
START = datetime.datetime(2026, 12, 2, 2, 0, tzinfo=datetime.timezone.utc)

USERS = (
    ("qian", "clerk", "east"), ("sun", "clerk", "east"), ("li", "manager", "east"), ("zhou", "manager", "west"),
    ("chen", "director", "company"), ("m1", "member", "company"), ("m2", "member", "company"), ("m3", "member", "company"),
    ("m4", "chair", "company"), ("deputy", None, "company"), ("root", "admin", "company"),
)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime.datetime:
        return self.now


class Office:
    def __init__(self, engine: Engine, tmp_path: Path) -> None:
        self.model = load_app(APPROVALS)
        self.schema = build_schema(self.model)
        migrate(engine, self.schema, self.model, backup_root=tmp_path / "backups")
        store = PermissionStore(self.model, self.schema, engine)
        admin = PermissionAdmin(store)
        self.roles: dict[str, tuple[str, str | None]] = {}
        for user, role, unit in USERS:
            admin.add_user(SYSTEM_ACTOR, user, user, user, unit)
            if role is not None:
                admin.assign(SYSTEM_ACTOR, user, role, unit)
            self.roles[user] = (unit, role)
        self.clock = Clock()
        self.records = RecordService(self.model, self.schema, engine, access=PolicyAccess(store, self.schema),
                                     keys=KeyRing.generate(), clock=self.clock)
        self.engine = engine

    def actor(self, user: str) -> Actor:
        unit, role = self.roles[user]
        return Actor(id=user, name=user, roles=(role,) if role else (), org_unit=unit)

    def submitted(self, procedure: str, amount: str = "5000", **values: Any) -> dict[str, Any]:
        qian = self.actor("qian")
        draft = self.records.create(qian, "expense", {"title": "差旅报销", "amount": amount, "procedure": procedure, **values})
        return self.records.transition(qian, "expense", draft["id"], "submit", version=draft["version"])

    def sign(self, user: str, record: dict[str, Any], comment: str | None = None, **options: Any) -> dict[str, Any]:
        return self.records.transition(self.actor(user), "expense", record["id"], "approve", version=record["version"],
                                       comment=comment, **options)

    def audit(self, record_id: int) -> list[tuple[str, str, Any]]:
        audit = self.schema.audit
        with self.engine.connect() as connection:
            rows = connection.execute(select(audit.c.action, audit.c.actor, audit.c.changes)
                                      .where(audit.c.record_id == record_id, audit.c.entity == "expense").order_by(audit.c.id))
            return [(action, actor, changes) for action, actor, changes in rows]


@pytest.fixture
def office(engine: Engine, tmp_path: Path) -> Office:
    return Office(engine, tmp_path)


def progress(office: Office, record: dict[str, Any]) -> Any:
    (result,) = office.records.approval_progress(office.actor("root"), "expense", record)
    return result


# Single approver -----------------------------------------------------------------------


def test_single_approver_fires_at_once(office: Office) -> None:
    record = office.submitted("single")
    approved = office.sign("li", record, "同意")
    assert approved["state"] == "approved"
    actions = [action for action, _, _ in office.audit(record["id"])]
    assert actions == ["create", "transition:submit", "transition:approve"]


def test_single_approver_outside_scope_refused(office: Office) -> None:
    record = office.submitted("single")
    with pytest.raises((PermissionDenied, NotFound)):
        office.sign("zhou", record)
    # chen may approve expenses once the time limit escalates to his role; until then it is li's turn.
    with pytest.raises(ValidationFailed) as refused:
        office.sign("chen", record)
    (error,) = refused.value.errors["approval"]
    assert error.code == "approval.turn"
    assert "li" in error.message_en


# Countersign ------------------------------------------------------------------------------


def test_countersign_by_all_waits_for_everyone(office: Office) -> None:
    record = office.submitted("all")
    # m4 has the role chair, which inherits member, so four members are eligible.
    assert set(progress(office, record).levels[0].eligible) == {"m1", "m2", "m3", "m4"}
    for user in ("m1", "m2", "m3"):
        record = office.sign(user, record)
        assert record["state"] == "review"
    assert set(progress(office, record).levels[0].waiting_for) == {"m4"}
    record = office.sign("m4", record)
    assert record["state"] == "approved"


def test_countersign_twice_by_one_refused(office: Office) -> None:
    record = office.sign("m1", office.submitted("all"))
    with pytest.raises(ValidationFailed) as failure:
        office.sign("m1", record)
    assert failure.value.errors["approval"][0].code == "approval.signed"


def test_countersign_by_quorum(office: Office) -> None:
    record = office.sign("m1", office.submitted("quorum"))
    level = progress(office, record).levels[0]
    assert (len(level.signed), level.needed) == (1, 2)
    assert office.sign("m3", record)["state"] == "approved"


def test_countersign_by_ratio_rounds_up(office: Office) -> None:
    record = office.submitted("ratio")
    assert progress(office, record).levels[0].needed == 2
    record = office.sign("m2", record)
    assert record["state"] == "review"
    assert office.sign("m4", record)["state"] == "approved"


def test_signature_is_audited_with_count(office: Office) -> None:
    record = office.sign("m1", office.submitted("quorum"), "材料齐全")
    action, actor, changes = office.audit(record["id"])[-1]
    assert (action, actor) == ("sign:approve", "m1")
    assert changes == {"level": [None, "approval"], "signatures": [None, "1/2"]}


# Sequential levels and routing -----------------------------------------------------------


@pytest.mark.parametrize(("amount", "grade", "levels"), [
    ("10000.00", "B", ["manager"]),
    ("10000.01", "A", ["manager", "director"]),
    ("10000.01", "B", ["manager", "director", "committee"]),
    ("50000.00", "A", ["manager", "director"]),
    ("50000.01", "A", ["manager", "director", "committee"]),
])
def test_routing_picks_levels_at_boundaries(office: Office, amount: str, grade: str, levels: list[str]) -> None:
    record = office.submitted("levels", amount, grade=grade)
    assert [level.level.name for level in progress(office, record).levels] == levels


def test_levels_are_signed_in_order(office: Office) -> None:
    record = office.submitted("levels", "20000", grade="B")
    with pytest.raises(ValidationFailed, match="waiting for li"):
        office.sign("chen", record)
    assert [t.name for t in office.records.transitions_for(office.actor("chen"), "expense", record)] == ["send_back", "reject"]
    record = office.sign("li", record)
    assert "approve" not in [t.name for t in office.records.transitions_for(office.actor("li"), "expense", record)]
    assert record["state"] == "review"
    record = office.sign("chen", record)
    assert record["state"] == "review"
    record = office.sign("m1", record)
    assert record["state"] == "review"
    assert office.sign("m2", record)["state"] == "approved"


def test_routing_fixed_at_first_signature(office: Office) -> None:
    record = office.sign("li", office.submitted("levels", "20000", grade="A"))
    office.records.update(SYSTEM_ACTOR, "expense", record["id"], {"flagged": False}, version=record["version"])
    with office.engine.begin() as connection:
        table = office.schema.entities["expense"].table
        connection.execute(table.update().where(table.c.id == record["id"]).values(grade="B"))
    record = office.records.get(SYSTEM_ACTOR, "expense", record["id"])
    assert [level.level.name for level in progress(office, record).levels] == ["manager", "director"]


# Return, reject, withdraw -----------------------------------------------------------------


def test_return_starts_approvals_afresh(office: Office) -> None:
    record = office.sign("m1", office.submitted("quorum"))
    record = office.records.transition(office.actor("m2"), "expense", record["id"], "send_back", version=record["version"],
                                       comment="请补充发票")
    assert record["state"] == "draft"
    qian = office.actor("qian")
    record = office.records.transition(qian, "expense", record["id"], "submit", version=record["version"])
    record = office.sign("m1", record)
    assert record["state"] == "review"
    assert len(progress(office, record).levels[0].signed) == 1


def test_return_and_reject_need_a_reason(office: Office) -> None:
    record = office.submitted("single")
    for name in ("send_back", "reject"):
        with pytest.raises(ValidationFailed) as failure:
            office.records.transition(office.actor("li"), "expense", record["id"], name, version=record["version"])
        assert failure.value.errors["comment"][0].code == "required"
    rejected = office.records.transition(office.actor("li"), "expense", record["id"], "reject", version=record["version"],
                                         comment="超出预算")
    assert rejected["state"] == "rejected"


def test_return_only_to_a_state_passed(office: Office) -> None:
    send_back = office.model.flows["expense_single"].transitions["send_back"]
    # The model is this test's own copy, so its return step may be pointed elsewhere here.
    object.__setattr__(send_back, "target", "approved")
    record = office.submitted("single")
    with pytest.raises(ValidationFailed) as failure:
        office.records.transition(office.actor("li"), "expense", record["id"], "send_back", version=record["version"], comment="退回")
    assert failure.value.errors["state"][0].code == "transition.return"


def test_withdraw_by_submitter_before_decisions(office: Office) -> None:
    record = office.submitted("quorum")
    with pytest.raises(ValidationFailed) as failure:
        office.records.transition(office.actor("sun"), "expense", record["id"], "withdraw", version=record["version"])
    assert failure.value.errors["state"][0].code == "transition.withdraw"
    withdrawn = office.records.transition(office.actor("qian"), "expense", record["id"], "withdraw", version=record["version"])
    assert withdrawn["state"] == "draft"


def test_withdraw_refused_after_a_signature(office: Office) -> None:
    record = office.sign("m1", office.submitted("quorum"))
    with pytest.raises(ValidationFailed) as failure:
        office.records.transition(office.actor("qian"), "expense", record["id"], "withdraw", version=record["version"])
    assert failure.value.errors["state"][0].code == "transition.decided"


# Automatic transitions --------------------------------------------------------------------


def test_automatic_transition_fires_after_save(office: Office) -> None:
    record = office.submitted("single")
    saved = office.records.update(SYSTEM_ACTOR, "expense", record["id"], {"flagged": True}, version=record["version"])
    assert saved["state"] == "rejected"
    action, actor, changes = office.audit(record["id"])[-1]
    assert (action, actor, changes) == ("transition:auto_reject", "system", {"state": ["review", "rejected"]})


def test_automatic_transition_fires_on_entry(office: Office) -> None:
    record = office.submitted("single", flagged=True)
    assert record["state"] == "rejected"


# Races ---------------------------------------------------------------------------------------


def test_two_last_signatures_at_once(office: Office) -> None:
    record = office.sign("m1", office.submitted("quorum"))
    approved = office.sign("m2", record)
    with pytest.raises(StaleVersion):
        office.sign("m3", record)
    assert approved["state"] == "approved"
    transitions = [action for action, _, _ in office.audit(record["id"]) if action == "transition:approve"]
    assert transitions == ["transition:approve"]
    assert len(progress_signatures(office, record["id"])) == 2


def progress_signatures(office: Office, record_id: int) -> list[str]:
    decisions = office.schema.flows.decisions
    steps = office.schema.flows.steps
    with office.engine.connect() as connection:
        rows = connection.execute(select(decisions.c.approver).join(steps, steps.c.id == decisions.c.step_id)
                                  .where(steps.c.record_id == record_id))
        return [approver for (approver,) in rows]


# Add an approver ------------------------------------------------------------------------------


def test_added_approver_joins_countersign(office: Office) -> None:
    record = office.submitted("all")
    level = office.records.add_approver(office.actor("m1"), "expense", record["id"], "approve", "chen", version=record["version"])
    assert set(level.eligible) == {"m1", "m2", "m3", "m4", "chen"}
    record = office.records.get(SYSTEM_ACTOR, "expense", record["id"])
    for user in ("m1", "m2", "m3", "m4"):
        record = office.sign(user, record)
    assert record["state"] == "review"
    assert office.sign("chen", record)["state"] == "approved"


def test_added_approver_needs_permission(office: Office) -> None:
    record = office.submitted("all")
    with pytest.raises(ValidationFailed) as failure:
        office.records.add_approver(office.actor("m1"), "expense", record["id"], "approve", "deputy", version=record["version"])
    assert failure.value.errors["approver"][0].code == "approval.not_allowed"
    with pytest.raises(PermissionDenied):
        office.records.add_approver(office.actor("qian"), "expense", record["id"], "approve", "chen", version=record["version"])


# Delegation ----------------------------------------------------------------------------------


def test_delegate_signs_within_date_range(office: Office) -> None:
    Delegations(office.records).create(office.actor("m1"), "m1", "deputy", datetime.date(2026, 12, 1), datetime.date(2026, 12, 2))
    record = office.sign("deputy", office.submitted("quorum"))
    assert record["state"] == "review"
    decisions = office.schema.flows.decisions
    with office.engine.connect() as connection:
        row = connection.execute(select(decisions.c.approver, decisions.c.signed_by)).one()
    assert tuple(row) == ("m1", "deputy")
    action, actor, changes = office.audit(record["id"])[-1]
    assert (action, actor, changes["on_behalf_of"]) == ("sign:approve", "deputy", [None, "m1"])


def test_delegate_refused_outside_date_range(office: Office) -> None:
    Delegations(office.records).create(office.actor("m1"), "m1", "deputy", datetime.date(2026, 12, 3), datetime.date(2026, 12, 5))
    record = office.submitted("quorum")
    # Without a running delegation the deputy cannot reach the record at all.
    with pytest.raises(NotFound):
        office.sign("deputy", record)
    office.clock.now = START + datetime.timedelta(days=1)
    assert office.sign("deputy", record)["state"] == "review"
    office.clock.now = START + datetime.timedelta(days=4)
    record = office.records.get(SYSTEM_ACTOR, "expense", record["id"])
    with pytest.raises(NotFound):
        office.sign("deputy", record)


def test_delegated_transition_names_both(office: Office) -> None:
    Delegations(office.records).create(office.actor("li"), "li", "deputy", datetime.date(2026, 12, 1), datetime.date(2026, 12, 31),
                                       role="manager")
    record = office.submitted("single")
    deputy = office.actor("deputy")
    assert [t.name for t in office.records.transitions_for(deputy, "expense", record)] == ["send_back", "reject", "approve"]
    approved = office.sign("deputy", record)
    assert approved["state"] == "approved"
    action, actor, changes = office.audit(record["id"])[-1]
    assert (action, actor, changes["on_behalf_of"]) == ("transition:approve", "deputy", [None, "li"])


def test_delegation_input_checked(office: Office) -> None:
    delegations = Delegations(office.records)
    with pytest.raises(ValidationFailed) as failure:
        delegations.create(office.actor("m1"), "m1", "m1", datetime.date(2026, 12, 5), datetime.date(2026, 12, 1), role="manager")
    assert set(failure.value.errors) == {"ends_on", "delegate", "role"}
    with pytest.raises(PermissionDenied):
        delegations.create(office.actor("m2"), "m1", "deputy", datetime.date(2026, 12, 1), datetime.date(2026, 12, 2))


def test_revoked_delegation_stops(office: Office) -> None:
    delegations = Delegations(office.records)
    delegation = delegations.create(office.actor("m1"), "m1", "deputy", datetime.date(2026, 12, 1), datetime.date(2026, 12, 9))
    delegations.revoke(office.actor("m1"), delegation)
    with pytest.raises(NotFound):
        office.sign("deputy", office.submitted("quorum"))
    assert delegations.of_user("deputy") == []


def test_amounts_are_decimal(office: Office) -> None:
    record = office.submitted("single", "12345.67")
    assert record["amount"] == Decimal("12345.67")


def test_system_completes_approval_outright(office: Office) -> None:
    record = office.submitted("all")
    approved = office.records.transition(SYSTEM_ACTOR, "expense", record["id"], "approve", version=record["version"])
    assert approved["state"] == "approved"


def test_concurrent_last_signatures(office: Office) -> None:
    record = office.sign("m1", office.submitted("quorum"))
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def sign(user: str) -> None:
        barrier.wait()
        try:
            outcomes[user] = office.sign(user, record)["state"]
        except StaleVersion:
            outcomes[user] = "stale"

    threads = [threading.Thread(target=sign, args=(user,)) for user in ("m2", "m3")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values()) == ["approved", "stale"]
    transitions = [action for action, _, _ in office.audit(record["id"]) if action == "transition:approve"]
    assert transitions == ["transition:approve"]
    assert len(progress_signatures(office, record["id"])) == 2


def test_one_role_delegate_signs_only_its_levels(office: Office) -> None:
    PermissionAdmin(office.records.access.store).assign(SYSTEM_ACTOR, "li", "director", "company")
    Delegations(office.records).create(office.actor("li"), "li", "deputy", datetime.date(2026, 12, 1), datetime.date(2026, 12, 31),
                                       role="manager")
    record = office.sign("deputy", office.submitted("levels", "20000", grade="A"))
    assert [row["approver"] for row in progress(office, record).levels[0].signed] == ["li"]
    # li has the director role too, but one person signs one level of a step, through a delegate or not.
    with pytest.raises(ValidationFailed) as refused:
        office.sign("deputy", record)
    assert refused.value.errors["approval"][0].code == "approval.other_level"
    assert office.sign("chen", record)["state"] == "approved"


def test_submitter_cannot_approve_through_delegation(office: Office) -> None:
    Delegations(office.records).create(office.actor("li"), "li", "qian", datetime.date(2026, 12, 1), datetime.date(2026, 12, 31))
    record = office.submitted("single")
    with pytest.raises(ValidationFailed) as failure:
        office.sign("qian", record)
    assert failure.value.errors["approval"][0].code == "approval.own"


def test_one_person_gives_one_signature_per_level(office: Office) -> None:
    Delegations(office.records).create(office.actor("m4"), "m4", "m1", datetime.date(2026, 12, 1), datetime.date(2026, 12, 31))
    record = office.sign("m1", office.submitted("all"))
    with pytest.raises(ValidationFailed) as failure:
        office.sign("m1", record, on_behalf_of="m4")
    assert failure.value.errors["approval"][0].code == "approval.signed"


def test_added_approver_by_sign_in_name(office: Office) -> None:
    PermissionAdmin(office.records.access.store).add_user(SYSTEM_ACTOR, "u9", "zhangsan", "张三", "company")
    PermissionAdmin(office.records.access.store).assign(SYSTEM_ACTOR, "u9", "director", "company")
    record = office.submitted("all")
    level = office.records.add_approver(office.actor("m1"), "expense", record["id"], "approve", "zhangsan", version=record["version"])
    assert "u9" in level.eligible


def test_added_approver_signs_besides_quorum(office: Office) -> None:
    record = office.submitted("quorum")
    office.records.add_approver(office.actor("m1"), "expense", record["id"], "approve", "chen", version=record["version"])
    record = office.records.get(SYSTEM_ACTOR, "expense", record["id"])
    level = progress(office, record).levels[0]
    assert (level.needed, level.added) == (3, frozenset({"chen"}))
    record = office.sign("chen", record)
    record = office.sign("m1", record)
    # Two members are the quorum; chen's signature is needed besides, not in place of one of them.
    assert record["state"] == "review"
    assert office.sign("m2", record)["state"] == "approved"


def test_submitter_neither_waits_nor_adds(office: Office) -> None:
    PermissionAdmin(office.records.access.store).assign(SYSTEM_ACTOR, "qian", "member", "company")
    record = office.submitted("all")
    level = progress(office, record).levels[0]
    assert "qian" not in level.eligible
    assert level.needed == 4
    with pytest.raises(ValidationFailed) as own:
        office.records.add_approver(office.actor("qian"), "expense", record["id"], "approve", "chen", version=record["version"])
    assert own.value.errors["approver"][0].code == "approval.own"
    with pytest.raises(ValidationFailed) as refused:
        office.records.add_approver(office.actor("m1"), "expense", record["id"], "approve", "qian", version=record["version"])
    assert refused.value.errors["approver"][0].code == "approval.own"


def test_delegate_inbox_leaves_out_own_claims(office: Office) -> None:
    Delegations(office.records).create(office.actor("m3"), "m3", "qian", datetime.date(2026, 12, 1), datetime.date(2026, 12, 31))
    own = office.submitted("all")
    other = office.records.transition(office.actor("sun"), "expense", office.records.create(
        office.actor("sun"), "expense", {"title": "会议", "amount": "900", "procedure": "all"})["id"], "submit", version=1)
    page = Inbox(office.records, office.actor("qian")).page(kind="approve")
    waiting = {(row.principal.id, int(row.record["id"])) for row in page.rows}
    assert ("m3", int(other["id"])) in waiting
    assert ("m3", int(own["id"])) not in waiting


def test_level_role_signs_in_its_own_scope(office: Office) -> None:
    # li manages the east branch and is a director of the whole company; a manager level of a west claim is not his.
    PermissionAdmin(office.records.access.store).assign(SYSTEM_ACTOR, "li", "director", "company")
    PermissionAdmin(office.records.access.store).add_user(SYSTEM_ACTOR, "wu", "wu", "wu", "west")
    PermissionAdmin(office.records.access.store).assign(SYSTEM_ACTOR, "wu", "clerk", "west")
    wu = Actor(id="wu", name="wu", roles=("clerk",), org_unit="west")
    draft = office.records.create(wu, "expense", {"title": "差旅", "amount": "800", "procedure": "single"})
    record = office.records.transition(wu, "expense", draft["id"], "submit", version=draft["version"])
    level = progress(office, record).levels[0]
    assert set(level.eligible) == {"zhou"}


def test_submitter_may_not_send_back_own_claim(office: Office) -> None:
    PermissionAdmin(office.records.access.store).assign(SYSTEM_ACTOR, "qian", "manager", "east")
    qian = Actor(id="qian", name="qian", roles=("clerk", "manager"), org_unit="east")
    record = office.records.transition(qian, "expense", office.records.create(
        qian, "expense", {"title": "会议", "amount": "900", "procedure": "all"})["id"], "submit", version=1)
    assert "send_back" not in [t.name for t in office.records.transitions_for(qian, "expense", record)]
    with pytest.raises(ValidationFailed) as refused:
        office.records.transition(qian, "expense", record["id"], "send_back", version=record["version"], comment="退回")
    assert refused.value.errors["state"][0].code == "transition.own"


def test_long_comment_refused(office: Office) -> None:
    record = office.submitted("single")
    with pytest.raises(ValidationFailed) as refused:
        office.sign("li", record, "好" * 2001)
    assert refused.value.errors["comment"][0].code == "length"
