"""Every export of a list is in the hash-chained audit log: who, which entity, with which filter, how many rows.

Exports go through the runtime as the acting user, which checks the export action and its
data scope and writes the entry before the first row is read.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import select

from runtime.access import SYSTEM_ACTOR
from runtime.audit import AuditLog
from runtime.errors import PermissionDenied
from runtime.exports import RecordExports
from runtime.record_query import Condition, ListQuery
from tests.web.conftest import WebApp
from tests.web.test_lists import BJ, LOANS, Seeded, csv_of, seed


@pytest.fixture
def seeded(web_app: WebApp) -> Seeded:
    return seed(web_app)


def exports_of(web_app: WebApp) -> list[dict[str, Any]]:
    """Return the audit entries of exports, oldest first."""
    audit = web_app.runtime.schema.audit
    with web_app.runtime.engine.connect() as connection:
        rows = connection.execute(select(audit).where(audit.c.action == "export").order_by(audit.c.id)).mappings().all()
    return [dict(row) for row in rows]


def chain_intact(web_app: WebApp) -> bool:
    with web_app.runtime.engine.connect() as connection:
        return AuditLog(web_app.runtime.schema).verify(connection).ok


def test_csv_export_appends_one_entry(seeded: Seeded) -> None:
    web_app = seeded.web_app
    exported = seeded.client("admin").get(f"{LOANS}/export.csv", params={"state": "draft", "loan_amount.min": "100,000",
                                                                          "sort": "loan_amount"})

    assert exported.status_code == 200
    assert len(csv_of(exported)) == 5
    [entry] = exports_of(web_app)
    assert (entry["actor"], entry["entity"], entry["action"], entry["record_id"]) == ("admin", "loan_application", "export", None)
    assert entry["address"] is not None
    changes = entry["changes"]
    assert changes["rows"] == 4
    assert changes["format"] == "csv"
    assert changes["filter"] == {"mode": "and", "items": [{"field": "state", "op": "eq", "value": "draft"},
                                                          {"field": "loan_amount", "op": "ge", "value": "100,000"}]}
    assert changes["sort"] == ["loan_amount"]
    assert changes["search"] is None
    assert "application_no" in changes["fields"]
    assert chain_intact(web_app)


def test_each_export_is_logged_with_its_user_scope(seeded: Seeded) -> None:
    web_app = seeded.web_app
    manager = seeded.client("bj_manager")
    viewer = seeded.client("viewer")

    assert len(csv_of(manager.get(f"{LOANS}/export.csv"))) == 4
    assert len(csv_of(viewer.get(f"{LOANS}/export.csv", params={"q": "LA"}))) == 6
    assert len(csv_of(viewer.get("/records/customer/export.csv"))) == 6

    entries = exports_of(web_app)
    assert [(entry["actor"], entry["entity"], entry["changes"]["rows"]) for entry in entries] == [
        ("bj_manager", "loan_application", 3), ("viewer", "loan_application", 5), ("viewer", "customer", 5)]
    assert entries[1]["changes"]["search"] == "LA"
    assert chain_intact(web_app)


def test_rejected_exports_leave_no_entry(seeded: Seeded) -> None:
    web_app = seeded.web_app

    assert seeded.client("sh_staff").get(f"{LOANS}/export.csv").status_code == 403
    assert seeded.client("admin").get(f"{LOANS}/export.csv", params={"loan_amount.min": "abc"}).status_code == 400
    assert exports_of(web_app) == []


def test_runtime_checks_export_action(seeded: Seeded) -> None:
    """The runtime rejects an export by a user who may read but not export, for any caller."""
    web_app = seeded.web_app
    seeded.client("sh_staff")
    user = web_app.state.accounts.user("sh_staff")
    assert user is not None
    actor = web_app.state.accounts.actor(user)
    exports = RecordExports(web_app.state.records)

    with pytest.raises(PermissionDenied):
        exports.start(actor, "loan_application", ListQuery())
    assert exports_of(web_app) == []


def test_sensitive_filter_values_masked_in_entry(seeded: Seeded) -> None:
    web_app = seeded.web_app
    customer = web_app.runtime.records.get(SYSTEM_ACTOR, "customer", seeded.customers[BJ][0])
    id_number, phone = customer["id_number"], customer["phone"]

    exported = seeded.client("admin").get("/records/customer/export.csv", params={"id_number": id_number})
    searched = seeded.client("admin").get("/records/customer/export.csv", params={"q": f"{phone} {customer['name']}"})

    assert len(csv_of(exported)) == 2
    assert len(csv_of(searched)) == 2
    by_id, by_search = exports_of(web_app)
    assert by_id["changes"]["rows"] == by_search["changes"]["rows"] == 1
    assert id_number not in json.dumps(by_id["changes"], ensure_ascii=False)
    assert phone not in json.dumps(by_search["changes"], ensure_ascii=False)
    assert by_id["changes"]["filter"]["value"].startswith(id_number[:3])
    assert by_search["changes"]["search"] == f"{phone[:3]}****{phone[-4:]} {customer['name']}"


SHOP: dict[str, str] = {
    "app.yaml": """
        name: shop
        label: {zh-CN: 小店, en: Shop}
    """,
    "entities/order.yaml": """
        name: order
        label: {zh-CN: 订单, en: Order}
        title: code
        fields:
          - {name: code, type: string, label: {zh-CN: 单号, en: Code}, required: true}
          - {name: bulk, type: boolean, label: {zh-CN: 大宗, en: Bulk}}
        list:
          columns: [code, bulk]
          sort: [code]
    """,
    "permissions/access.yaml": """
        roles:
          - {name: clerk, label: {zh-CN: 店员, en: Clerk}}
        org_units:
          - {name: shop, label: {zh-CN: 小店, en: Shop}, kind: company}
        grants:
          - {role: clerk, entity: order, actions: [read], scope: all}
          - {role: clerk, entity: order, actions: [export], filter: "not bulk"}
    """,
}


@pytest.fixture
def shop(make_web_app: Callable[..., WebApp], tmp_path: Path) -> WebApp:
    root = tmp_path / "shop"
    for name, content in SHOP.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    web_app = make_web_app(root)
    web_app.add_user("clerk", ("clerk",), "shop")
    for code, bulk in (("O-1", False), ("O-2", True), ("O-3", False)):
        web_app.runtime.records.create(SYSTEM_ACTOR, "order", {"code": code, "bulk": bulk})
    return web_app


def test_export_scope_narrower_than_read(shop: WebApp) -> None:
    client = shop.client("clerk")

    listed = client.get("/records/order")
    exported = csv_of(client.get("/records/order/export.csv"))

    assert all(code in listed.text for code in ("O-1", "O-2", "O-3"))
    assert [row[0] for row in exported[1:]] == ["O-1", "O-3"]
    [entry] = exports_of(shop)
    assert entry["changes"]["rows"] == 2


def test_runtime_export_pages_and_entry(shop: WebApp) -> None:
    user = shop.state.accounts.user("clerk")
    assert user is not None
    actor = shop.state.accounts.actor(user)

    export = RecordExports(shop.state.records).start(actor, "order", ListQuery(where=Condition("code", "ne", "O-3")),
                                                      page_size=1, details={"purpose": "test"})

    assert export.total == 1
    assert [[row["code"] for row in page] for page in export.pages()] == [["O-1"]]
    [entry] = exports_of(shop)
    assert entry["id"] == export.audit_id
    assert entry["changes"]["purpose"] == "test"
    assert entry["changes"]["filter"] == {"field": "code", "op": "ne", "value": "O-3"}
