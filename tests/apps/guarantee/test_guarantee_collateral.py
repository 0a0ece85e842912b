"""Contracts, the mortgage registration and GPS devices of configs/guarantee, and register_mortgage waiting for them.

These tests use the sandboxes: the e-signature sandbox signs at once unless a signer's
mobile number ends in 0000 (declined), and the GPS sandbox reports a device offline when
its id ends in 0. tests/apps/guarantee/test_guarantee_signing.py drives the HTTP provider.
"""

from __future__ import annotations

import io
from typing import Any

import pypdf
import pytest

from runtime.errors import ValidationFailed
from runtime.record_query import Condition, ListQuery

from guarantee_world import (ADVANCE, SYSTEM, World, card_number, collateral, hooks_module, imei, install_gps, messages, register,
                             send_contracts, to_approved_standard)


def advanced(world: World, **application: Any) -> dict[str, Any]:
    """Return a loan of the standard flow moved to advanced, read as the operations officer."""
    record = to_approved_standard(world, world.application(world.product(), **application))
    record = world.fire(record, "issue_card", "bank", values={"repayment_card": card_number(996)})
    return world.fire(record, "advance", "finance", values=ADVANCE)


def contracts(world: World, record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = world.runtime.records.list(SYSTEM, "contract").rows
    return {str(row["kind"]): dict(row) for row in rows if row["application"] == record["id"]}


def pdf_text(world: World, description: dict[str, Any]) -> str:
    with world.runtime.files.open(description["sha256"]) as stream:
        content = stream.read()
    assert content.startswith(b"%PDF-")
    # Without white space, as the titles' letter spacing puts spaces between their characters.
    return "".join("".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages).split())


def refused(world: World, record: dict[str, Any], lang: str = "en") -> str:
    with pytest.raises(ValidationFailed) as error:
        world.fire(record, "register_mortgage", "operations")
    return messages(error.value, lang)


def test_contracts_generated_as_pdfs_with_borrower(world: World) -> None:
    record = advanced(world)
    borrower = world.runtime.records.get(SYSTEM, "customer", record["customer"])["name"]

    record = send_contracts(world, record)

    made = contracts(world, record)
    assert sorted(made) == ["deduction_authorization", "guarantee", "mortgage"]
    titles = {"guarantee": "委托担保合同", "mortgage": "机动车抵押合同", "deduction_authorization": "代扣授权书"}
    suffixes = {"guarantee": "DB", "mortgage": "DY", "deduction_authorization": "DK"}
    for kind, contract in made.items():
        assert contract["contract_no"] == f"{record['application_no']}-{suffixes[kind]}"
        text = pdf_text(world, contract["document"])
        assert borrower in text
        assert titles[kind] in text
        assert contract["contract_no"] in text
        assert contract["status"] == "signed"
        assert contract["envelope_id"].startswith("sbx-env-")
        assert contract["signed_digest"].startswith("sha256:")
        assert contract["signed_document"]["sha256"] != contract["document"]["sha256"]
        assert contract["org_unit"] == record["org_unit"]
    assert "演示汽车融资担保有限公司" in pdf_text(world, made["mortgage"]["document"])
    assert (record["signing_status"], record["signing_envelope_id"]) == ("signed", made["guarantee"]["envelope_id"])

    # The dealer's staff follow their own unit's contracts; another dealer sees none.
    seen = world.users.list(world.actor("dealer"), "contract").rows
    assert sorted(row["kind"] for row in seen) == ["deduction_authorization", "guarantee", "mortgage"]
    assert world.users.list(world.actor("other_dealer"), "contract").rows == []

    with pytest.raises(ValidationFailed) as again:
        send_contracts(world, world.read(record, "operations"))
    assert "Every contract is signed or awaiting signature" in messages(again.value)


def test_nothing_recorded_lists_everything_missing(world: World) -> None:
    record = advanced(world)

    english, chinese = refused(world, record), refused(world, record, "zh-CN")

    assert english == ("_record: The mortgage cannot be registered yet: these contracts are not signed: the guarantee contract "
                       "(not generated), the mortgage contract (not generated), the deduction authorization (not generated); "
                       "no mortgage registration is recorded; 0 GPS device(s) are bound where 1 are needed.")
    assert chinese == ("_record: 暂不能完成抵押登记：以下合同尚未签署：担保合同（未生成）、抵押合同（未生成）、代扣授权书（未生成）；"
                       "尚未录入抵押登记；已绑定的 GPS 设备 0 台，至少需要 1 台。")
    assert world.read(record)["state"] == "advanced"


def test_missing_registration_blocks(world: World) -> None:
    record = send_contracts(world, advanced(world))
    install_gps(world, record)

    assert refused(world, world.read(record, "operations")) == ("_record: The mortgage cannot be registered yet: "
                                                               "no mortgage registration is recorded.")

    registration = register(world, record)
    assert registration["vehicle"] == record["vehicle"]
    vehicle = world.runtime.records.get(SYSTEM, "vehicle", record["vehicle"])
    assert (vehicle["mortgage_status"], vehicle["registration_certificate_no"], vehicle["certificate_custody"]) == (
        "mortgaged", "110012345678", "guarantor")
    moved = world.fire(world.read(record, "operations"), "register_mortgage", "operations")
    assert moved["state"] == "mortgaged"
    assert moved["mortgage_registered_on"] == registration["registered_on"]
    assert moved["gps_installed"] is True


