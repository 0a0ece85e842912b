"""Reference controls keep the chosen record through a failed save and every later /form-state redraw."""

from __future__ import annotations

import re
from typing import Callable

from runtime.access import Actor
from tests.conftest import AppFactory
from tests.runtime.test_permission_matrix import Seeder
from tests.web.conftest import WebApp
from tests.web.forms_support import HTMX, read_form, submit

#: An order whose supplier shows only for special orders, with a supplier in each of its lines.
DEPOT_FILES: dict[str, str | bytes | None] = {
    "app.yaml": """
        name: depot
        label: {zh-CN: 仓库, en: Depot}
        menus:
          - name: main
            label: {zh-CN: 主菜单, en: Main}
            items:
              - entity: order
    """,
    "entities/item.yaml": None,
    "entities/supplier.yaml": """
        name: supplier
        label: {zh-CN: 供应商, en: Supplier}
        title: name
        fields:
          - {name: name, type: string, label: {zh-CN: 名称, en: Name}, required: true, searchable: true}
    """,
    "entities/order.yaml": """
        name: order
        label: {zh-CN: 订单, en: Order}
        title: title
        fields:
          - {name: title, type: string, label: {zh-CN: 标题, en: Title}, required: true}
          - name: kind
            type: enum
            label: {zh-CN: 类型, en: Kind}
            choices:
              - {value: plain, label: {zh-CN: 普通, en: Plain}}
              - {value: special, label: {zh-CN: 特殊, en: Special}}
          - {name: supplier, type: reference, entity: supplier, label: {zh-CN: 供应商, en: Supplier}}
          - {name: quantity, type: integer, label: {zh-CN: 数量, en: Quantity}, min: 1}
          - name: lines
            type: child
            label: {zh-CN: 明细, en: Lines}
            fields:
              - {name: supplier, type: reference, entity: supplier, label: {zh-CN: 供应商, en: Supplier}}
              - {name: note, type: string, label: {zh-CN: 说明, en: Note}}
    """,
    "forms/order.yaml": """
        name: order
        entity: order
        label: {zh-CN: 订单, en: Order}
        sections:
          - name: main
            label: {zh-CN: 基本信息, en: Details}
            columns: 2
            fields: [title, kind, quantity]
          - name: special
            label: {zh-CN: 特殊订单, en: Special order}
            columns: 1
            visible: "kind == 'special'"
            fields:
              - {field: supplier, widget: reference}
          - name: details
            label: {zh-CN: 明细, en: Lines}
            columns: 1
            fields: [lines]
    """,
    "permissions/access.yaml": """
        roles:
          - {name: clerk, label: {zh-CN: 仓管, en: Clerk}}
        org_units:
          - {name: depot, label: {zh-CN: 仓库, en: Depot}, kind: company}
        grants:
          - {role: clerk, entity: order, actions: [read, create, update, delete], scope: all}
          - {role: clerk, entity: supplier, actions: [read], scope: all}
    """,
}


def reference_control(html: str, name: str) -> tuple[str, str, str]:
    """Return the chosen id, the shown title and the remembered title of the reference control named `name`."""
    found = re.search(rf'<div class="ref-widget" data-name="{re.escape(name)}">(.*?)<div class="ref-options"', html, re.S)
    assert found is not None, f"no reference control {name!r}"
    widget = found.group(1)
    chosen = re.search(r'<input type="hidden" name="[^"]+" value="([^"]*)" class="ref-value">', widget)
    search = re.search(r'class="ref-search"[^>]*?value="([^"]*)" data-title="([^"]*)"', widget, re.S)
    assert chosen is not None and search is not None, widget
    return chosen.group(1), search.group(1), search.group(2)


def new_layout(html: str) -> str:
    found = re.search(r'name="_layout" id="form-layout" value="([^"]*)" hx-swap-oob="true"', html)
    assert found is not None
    return found.group(1)


