"""Integrity of the guarantee app's records: money records only the steps write, one application per vehicle, one record
per GPS device, the bank on every printed contract, the consent of everyone on a submitted application, and the
document checklist of the step ahead."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

import pypdf
import pytest

from metamodel import load_app
from runtime.access import Actor
from runtime.errors import PermissionDenied, ValidationFailed
from runtime.permission_admin import PermissionAdmin
from runtime.printing import RecordPrinting
from tests.web.conftest import WebApp
from ui.web.app import build_app, open_state

from guarantee_world import (ADVANCE, CHECKLIST, GUARANTEE, SYSTEM, World, after_approval, card_number, hooks_module, imei, messages,
                             to_approved_standard)
from test_guarantee_collateral import advanced

MONEY_RECORDS = ("advance_payment", "disbursement", "deduction")
#: A bank liaison of the Shanghai branch, beside the world's Beijing one.
SHANGHAI_BANK = Actor(id="sh_bank", name="sh_bank", roles=("bank_liaison",), org_unit="shanghai_branch")


def _id(value: Any) -> int:
    return int(value["id"]) if isinstance(value, dict) else int(value)


def rows_of(world: World, actor: Actor, entity: str, record: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for row in world.users.list(actor, entity).rows if _id(row["application"]) == record["id"]]


def add_shanghai_bank(world: World) -> None:
    admin = PermissionAdmin(world.runtime.permissions())
    admin.add_user(SYSTEM, SHANGHAI_BANK.id, SHANGHAI_BANK.id, SHANGHAI_BANK.id, "shanghai_branch")
    admin.assign(SYSTEM, SHANGHAI_BANK.id, "bank_liaison", "shanghai_branch")


# Money records ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["finance", "bank"])
@pytest.mark.parametrize("entity", MONEY_RECORDS)
def test_nobody_creates_money_records_by_hand(world: World, user: str, entity: str) -> None:
    record = world.fire(world.fire(world.application(world.product()), "submit", "dealer"), "forward", "dealer")
    with pytest.raises(PermissionDenied):
        world.users.create(world.actor(user), entity, {"application": record["id"], "amount": Decimal("1")})


def test_money_records_belong_to_the_loans_unit(world: World) -> None:
    add_shanghai_bank(world)
    record = after_approval(world, to_approved_standard(world, world.application(world.product())))
    assert record["state"] == "repaying"

    for entity in MONEY_RECORDS:
        stored = [row for row in world.runtime.records.list(SYSTEM, entity).rows if _id(row["application"]) == record["id"]]
        assert [row["org_unit"] for row in stored] == [record["org_unit"]], entity

    # The Beijing branch's bank liaison reads the notice of the Beijing dealer's loan; Shanghai's does not.
    assert len(rows_of(world, world.actor("bank"), "disbursement", record)) == 1
    assert rows_of(world, SHANGHAI_BANK, "disbursement", record) == []
    # The dealer's staff follow their own loan's advance.
    assert len(rows_of(world, world.actor("dealer"), "advance_payment", record)) == 1


def test_money_lists_offer_no_new_button(world: World) -> None:
    settings = world.runtime.settings
    state = open_state(GUARANTEE, settings)
    web = WebApp(GUARANTEE, settings, state, build_app(GUARANTEE, settings, state=state))
    try:
        web.add_user("finance_web", ("finance",), "finance_department")
        web.add_user("bank_web", ("bank_liaison",), "beijing_branch")
        for user, entities in (("finance_web", MONEY_RECORDS), ("bank_web", ("disbursement",))):
            client = web.client(user, lang="zh-CN")
            for entity in entities:
                page = client.get(f"/records/{entity}")
                assert page.status_code == 200, (user, entity)
                assert f'href="/records/{entity}/new"' not in page.text, (user, entity)
                assert ">新建<" not in page.text, (user, entity)
                assert client.get(f"/records/{entity}/new").status_code == 403, (user, entity)
    finally:
        web.close()


# One live application per vehicle ------------------------------------------------------------------------------------


def test_draft_does_not_hold_its_vehicle(world: World) -> None:
    draft = world.application(world.product())
    submitted = world.fire(world.application(world.product(), vehicle=draft["vehicle"]), "submit", "dealer")
    assert submitted["state"] == "submitted"

    # The draft is checked when it is submitted in turn, and the live application holds the vehicle then.
    with pytest.raises(ValidationFailed) as refused:
        world.fire(draft, "submit", "dealer")
    assert f"已用于申请 {submitted['application_no']}，该申请仍在办理中" in messages(refused.value, "zh-CN")


def test_returned_application_resubmits_beside_a_draft(world: World) -> None:
    returned = world.fire(world.fire(world.application(world.product()), "submit", "dealer"), "forward", "dealer")
    returned = world.fire(returned, "return_to_dealer", "credit", comment="资料不清晰")
    draft = world.application(world.product(), vehicle=returned["vehicle"])

    assert world.fire(world.read(returned, "dealer"), "resubmit", "dealer")["state"] == "submitted"
    assert world.read(draft, "dealer")["state"] == "draft"


# One record per GPS device -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("first_short", [True, False])
def test_same_imei_recorded_once(world: World, first_short: bool) -> None:
    record = advanced(world)
    full = imei(4000)
    numbers = (full[:14], full) if first_short else (full, full[:14])
    values = {"vendor": "途强", "kind": "wired", "application": record["id"], "installed_on": datetime.date(2026, 3, 4),
              "installer": "李师傅"}
    first = world.users.create(world.actor("operations"), "gps_device", {**values, "imei": numbers[0]})
    assert first["imei"] == full

    with pytest.raises(ValidationFailed) as refused:
        world.users.create(world.actor("operations"), "gps_device", {**values, "imei": numbers[1]})

    number = record["application_no"]
    assert messages(refused.value) == (f"imei: The device {full} is recorded already as device #{first['id']} of the application "
                                       f"{number}; open that record instead (unbind it there first to move the device to another "
                                       "vehicle)")
    assert messages(refused.value, "zh-CN") == (f"imei: 设备 {full} 已登记为贷款申请 {number} 的设备记录 #{first['id']}；请打开该记录处理"
                                                "（如需改装到其他车辆，请先在该记录中解绑）")
    # Saving the first record again is no repetition.
    saved = world.users.update(world.actor("operations"), "gps_device", first["id"], {"installer": "王师傅"}, version=first["version"])
    assert saved["imei"] == full


# The lending bank on printed contracts -------------------------------------------------------------------------------


def printed_text(world: World, user: str, record: dict[str, Any], template: str) -> str:
    """Print the application with a template as `user` would on the print screen; return the PDF's text without white space."""
    pdf = RecordPrinting(world.users).print_record(world.actor(user), "loan_application", record["id"], template).pdf
    return "".join("".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages).split())


