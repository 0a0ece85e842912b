"""Firing flow transitions by hand, on the requisition app: permission, state, comment, required fields, guard, hooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import Engine, select

from metamodel import load_app
from runtime.access import SYSTEM_ACTOR, Actor, SystemAccess
from runtime.crypto import KeyRing
from runtime.errors import NotFound, PermissionDenied, StaleVersion, ValidationFailed
from runtime.hooks import HookError, hook, registry
from runtime.migrate import migrate
from runtime.permission_admin import PermissionAdmin
from runtime.permissions import PermissionStore
from runtime.policy_access import PolicyAccess
from runtime.records import RecordService
from runtime.schema import build_schema
from tests.conftest import REPOSITORY

REQUISITION = REPOSITORY / "tests" / "apps" / "requisition"


class Office:
    def __init__(self, engine: Engine, tmp_path: Path) -> None:
        self.model = load_app(REQUISITION)
        self.schema = build_schema(self.model)
        migrate(engine, self.schema, self.model, backup_root=tmp_path / "backups")
        keys = KeyRing.generate()
        self.system = RecordService(self.model, self.schema, engine, access=SystemAccess(), keys=keys)
        store = PermissionStore(self.model, self.schema, engine)
        admin = PermissionAdmin(store)
        for user, role, unit in (("wang", "staff", "engineering"), ("li", "manager", "engineering"),
                                 ("zhao", "it_staff", "it"), ("sun", "staff", "sales"), ("root", "admin", "company")):
            admin.add_user(SYSTEM_ACTOR, user, user, user, unit)
            admin.assign(SYSTEM_ACTOR, user, role, unit)
        self.records = RecordService(self.model, self.schema, engine, access=PolicyAccess(store, self.schema), keys=keys)
        self.engine = engine
        # Staff read the employees of their own unit only, so the requester belongs to engineering.
        hr = Actor(id="hr", roles=SYSTEM_ACTOR.roles, org_unit="engineering")
        self.employee = self.system.create(hr, "employee", {
            "employee_no": "E00001", "name": "王小明", "email": "wang@example.com", "department": "engineering"})["id"]
        self.item = self.system.create(SYSTEM_ACTOR, "equipment_item", {
            "code": "LAP-001", "name": "笔记本电脑", "category": "laptop", "unit_price": "6999.00", "stock": 3})["id"]

    def actor(self, user: str, role: str, unit: str) -> Actor:
        return Actor(id=user, roles=(role,), org_unit=unit)

    def draft(self, number: str = "RQ00000001", **values: Any) -> dict[str, Any]:
        wang = self.actor("wang", "staff", "engineering")
        return self.records.create(wang, "requisition", {
            "requisition_no": number, "requester": self.employee, "item": self.item, "quantity": 1,
            "reason": "新员工入职需要一台笔记本电脑", **values})


@pytest.fixture
def office(engine: Engine, tmp_path: Path) -> Office:
    return Office(engine, tmp_path)


@pytest.fixture
def restore_registry() -> Iterator[None]:
    saved = dict(registry._hooks)
    yield
    registry._hooks.clear()
    registry._hooks.update(saved)


def test_transition_moves_state_and_is_audited(office: Office) -> None:
    wang = office.actor("wang", "staff", "engineering")
    draft = office.draft()
    assert draft["state"] == "draft"
    assert [t.name for t in office.records.transitions_for(wang, "requisition", draft)] == ["submit", "withdraw"]

    submitted = office.records.transition(wang, "requisition", draft["id"], "submit", version=draft["version"])
    assert (submitted["state"], submitted["version"]) == ("manager_review", 2)

    audit = office.schema.audit
    with office.engine.connect() as connection:
        entry = connection.execute(select(audit.c.action, audit.c.actor, audit.c.changes)
                                   .where(audit.c.record_id == draft["id"]).order_by(audit.c.id.desc())).first()
    assert entry is not None
    assert (entry.action, entry.actor, entry.changes) == ("transition:submit", "wang", {"state": ["draft", "manager_review"]})


def test_transition_needs_its_grant_and_the_right_state(office: Office) -> None:
    wang = office.actor("wang", "staff", "engineering")
    li = office.actor("li", "manager", "engineering")
    draft = office.draft()
    with pytest.raises(PermissionDenied):
        office.records.transition(wang, "requisition", draft["id"], "manager_approve", version=1)
    with pytest.raises(ValidationFailed) as failure:
        office.records.transition(li, "requisition", draft["id"], "manager_approve", version=1)
    assert failure.value.errors["state"][0].message_zh == "当前状态“草稿”下不能执行“上级同意”"


def test_record_outside_scope_is_not_found(office: Office) -> None:
    draft = office.draft()
    sun = office.actor("sun", "staff", "sales")
    with pytest.raises(NotFound):
        office.records.transition(sun, "requisition", draft["id"], "submit", version=1)


def test_stale_version_refused(office: Office) -> None:
    wang = office.actor("wang", "staff", "engineering")
    draft = office.draft()
    office.records.update(wang, "requisition", draft["id"], {"quantity": 2}, version=1)
    with pytest.raises(StaleVersion):
        office.records.transition(wang, "requisition", draft["id"], "submit", version=1)


def test_comment_required_and_kept_as_reason(office: Office) -> None:
    wang = office.actor("wang", "staff", "engineering")
    li = office.actor("li", "manager", "engineering")
    draft = office.draft()
    submitted = office.records.transition(wang, "requisition", draft["id"], "submit", version=1)
    with pytest.raises(ValidationFailed) as failure:
        office.records.transition(li, "requisition", draft["id"], "send_back", version=submitted["version"], comment="  ")
    assert failure.value.errors["comment"][0].message_zh == "请填写审批意见。"

    office.records.transition(li, "requisition", draft["id"], "send_back", version=submitted["version"], comment="请补充用途")
    audit = office.schema.audit
    with office.engine.connect() as connection:
        reason = connection.scalar(select(audit.c.reason).where(audit.c.action == "transition:send_back"))
    assert reason == "请补充用途"


def test_required_fields_and_guard(office: Office) -> None:
    wang = office.actor("wang", "staff", "engineering")
    li = office.actor("li", "manager", "engineering")
    zhao = office.actor("zhao", "it_staff", "it")
    draft = office.draft(quantity=5)
    record = office.records.transition(wang, "requisition", draft["id"], "submit", version=1)
    record = office.records.transition(li, "requisition", draft["id"], "manager_approve", version=record["version"])
    assert record["state"] == "it_review"

    with pytest.raises(ValidationFailed) as failure:
        office.records.transition(zhao, "requisition", draft["id"], "fulfil", version=record["version"])
    assert set(failure.value.errors) == {"asset_tags", "delivered_on"}
    assert failure.value.errors["delivered_on"][0].message_en == "Delivered on is needed before “Deliver”"

    record = office.system.update(SYSTEM_ACTOR, "requisition", draft["id"],
                                  {"asset_tags": "IT-0001", "delivered_on": "2026-12-01"}, version=record["version"])
    with pytest.raises(ValidationFailed) as failure:
        office.records.transition(zhao, "requisition", draft["id"], "fulfil", version=record["version"])
    assert failure.value.errors["state"][0].code == "transition.guard"

    record = office.system.update(SYSTEM_ACTOR, "requisition", draft["id"], {"quantity": 3}, version=record["version"])
    done = office.records.transition(zhao, "requisition", draft["id"], "fulfil", version=record["version"])
    assert done["state"] == "done"
    assert office.records.transitions_for(zhao, "requisition", done) == []


def test_automatic_transition_cannot_be_fired_by_hand(office: Office) -> None:
    wang = office.actor("wang", "staff", "engineering")
    record = office.records.transition(wang, "requisition", office.draft()["id"], "submit", version=1)
    with pytest.raises(ValidationFailed) as failure:
        office.system.transition(SYSTEM_ACTOR, "requisition", record["id"], "auto_approve", version=record["version"])
    assert failure.value.errors["state"][0].code == "transition.automatic"


def test_transition_hooks_write_or_roll_back(office: Office, restore_registry: None) -> None:
    wang = office.actor("wang", "staff", "engineering")
    # The model is this test's own copy, so its submit step may be given a hook here.
    submit = office.model.flows["requisition_approval"].transitions["submit"]
    object.__setattr__(submit, "hooks", ("office.stamp",))
    calls: list[str] = []

    @hook("office.stamp")
    def stamp(context: Any) -> dict[str, Any]:
        calls.append(context.event)
        if context.record["quantity"] > 1:
            raise HookError("Not enough stock", "库存不足")
        return {"urgency": "urgent"}

    failing = office.draft("RQ00000002", quantity=2)
    with pytest.raises(ValidationFailed) as failure:
        office.records.transition(wang, "requisition", failing["id"], "submit", version=1)
    assert failure.value.errors["_record"][0].message_zh == "库存不足"
    assert office.records.get(wang, "requisition", failing["id"])["state"] == "draft"

    record = office.records.transition(wang, "requisition", office.draft()["id"], "submit", version=1)
    assert (record["state"], record["urgency"]) == ("manager_review", "urgent")
    assert calls == ["submit", "submit"]

    registry._hooks.pop("office.stamp")
    with pytest.raises(ValidationFailed) as failure:
        office.records.transition(wang, "requisition", office.draft("RQ00000003")["id"], "submit", version=1)
    assert failure.value.errors["_record"][0].code == "hook.missing"
    assert "“提交”需要运行 office.stamp" in failure.value.errors["_record"][0].message_zh


def test_state_hooks_run_around_transition(office: Office, restore_registry: None) -> None:
    wang = office.actor("wang", "staff", "engineering")
    flow = office.model.flows["requisition_approval"]
    # The model is this test's own copy, so its states and submit step may be given hooks here.
    object.__setattr__(flow.states["draft"], "on_leave", ("office.left",))
    object.__setattr__(flow.transitions["submit"], "hooks", ("office.moved",))
    object.__setattr__(flow.states["manager_review"], "on_enter", ("office.entered",))
    seen: list[tuple[str, str]] = []

    def recorder(context: Any) -> dict[str, Any] | None:
        seen.append((context.event, context.record["state"]))
        return {"urgency": "urgent"} if context.event.startswith("enter:") else None

    for name in ("office.left", "office.moved", "office.entered"):
        registry.register(name, recorder)
    record = office.records.transition(wang, "requisition", office.draft()["id"], "submit", version=1)
    assert seen == [("leave:draft", "draft"), ("submit", "draft"), ("enter:manager_review", "manager_review")]
    assert (record["state"], record["urgency"]) == ("manager_review", "urgent")


def test_transition_hook_writes_read_only_field(office: Office, restore_registry: None) -> None:
    wang = office.actor("wang", "staff", "engineering")
    # The model is this test's own copy: urgency becomes read-only, and submit gets a hook that sets it.
    object.__setattr__(office.model.entities["requisition"].fields["urgency"], "read_only", True)
    object.__setattr__(office.model.flows["requisition_approval"].transitions["submit"], "hooks", ("office.urgent",))
    registry.register("office.urgent", lambda context: {"urgency": "urgent"})
    record = office.records.transition(wang, "requisition", office.draft()["id"], "submit", version=1)
    assert (record["state"], record["urgency"]) == ("manager_review", "urgent")


def test_state_limits_editable_fields(office: Office) -> None:
    wang = office.actor("wang", "staff", "engineering")
    li = office.actor("li", "manager", "engineering")
    zhao = office.actor("zhao", "it_staff", "it")
    record = office.records.transition(wang, "requisition", office.draft()["id"], "submit", version=1)
    record = office.records.transition(li, "requisition", record["id"], "manager_approve", version=record["version"])

    with pytest.raises(ValidationFailed) as failure:
        office.records.update(zhao, "requisition", record["id"], {"quantity": 2}, version=record["version"])
    assert failure.value.errors["quantity"][0].message_zh == "当前状态“信息技术部处理”下不能修改此项。"

    record = office.records.update(zhao, "requisition", record["id"], {"asset_tags": "IT-0001", "delivered_on": "2026-12-01"},
                                   version=record["version"])
    record = office.records.transition(zhao, "requisition", record["id"], "fulfil", version=record["version"])
    with pytest.raises(ValidationFailed) as failure:
        office.records.update(zhao, "requisition", record["id"], {"asset_tags": "IT-0002"}, version=record["version"])
    assert failure.value.errors["asset_tags"][0].code == "state_locked"

    fixed = office.system.update(SYSTEM_ACTOR, "requisition", record["id"], {"asset_tags": "IT-0002"}, version=record["version"])
    assert fixed["asset_tags"] == "IT-0002"


def test_empty_editable_locks_all_fields(office: Office) -> None:
    wang = office.actor("wang", "staff", "engineering")
    li = office.actor("li", "manager", "engineering")
    record = office.records.transition(wang, "requisition", office.draft()["id"], "submit", version=1)

    with pytest.raises(ValidationFailed) as failure:
        office.records.update(li, "requisition", record["id"], {"quantity": 2, "reason": "部门新增一名同事，需要再加一台"}, version=record["version"])
    assert {name: errors[0].code for name, errors in failure.value.errors.items()} == {
        "quantity": "state_locked", "reason": "state_locked"}


def test_reference_outside_read_scope_rejected(office: Office) -> None:
    sun = office.actor("sun", "staff", "sales")
    with pytest.raises(ValidationFailed) as failure:
        office.records.create(sun, "requisition", {
            "requisition_no": "RQ00000009", "requester": office.employee, "item": office.item, "quantity": 1,
            "reason": "销售部需要一台演示用笔记本"})
    assert failure.value.errors["requester"][0].message_en == (
        f"No Employee with id {office.employee} is available to you; choose one from the list.")


def test_referenced_record_cannot_be_deleted(office: Office) -> None:
    office.draft()
    employee = office.system.get(SYSTEM_ACTOR, "employee", office.employee)
    admin = Actor(id="root", roles=("admin",), org_unit="company")
    with pytest.raises(ValidationFailed) as failure:
        office.records.delete(admin, "employee", office.employee, version=employee["version"])
    assert failure.value.errors["_record"][0].message_zh == "此员工仍被 1 条设备申领单使用；请先修改或删除它们。"
    assert office.system.get(SYSTEM_ACTOR, "employee", office.employee)["version"] == employee["version"]


def test_missing_reference_named_by_label(office: Office) -> None:
    with pytest.raises(ValidationFailed) as failure:
        office.draft(item=999999)
    assert failure.value.errors["item"][0].message_zh == "编号为 999999 的设备物品不存在或已删除；请重新选择。"
