"""The JSON API takes back the masked values it returned: a record sent back as read keeps what is stored."""

from __future__ import annotations

from typing import Any

from runtime.access import SYSTEM_ACTOR, Actor
from runtime.record_codec import FLOW_SYSTEM_FIELDS, RECORD_SYSTEM_FIELDS
from tests.web.conftest import WebApp
from tests.web.test_api import BJ, SH, World, build_world, resident_id


def with_contacts(world: World, unit: str, serial: int, phones: list[str]) -> int:
    """Create a customer of `unit` with one emergency contact per phone number; return its id."""
    contacts = [{"name": f"联系人{index}", "relation": "friend", "phone": phone} for index, phone in enumerate(phones)]
    values = {"name": f"客户{serial}", "id_number": resident_id(serial), "phone": f"1381234{serial:04d}", "contacts": contacts}
    return int(world.web_app.runtime.records.create(Actor("seed", roles=("system",), org_unit=unit), "customer", values)["id"])


def as_read(record: dict[str, Any]) -> dict[str, Any]:
    """Return a record read from the API as a client sends it back: its fields and version, no system fields."""
    system = set(RECORD_SYSTEM_FIELDS + FLOW_SYSTEM_FIELDS) - {"version"}
    return {name: value for name, value in record.items() if name not in system}


def stored(world: World, customer: int) -> dict[str, Any]:
    return dict(world.web_app.runtime.records.get(SYSTEM_ACTOR, "customer", customer))


def test_unchanged_record_keeps_masked_values(web_app: WebApp) -> None:
    world = build_world(web_app)
    customer = with_contacts(world, BJ, 41, ["13911112222", "13933334444"])
    before = stored(world, customer)

    read = world.call("GET", f"/api/customer/{customer}", "bj").json()
    assert [row["phone"] for row in read["contacts"]] == ["139****2222", "139****4444"]
    assert "*" in read["phone"]
    assert "*" in read["id_number"]

    echoed = world.call("PATCH", f"/api/customer/{customer}", "bj", json=as_read(read))
    assert echoed.status_code == 200, echoed.text
    after = stored(world, customer)
    assert [row["phone"] for row in after["contacts"]] == ["13911112222", "13933334444"]
    assert (after["phone"], after["id_number"]) == (before["phone"], before["id_number"])
    assert echoed.json()["contacts"] == [{**row, "id": new["id"]} for row, new in zip(read["contacts"], echoed.json()["contacts"])]

    # Rows may be reordered, changed and added: a masked cell sent back keeps its own row's value,
    # and a number typed in full replaces it.
    read = echoed.json()
    first, second = read["contacts"]
    body = {"version": read["version"], "contacts": [
        {**second, "name": "改名"}, {**first, "phone": "13755556666"}, {"name": "新联系人", "relation": "parent", "phone": "13677778888"}]}
    changed = world.call("PATCH", f"/api/customer/{customer}", "bj", json=body)
    assert changed.status_code == 200, changed.text
    assert [(row["name"], row["phone"]) for row in stored(world, customer)["contacts"]] == [
        ("改名", "13933334444"), ("联系人0", "13755556666"), ("新联系人", "13677778888")]


def test_masked_text_restores_own_value_only(web_app: WebApp) -> None:
    world = build_world(web_app)
    customer = with_contacts(world, BJ, 42, ["13911112222"])
    neighbour = with_contacts(world, BJ, 43, ["13911119999"])
    other_unit = with_contacts(world, SH, 44, ["13911112222"])
    read = world.call("GET", f"/api/customer/{customer}", "bj").json()
    row = read["contacts"][0]
    others = world.web_app.runtime.records.get(SYSTEM_ACTOR, "customer", other_unit)["contacts"]
    neighbours = world.call("GET", f"/api/customer/{neighbour}", "bj").json()["contacts"]

    cases = {
        # A new row has no stored value behind the masked text.
        "new row": [{key: value for key, value in row.items() if key != "id"}],
        # The id of a row of another record, even one whose number reads the same masked, restores nothing.
        "row of another record": [{**row, "id": others[0]["id"]}],
        # A masked text that is not the row's own masked value restores nothing either.
        "other masked text": [{**row, "phone": neighbours[0]["phone"]}],
    }
    for case, rows in cases.items():
        response = world.call("PATCH", f"/api/customer/{customer}", "bj", lang="en", json={"version": read["version"], "contacts": rows})
        assert response.status_code == 422, (case, response.text)
        assert [item["path"] for item in response.json()["error"]["fields"]] == ["contacts[0].phone"], case
    assert [item["phone"] for item in stored(world, customer)["contacts"]] == ["13911112222"]

    # A top-level masked text other than the stored value's is checked as input, and rejected.
    wrong = world.call("PATCH", f"/api/customer/{customer}", "bj", json={"version": read["version"], "phone": "138****0000"})
    assert wrong.status_code == 422
    assert stored(world, customer)["phone"] == "13812340042"