def test_references_survive_failed_save(make_app: AppFactory, make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(make_app(DEPOT_FILES))
    web_app.add_user("clerk", ("clerk",), "depot")
    records = web_app.runtime.records
    seed = Actor("seed", roles=("system",), org_unit="depot")
    acme = records.create(seed, "supplier", {"name": "顺达物流"})["id"]
    other = records.create(seed, "supplier", {"name": "远航贸易"})["id"]
    client = web_app.client("clerk")

    failed = submit(client, "/records/order/new", {
        "title": "", "kind": "special", "supplier": str(acme), "quantity": "0",
        "_fields": ["title", "kind", "quantity", "supplier", "lines"],
        "lines.0.supplier": str(other), "lines.0.note": "加急"})
    assert failed.status_code == 422
    assert reference_control(failed.text, "supplier") == (str(acme), "顺达物流", "顺达物流")
    assert reference_control(failed.text, "lines.0.supplier") == (str(other), "远航贸易", "远航贸易")

    # What the browser posts while the user types: the form as it came back, with its layout.
    form = read_form(failed.text)
    assert form.get("supplier") == str(acme)
    assert form.get("lines.0.supplier") == str(other)
    form.set("kind", "plain")
    hidden = client.post("/records/order/form-state", data=form.as_dict(), headers=HTMX)
    assert hidden.status_code == 200
    assert re.search(r'<section id="section-special"[^>]*hidden', hidden.text)
    form.update({"kind": "special", "_layout": new_layout(hidden.text)})
    shown = client.post("/records/order/form-state", data=form.as_dict(), headers=HTMX)
    assert 'id="section-special"' in shown.text
    assert reference_control(shown.text, "supplier") == (str(acme), "顺达物流", "顺达物流")

    # Without the layout every part is drawn again, child rows included.
    form.remove("_layout")
    everything = client.post("/records/order/form-state", data=form.as_dict(), headers=HTMX)
    assert reference_control(everything.text, "supplier") == (str(acme), "顺达物流", "顺达物流")
    assert reference_control(everything.text, "lines.0.supplier") == (str(other), "远航贸易", "远航贸易")

    form.update({"title": "三月补货", "quantity": "5"})
    saved = client.post(str(form.action), data=form.as_dict())
    assert saved.status_code == 303, saved.text
    order = int(saved.headers["location"].rsplit("/", 1)[1])
    stored = records.get(seed, "order", order)
    assert stored["supplier"] == acme
    assert [row["supplier"] for row in stored["lines"]] == [other]

    # The edit form shows the stored choices, in the field and in the row.
    edit = client.get(f"/records/order/{order}/edit").text
    assert reference_control(edit, "supplier") == (str(acme), "顺达物流", "顺达物流")
    assert reference_control(edit, "lines.0.supplier") == (str(other), "远航贸易", "远航贸易")


def test_guarantee_references_survive_form_state(web_app: WebApp) -> None:
    web_app.add_user("dealer1", ("dealer_staff",), "dealer_bj_yizhuang")
    seeder = Seeder(web_app.runtime.records)
    unit = "dealer_bj_yizhuang"
    bank = seeder.bank("system", "head_office")
    refs = {"customer": seeder.customer("system", unit), "dealer": seeder.dealer("system", unit),
            "product": seeder.loan_product("system", "head_office", bank), "vehicle": seeder.vehicle("system", unit)}
    client = web_app.client("dealer1")
    # A new form takes its first values from its address, such as ?customer=5: here, each reference.
    titles: dict[str, str] = {}
    for name, value in refs.items():
        titles[name] = reference_control(client.get(f"/records/loan_application/new?{name}={value}").text, name)[1]
        assert titles[name], name
        assert not titles[name].startswith("#"), titles[name]

    failed = submit(client, "/records/loan_application/new", {
        **{name: str(value) for name, value in refs.items()},
        "vehicle_price": "200000", "down_payment": "60000", "loan_amount": "abc"})
    assert failed.status_code == 422
    form = read_form(failed.text)
    for name, value in refs.items():
        assert reference_control(failed.text, name) == (str(value), titles[name], titles[name])
        assert form.get(name) == str(value)

    # Typing fixes the amount; then the whole form is drawn again, as it is when the layout is lost.
    form.set("loan_amount", "100000")
    typed = client.post("/records/loan_application/form-state", data=form.as_dict(), headers=HTMX)
    assert typed.status_code == 200
    form.remove("_layout")
    redrawn = client.post("/records/loan_application/form-state", data=form.as_dict(), headers=HTMX)
    for name, value in refs.items():
        assert reference_control(redrawn.text, name) == (str(value), titles[name], titles[name])