def test_operations_officers_contracts_name_the_bank(world: World) -> None:
    record = advanced(world)
    assert "致：中国工商银行（以下简称“贷款银行”）" in printed_text(world, "operations", record, "deduction_authorization")
    for template in ("guarantee_contract", "mortgage_contract"):
        assert "中国工商银行" in printed_text(world, "operations", record, template), template


def test_every_role_that_prints_applications_reads_the_bank(world: World) -> None:
    model = world.runtime.model
    printers = sorted({grant.role for grant in model.permissions.grants if grant.entity == "loan_application" and "print" in grant.actions})
    assert "operations_officer" in printers
    assert "collector" in printers
    admin = PermissionAdmin(world.runtime.permissions())
    for role in printers:
        actor = Actor(id=f"printer_{role}", name=role, roles=(role,), org_unit="head_office")
        admin.add_user(SYSTEM, actor.id, actor.id, actor.id, "head_office")
        admin.assign(SYSTEM, actor.id, role, "head_office")
        assert world.users.get(actor, "bank", world.bank)["name"] == "中国工商银行", role
        assert world.users.access.allows(actor, "read", "loan_product"), role


# The consent of everyone on the application --------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "en", "zh"), [("customer", "borrower", "借款人"), ("co_borrower", "co-borrower", "共同借款人"),
                                                 ("guarantor", "personal guarantor", "保证人")])
