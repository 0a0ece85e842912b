"""Typed documents and the product's checklist per step (catalogs/loan_products.yaml, guarantee_hooks/documents.py)."""

from __future__ import annotations

import pytest
import yaml

from runtime.errors import ValidationFailed

from guarantee_world import GUARANTEE, World, hooks_module, messages

documents = hooks_module("documents")
document_hooks = hooks_module("document_hooks")


def test_submit_refused_naming_missing_types(world: World) -> None:
    record = world.application(world.product(), documents=("id_card", "purchase_contract"))

    with pytest.raises(ValidationFailed) as refused:
        world.fire(record, "submit", "dealer")

    assert messages(refused.value) == "doc_driving_licence: Upload these documents before “Submit”: Driving licence, Proof of income"
    assert messages(refused.value, "zh-CN") == "doc_driving_licence: 执行“提交申请”前须上传以下资料：驾驶证、收入证明"
    assert world.read(record, "dealer")["state"] == "draft"


def test_checklist_follows_next_step(world: World) -> None:
    record = world.application(world.product(), documents=("id_card",))
    assert world.read(record, "dealer")["document_checklist"] == "\n".join([
        "提交申请：", "✓ 身份证", "✗ 驾驶证（缺）", "✗ 收入证明（缺）", "✗ 购车合同（缺）"])

    for kind in ("driving_licence", "income_proof", "purchase_contract"):
        record = world.upload(record, kind)
    assert "✗" not in world.read(record, "dealer")["document_checklist"]

    record = world.fire(record, "submit", "dealer")
    # After submission the next step with documents is the credit review, which needs the bank statement.
    assert world.read(record, "dealer")["document_checklist"] == "信审通过：\n✗ 银行流水（缺）"


def test_used_vehicle_married_borrower_types(world: World) -> None:
    vehicle = world.vehicle(condition="used", appraised_value="180000", first_registration_date="2023-01-10", mileage_km=30000)
    customer = world.customer(marital_status="married", spouse_name="配偶甲")
    record = world.application(world.product(), customer=customer, vehicle=vehicle)

    with pytest.raises(ValidationFailed) as refused:
        world.fire(record, "submit", "dealer")
    assert "Marriage certificate, Vehicle licence or registration certificate" in messages(refused.value) or \
        "Vehicle licence or registration certificate, Marriage certificate" in messages(refused.value)

    record = world.upload(world.upload(record, "vehicle_licence"), "marriage_certificate")
    assert world.fire(record, "submit", "dealer")["state"] == "submitted"


def test_credit_approve_checks_own_types(world: World) -> None:
    record = world.application(world.product(), documents=("id_card", "driving_licence", "income_proof", "purchase_contract"))
    for transition, user in (("submit", "dealer"), ("forward", "dealer"), ("start_credit_review", "credit")):
        record = world.fire(record, transition, user)
    record = world.home_visit(record)

    with pytest.raises(ValidationFailed) as refused:
        world.fire(record, "credit_approve", "credit")
    assert messages(refused.value) == "doc_bank_statement: Upload these documents before “Pass credit review”: Bank statement"

    # The credit officer adds the statement during the review.
    record = world.upload(record, "bank_statement", "credit")
    assert world.fire(record, "credit_approve", "credit")["state"] == "risk_review"


def test_checklist_error_names_product_and_entry() -> None:
    known = ("id_card", "driving_licence")
    with pytest.raises(documents.ChecklistError) as wrong:
        documents.read_checklist({"submit": ["id_card", "passport"]}, "P1", known)
    assert wrong.value.en == "The document checklist of P1 (submit) names the unknown type 'passport'; the types are driving_licence, id_card"
    with pytest.raises(documents.ChecklistError) as wrong:
        documents.read_checklist({"submit": [{"type": "id_card", "when": "rainy"}]}, "P1", known)
    assert wrong.value.zh == "产品 P1 的资料清单（submit）中的条件 'rainy' 无效，可用：used_vehicle, married"
    assert documents.read_checklist(None, "P1", known) == {}


def test_catalog_checklists_valid(world: World) -> None:
    model = world.runtime.model
    known = document_hooks.document_types(model)
    checked = {documents.step_of(transition.name) for flow in model.flows_for("loan_application")
               for transition in flow.transitions.values() if "guarantee.check_documents" in transition.hooks}
    rows = yaml.safe_load((GUARANTEE / "catalogs" / "loan_products.yaml").read_text(encoding="utf-8"))["rows"]
    for row in rows:
        checklist = documents.read_checklist(row["document_checklist"], row["code"], known)
        assert set(checklist) <= checked, row["code"]
        assert checklist["submit"], row["code"]