def test_second_registration_refused(world: World) -> None:
    record = advanced(world)
    register(world, record)
    with pytest.raises(ValidationFailed) as error:
        register(world, record)
    assert "already has the mortgage registration DY" in messages(error.value)


def test_declined_contracts_block_until_sent_again(world: World) -> None:
    customer = world.customer(phone="13912340000")
    record = advanced(world, customer=customer)
    register(world, record)
    install_gps(world, record)

    record = send_contracts(world, record)

    assert record["signing_status"] == "declined"
    assert {row["status"] for row in contracts(world, record).values()} == {"declined"}
    assert refused(world, record) == ("_record: The mortgage cannot be registered yet: these contracts are not signed: the guarantee "
                                      "contract (declined), the mortgage contract (declined), the deduction authorization (declined).")

    # The borrower's number was wrong; corrected, the declined contracts are sent again and signed.
    stored = world.runtime.records.get(SYSTEM, "customer", customer)
    world.runtime.records.update(SYSTEM, "customer", customer, {"phone": "13912345678"}, version=stored["version"])
    first = {kind: row["envelope_id"] for kind, row in contracts(world, record).items()}
    record = send_contracts(world, world.read(record, "operations"))

    again = contracts(world, record)
    assert {row["status"] for row in again.values()} == {"signed"}
    assert all(again[kind]["envelope_id"] != first[kind] and again[kind]["send_count"] == 2 for kind in again)
    assert world.fire(record, "register_mortgage", "operations")["state"] == "mortgaged"


def test_gps_device_cannot_be_bound_twice(world: World) -> None:
    first = advanced(world)
    device = install_gps(world, first)
    assert device["status"] == "bound"
    assert device["last_report"].startswith("在线")
    vehicle = world.runtime.records.get(SYSTEM, "vehicle", first["vehicle"])
    devices = world.runtime.records.list(SYSTEM, "gps_device", ListQuery(where=Condition("vehicle", "eq", vehicle["id"])))
    assert [row["id"] for row in devices.rows] == [device["id"]]

    # The device has one record: a second one with its number is refused, naming the first.
    second = advanced(world)
    with pytest.raises(ValidationFailed) as error:
        world.users.create(world.actor("operations"), "gps_device", {
            "imei": device["imei"], "vendor": "途强", "kind": "wireless", "application": second["id"],
            "installed_on": device["installed_on"], "installer": "王师傅"})
    first_no = world.read(first)["application_no"]
    assert messages(error.value).startswith(f"imei: The device {device['imei']} is recorded already as device #{device['id']} "
                                            f"of the application {first_no}")

    # Bound, the device keeps its vehicle; unbound from the first vehicle, its record moves to the second and binds there.
    with pytest.raises(ValidationFailed) as error:
        world.users.update(world.actor("operations"), "gps_device", device["id"], {"application": second["id"], "vehicle": None},
                           version=device["version"])
    assert messages(error.value) == "imei: A bound device keeps its number and vehicle; unbind it before changing them"
    device = world.users.run_action(world.actor("operations"), "gps_device", device["id"], "unbind", version=device["version"])
    assert device["status"] == "unbound"
    moved = world.users.update(world.actor("operations"), "gps_device", device["id"], {"application": second["id"], "vehicle": None},
                               version=device["version"])
    assert moved["vehicle"] == second["vehicle"]
    bound = world.users.run_action(world.actor("operations"), "gps_device", moved["id"], "bind", version=moved["version"])
    assert bound["status"] == "bound"


def test_gps_device_number_checked(world: World) -> None:
    record = advanced(world)
    number = imei(4242)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    values = {"vendor": "途强", "kind": "wired", "application": record["id"], "installed_on": ADVANCE["advance_date"],
              "installer": "李师傅"}

    with pytest.raises(ValidationFailed) as error:
        world.users.create(world.actor("operations"), "gps_device", {**values, "imei": wrong})
    assert messages(error.value) == f"imei: The device number {wrong} has a wrong check digit; check it against the device's label"

    completed = world.users.create(world.actor("operations"), "gps_device", {**values, "imei": number[:14]})
    assert completed["imei"] == number
    assert completed["status"] == "unbound"


def test_offline_device_marked_faulty(world: World) -> None:
    record = collateral(world, advanced(world))
    device = install_gps(world, record, offline=True)
    assert device["status"] == "faulty"
    assert device["last_report"].startswith("离线")


def test_used_car_needs_wired_and_wireless() -> None:
    collateral_rules = hooks_module("collateral")
    signed = [{"kind": kind.name, "status": "signed"} for kind in collateral_rules.CONTRACT_KINDS]
    wired = {"kind": "wired", "status": "bound"}
    wireless = {"kind": "wireless", "status": "bound"}

    assert collateral_rules.collateral_refusal(signed, 1, [wired], "new") is None
    refusal = collateral_rules.collateral_refusal(signed, 1, [wired, {**wired}], "used")
    assert refusal.en == ("The mortgage cannot be registered yet: 2 GPS device(s) are bound where 2 are needed "
                          "(a used car needs one wired and one wireless).")
    assert collateral_rules.collateral_refusal(signed, 1, [wired, wireless], "used") is None
    assert collateral_rules.collateral_refusal(signed, 1, [wired, {**wireless, "status": "faulty"}], "used") is not None