def test_submit_needs_everyones_consent(world: World, field: str, en: str, zh: str) -> None:
    person = world.customer(sequence=500, consent_signed_at=None)
    name = world.runtime.records.get(SYSTEM, "customer", person)["name"]
    record = world.application(world.product(), **{field: person})

    with pytest.raises(ValidationFailed) as refused:
        world.fire(record, "submit", "dealer")

    assert messages(refused.value) == (f"{field}: The {en} {name} has no signed personal information consent on record; record the "
                                       f"date the consent was signed (Personal information consent signed at) on {name}'s customer "
                                       "record, then submit again")
    assert messages(refused.value, "zh-CN") == (f"{field}: {zh} {name} 尚未登记个人信息授权；请在 {name} 的客户档案中填写"
                                                "“个人信息授权时间”后再提交")
    assert world.read(record, "dealer")["state"] == "draft"


def test_resubmit_needs_consent(world: World) -> None:
    guarantor = world.customer(sequence=600)
    record = world.fire(world.fire(world.application(world.product(), guarantor=guarantor), "submit", "dealer"), "forward", "dealer")
    record = world.fire(record, "return_to_dealer", "credit", comment="请补充保证人资料")
    version = world.runtime.records.get(SYSTEM, "customer", guarantor)["version"]
    world.runtime.records.update(SYSTEM, "customer", guarantor, {"consent_signed_at": None}, version=version)

    with pytest.raises(ValidationFailed) as refused:
        world.fire(record, "resubmit", "dealer")
    assert messages(refused.value, "zh-CN").startswith("guarantor: 保证人 ")

    signed = datetime.datetime(2026, 2, 1, 10, 0, tzinfo=datetime.timezone.utc)
    world.runtime.records.update(SYSTEM, "customer", guarantor, {"consent_signed_at": signed}, version=version + 1)
    assert world.fire(world.read(record, "dealer"), "resubmit", "dealer")["state"] == "submitted"


# The document checklist of the step ahead ----------------------------------------------------------------------------


def test_checklist_in_committee_review_shows_the_advance(world: World) -> None:
    record = world.application(world.product(), vehicle_price=Decimal("400000"), down_payment=Decimal("150000"), loan_amount="250000")
    record = world.fire(world.fire(record, "submit", "dealer"), "forward", "dealer")
    record = world.fire(world.home_visit(world.fire(record, "start_credit_review", "credit")), "credit_approve", "credit")
    record = world.fire(record, "refer_to_committee", "risk")

    assert record["state"] == "committee_review"
    assert world.read(record, "dealer")["document_checklist"] == "垫资：\n✓ 首付款凭证\n✓ 购车发票"


def test_checklist_empty_when_no_step_ahead_needs_documents(world: World) -> None:
    record = to_approved_standard(world, world.application(world.product()))
    record = world.fire(record, "issue_card", "bank", values={"repayment_card": card_number(996)})
    record = world.fire(record, "advance", "finance", values=ADVANCE)
    assert world.read(record, "dealer")["document_checklist"] is None


def test_returned_application_shows_the_resubmission() -> None:
    document_hooks, documents = hooks_module("document_hooks"), hooks_module("documents")
    model = load_app(GUARANTEE)
    checklist = documents.read_checklist(CHECKLIST, "P", document_hooks.document_types(model))
    flow = model.flows["loan_standard"]
    steps = {state: document_hooks.next_step(flow, state, checklist) for state in ("returned", "committee_review", "bank_review",
                                                                                    "risk_review", "advanced")}
    assert {state: step.name if step else None for state, step in steps.items()} == {
        "returned": "resubmit", "committee_review": "advance", "bank_review": "advance", "risk_review": "advance", "advanced": None}
