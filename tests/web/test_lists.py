"""The list page of every entity: columns, filters, sort, pages, totals, saved filters, bulk delete and CSV export."""

from __future__ import annotations

import csv
import io
import re
import textwrap
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import select

from runtime.access import SYSTEM_ACTOR
from tests.conftest import REPOSITORY
from tests.runtime.test_permission_matrix import Seeder
from tests.web.conftest import WebApp
from ui.web import lists_filters

BJ = "dealer_bj_yizhuang"
SH = "dealer_sh_pudong"
HTMX = {"HX-Request": "true"}
LOANS = "/records/loan_application"
#: Loan amounts of the seeded applications, by dealer unit.
AMOUNTS = {BJ: [Decimal("100000"), Decimal("120000"), Decimal("90000")], SH: [Decimal("110000"), Decimal("130000")]}


#: Users the tests sign in as: roles and org unit.
USERS: dict[str, tuple[tuple[str, ...], str]] = {
    "admin": (("admin",), "head_office"),
    "viewer": (("head_office_viewer",), "head_office"),
    "bj_manager": (("dealer_manager",), BJ),
    "sh_staff": (("dealer_staff",), SH),
    "collector": (("collector",), "beijing_post_loan"),
}


@dataclass
class Seeded:
    web_app: WebApp
    loans: dict[str, list[int]] = field(default_factory=dict)
    numbers: dict[int, str] = field(default_factory=dict)
    customers: dict[str, list[int]] = field(default_factory=dict)
    dealers: dict[str, int] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)

    def client(self, user: str, lang: str | None = None) -> Any:
        """Return a client signed in as one of USERS, creating the user on first use (hashing a password is slow)."""
        if user not in self.users:
            roles, unit = USERS[user]
            self.web_app.add_user(user, roles, unit)
            self.users.add(user)
        return self.web_app.client(user, lang=lang)


def seed(web_app: WebApp) -> Seeded:
    """Three loans of the Beijing dealer and two of the Shanghai dealer, each with its own customer and vehicle."""
    seeder = Seeder(web_app.runtime.records)
    seeded = Seeded(web_app)
    bank = seeder.bank("admin", "head_office")
    product = seeder.loan_product("admin", "head_office", bank)
    for unit, amounts in AMOUNTS.items():
        dealer = seeder.dealer("admin", unit)
        seeded.dealers[unit] = dealer
        for amount in amounts:
            customer = seeder.customer(f"staff.{unit}", unit)
            vehicle = seeder.vehicle(f"staff.{unit}", unit)
            number = f"LA-{unit[7:9].upper()}-{len(seeded.numbers) + 1:04d}"
            values = {"application_no": number, "customer": customer, "dealer": dealer, "product": product, "vehicle": vehicle,
                      "vehicle_price": Decimal("200000"), "down_payment": Decimal("60000"), "loan_amount": amount, "term_months": 36}
            loan = seeder.create("loan_application", values, f"staff.{unit}", unit)
            seeded.loans.setdefault(unit, []).append(loan)
            seeded.numbers[loan] = number
            seeded.customers.setdefault(unit, []).append(customer)
    return seeded


@pytest.fixture
def seeded(web_app: WebApp) -> Seeded:
    return seed(web_app)


def numbers_in(html: str) -> list[str]:
    """Return the application numbers of a loan list, in the order shown."""
    return re.findall(r">(LA-[A-Z]{2}-\d{4})</a>", html)


def csv_of(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


# Columns and cells -----------------------------------------------------------------


def test_columns_and_cells_in_chinese(seeded: Seeded) -> None:
    client = seeded.client("admin")
    page = client.get(LOANS)

    assert page.status_code == 200
    assert "<title>贷款申请 · " in page.text
    for label in ("申请编号", "借款人", "经销商", "贷款产品", "车辆成交价（元）", "贷款金额（元）", "贷款成数", "状态", "创建时间"):
        assert f"{label}" in page.text, label
    first = seeded.loans[BJ][0]
    assert f'<a href="{LOANS}/{first}">{seeded.numbers[first]}</a>' in page.text
    assert "¥120,000.00" in page.text
    assert "50.00%" in page.text
    assert "<td>草稿</td>" in page.text
    assert "<td>经销商" in page.text
    assert "<td>客户" in page.text
    assert "共 5 条" in page.text


def test_columns_and_cells_in_english(seeded: Seeded) -> None:
    client = seeded.client("admin", lang="en")
    page = client.get(LOANS)

    assert page.status_code == 200
    for label in ("Application number", "Borrower", "Dealer", "Loan amount (CNY)", "State", "Created at"):
        assert label in page.text, label
    assert "CN¥120,000.00" in page.text
    assert "<td>Draft</td>" in page.text
    assert "5 records" in page.text
    assert "Export CSV" in page.text


def test_enum_and_boolean_labels(seeded: Seeded) -> None:
    records = seeded.web_app.runtime.records
    customer = seeded.customers[BJ][0]
    records.update(SYSTEM_ACTOR, "customer", customer, {"gender": "female"}, version=1)

    chinese = seeded.client("admin").get("/records/customer").text
    english = seeded.client("admin", lang="en").get("/records/customer").text

    assert "<td>女</td>" in chinese
    assert "<td>否</td>" in chinese
    assert "<td>Female</td>" in english
    assert "<td>No</td>" in english


def test_reference_titles_one_query_per_entity(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    records = seeded.web_app.state.records
    calls: list[str] = []
    original = records.list

    def counting(actor: Any, entity: str, query: Any = None) -> Any:
        calls.append(entity)
        return original(actor, entity, query)

    monkeypatch.setattr(records, "list", counting)
    page = seeded.client("admin").get(LOANS, headers=HTMX)

    assert page.status_code == 200
    assert sorted(calls) == ["customer", "dealer", "loan_application", "loan_product"]


def test_masked_values_stay_masked(seeded: Seeded) -> None:
    customer = seeded.web_app.runtime.records.get(SYSTEM_ACTOR, "customer", seeded.customers[BJ][0])
    phone = customer["phone"]
    masked = phone[:3] + "****" + phone[-4:]
    client = seeded.client("viewer")

    page = client.get("/records/customer")
    exported = client.get("/records/customer/export.csv")

    assert masked in page.text
    assert phone not in page.text
    assert exported.status_code == 200
    assert masked in exported.text
    assert phone not in exported.text


def test_hidden_field_no_column_or_filter(seeded: Seeded) -> None:
    admin = seeded.client("admin").get("/records/customer").text
    dealer = seeded.client("sh_staff")

    assert "黑名单" in admin
    assert "黑名单" not in dealer.get("/records/customer").text
    page = dealer.get(LOANS, params={"risk_level": "low"})
    assert page.status_code == 200
    assert 'data-filter="risk_level"' in page.text
    assert 'name="risk_level"' not in page.text
    assert len(numbers_in(page.text)) == 2


# Scope ----------------------------------------------------------------------------


def test_dealer_sees_own_rows_in_list_count_export(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lists_filters, "COUNT_LIMIT", 1)
    client = seeded.client("bj_manager")

    page = client.get(LOANS)
    count = client.get(f"{LOANS}/count", headers=HTMX)
    exported = client.get(f"{LOANS}/export.csv")

    own = {seeded.numbers[loan] for loan in seeded.loans[BJ]}
    assert set(numbers_in(page.text)) == own
    assert "1+ 条" in page.text
    assert "共 3 条" in count.text
    rows = csv_of(exported)[1:]
    assert {row[0] for row in rows} == own


# Search, filters and bad input ------------------------------------------------------------


def test_search_and_filters(seeded: Seeded) -> None:
    client = seeded.client("admin")
    bj_dealer, sh_dealer = seeded.dealers[BJ], seeded.dealers[SH]
    first = seeded.numbers[seeded.loans[SH][0]]

    assert numbers_in(client.get(LOANS, params={"q": first}).text) == [first]
    assert len(numbers_in(client.get(LOANS, params={"state": "draft"}).text)) == 5
    assert numbers_in(client.get(LOANS, params={"state": "approved"}).text) == []
    assert len(numbers_in(client.get(LOANS, params={"loan_amount.min": "100,000", "loan_amount.max": "120000"}).text)) == 3
    assert len(numbers_in(client.get(LOANS, params={"dealer": str(bj_dealer)}).text)) == 3
    assert len(numbers_in(client.get(LOANS, params={"dealer": f"{bj_dealer}, {sh_dealer}"}).text)) == 5
    assert len(numbers_in(client.get(LOANS, params=[("dealer", str(sh_dealer)), ("term_months.min", "36")]).text)) == 2
    assert len(numbers_in(client.get(LOANS, params={"created_at.from": "2000-01-01"}).text)) == 5
    assert numbers_in(client.get(LOANS, params={"created_at.to": "2000-01-01"}).text) == []


def test_panel_redraws_with_filters(seeded: Seeded) -> None:
    client = seeded.client("admin")
    dealer = seeded.dealers[BJ]
    page = client.get(LOANS, params=[("state", "draft"), ("term_months.min", "12"), ("dealer", str(dealer)), ("q", "LA")])

    assert '<input type="checkbox" name="state" value="draft" checked>' in page.text
    assert '<input type="checkbox" name="state" value="submitted">' in page.text
    assert 'name="term_months.min" value="12"' in page.text
    assert f'<input type="checkbox" name="dealer" value="{dealer}" checked> 经销商' in page.text
    assert 'hx-get="/records/dealer/lookup"' in page.text
    assert 'id="list-q" name="q" value="LA"' in page.text
    assert '<input type="checkbox" name="risk_level" value="low">' in page.text


def test_bad_filters_reported_list_still_shown(seeded: Seeded) -> None:
    client = seeded.client("admin")
    page = client.get(LOANS, params=[("loan_amount.min", "abc"), ("colour", "red"), ("sort", "nothing"),
                                     ("after", "garbage"), ("state", "draft")])

    assert page.status_code == 200
    assert "以下筛选条件未生效" in page.text
    assert "贷款金额（元）最小值：" in page.text
    assert "colour 不是此列表的筛选条件" in page.text
    assert "排序：" in page.text
    assert "分页地址已失效" in page.text
    assert len(numbers_in(page.text)) == 5

    english = seeded.client("admin", lang="en").get(LOANS, params={"loan_amount.min": "abc"})
    assert "These filters were not applied" in english.text
    assert "Loan amount (CNY), minimum: This is not a number" in english.text
    assert len(numbers_in(english.text)) == 5


# Sort, pages and totals -------------------------------------------------------------


def test_sort_toggles_with_arrow(seeded: Seeded) -> None:
    client = seeded.client("admin")
    ascending = client.get(LOANS, params={"sort": "loan_amount"})
    descending = client.get(LOANS, params={"sort": "-loan_amount"})

    amounts = sorted((amount, number) for unit in AMOUNTS for amount, number in
                     zip(AMOUNTS[unit], (seeded.numbers[loan] for loan in seeded.loans[unit])))
    assert numbers_in(ascending.text) == [number for _, number in amounts]
    assert numbers_in(descending.text) == [number for _, number in reversed(amounts)]
    assert 'aria-sort="ascending"' in ascending.text
    assert "▲" in ascending.text
    assert f'href="{LOANS}?sort=-loan_amount"' in ascending.text
    assert "▼" in descending.text
    assert f'href="{LOANS}?sort=loan_amount"' in descending.text
    assert 'name="sort" value="-loan_amount" form="list-filters"' in descending.text


def test_keyset_pages(seeded: Seeded) -> None:
    client = seeded.client("admin")
    first = client.get(LOANS, params={"sort": "loan_amount", "limit": "2"})
    next_url = re.search(r'href="([^"]+)"[^>]*rel="next"', first.text)
    assert next_url is not None
    assert '<option value="10">10</option>' in first.text
    assert '<option value="2" selected>2</option>' in first.text
    assert "第一页" not in first.text

    seen = numbers_in(first.text)
    url: str | None = next_url.group(1).replace("&amp;", "&")
    while url:
        page = client.get(url, headers=HTMX)
        assert page.headers["HX-Push-Url"].startswith(LOANS + "?")
        assert "« 第一页" in page.text
        seen.extend(numbers_in(page.text))
        found = re.search(r'href="([^"]+)"[^>]*rel="next"', page.text)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert len(seen) == 5
    assert len(set(seen)) == 5


def test_bounded_total_and_exact_count(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lists_filters, "COUNT_LIMIT", 3)
    client = seeded.client("admin")
    page = client.get(LOANS, params={"state": "draft"})

    assert "3+ 条" in page.text
    assert "统计精确总数" in page.text
    assert f'hx-get="{LOANS}/count?state=draft"' in page.text
    fragment = client.get(f"{LOANS}/count", params={"state": "draft"}, headers=HTMX)
    assert fragment.text.strip() == "共 5 条"
    whole = client.get(f"{LOANS}/count", params={"state": "draft"})
    assert "<html" in whole.text
    assert "共 5 条" in whole.text

    english = seeded.client("admin", lang="en").get(LOANS)
    assert "3+ records" in english.text
    assert "Count exactly" in english.text

    monkeypatch.setattr(lists_filters, "COUNT_LIMIT", 5)
    assert "共 5 条" in client.get(LOANS).text


# HTMX --------------------------------------------------------------------------------


def test_htmx_fragment_and_whole_page(seeded: Seeded) -> None:
    client = seeded.client("admin")
    params = [("state", "draft"), ("q", ""), ("loan_amount.min", "")]
    fragment = client.get(LOANS, params=params, headers=HTMX)
    whole = client.get(LOANS, params=params)

    assert "<html" not in fragment.text
    assert 'id="list-filters"' not in fragment.text
    assert "<table" in fragment.text
    assert fragment.headers["HX-Push-Url"] == f"{LOANS}?state=draft"
    assert "<html" in whole.text
    assert 'id="list-filters"' in whole.text
    assert "HX-Push-Url" not in whole.headers
    assert numbers_in(fragment.text) == numbers_in(whole.text)
    assert 'hx-trigger="submit, change, input delay:400ms from:#list-q"' in whole.text
    restored = client.get(LOANS, params=params, headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert "<html" in restored.text


# Saved filters -------------------------------------------------------------------------


def test_saved_filters_are_private(seeded: Seeded) -> None:
    web_app = seeded.web_app
    admin = seeded.client("admin")
    viewer = seeded.client("viewer")
    token = web_app.csrf(admin)

    saved = admin.post(f"{LOANS}/saved-filters", data={"name": " 草稿 ", "query": "?state=draft&after=xyz", "csrf_token": token})
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{LOANS}?state=draft"
    shown = admin.get(saved.headers["location"])
    assert "已保存筛选条件“草稿”。" in shown.text
    assert f'<a href="{LOANS}?state=draft">草稿</a>' in shown.text
    assert "已保存筛选条件" not in admin.get(LOANS).text

    assert "草稿</a>" not in viewer.get(LOANS).text
    table = web_app.runtime.schema.access.saved_filters
    with web_app.runtime.engine.connect() as connection:
        filter_id = connection.scalar(select(table.c.id).where(table.c.user_id == "admin"))
    refused = viewer.post(f"{LOANS}/saved-filters/{filter_id}/delete", data={"csrf_token": web_app.csrf(viewer)})
    assert refused.status_code == 404
    assert f'<a href="{LOANS}?state=draft">草稿</a>' in admin.get(LOANS).text

    deleted = admin.post(f"{LOANS}/saved-filters/{filter_id}/delete", headers={**HTMX, "X-CSRF-Token": token})
    assert deleted.status_code == 200
    assert 'id="list-saved"' in deleted.text
    assert "草稿</a>" not in deleted.text


def test_saved_filter_htmx_and_errors(seeded: Seeded) -> None:
    web_app = seeded.web_app
    client = seeded.client("admin")
    headers = {**HTMX, "X-CSRF-Token": web_app.csrf(client)}

    first = client.post(f"{LOANS}/saved-filters", data={"name": "大额", "query": "loan_amount.min=120000"}, headers=headers)
    # The same name again is not saved over until the user confirms with the form's replace button.
    again = client.post(f"{LOANS}/saved-filters", data={"name": "大额", "query": "loan_amount.min=125000"}, headers=headers)
    replaced = client.post(f"{LOANS}/saved-filters", data={"name": "大额", "query": "loan_amount.min=125000", "replace": "1"},
                           headers=headers)
    empty = client.post(f"{LOANS}/saved-filters", data={"name": "  ", "query": "state=draft"}, headers=headers)

    assert "<html" not in first.text
    assert f'<a href="{LOANS}?loan_amount.min=120000">大额</a>' in first.text
    assert f'<a href="{LOANS}?loan_amount.min=120000">大额</a>' in again.text
    assert f'<a href="{LOANS}?loan_amount.min=125000">大额</a>' in replaced.text
    assert replaced.text.count("大额</a>") == 1
    assert "请输入筛选条件的名称" in empty.text
    assert "saved-filters" in client.get("/records/customer").text
    assert "大额</a>" not in client.get("/records/customer").text


# Bulk delete ---------------------------------------------------------------------------


def test_bulk_delete_reports_stale_version(seeded: Seeded) -> None:
    web_app = seeded.web_app
    records = web_app.runtime.records
    client = seeded.client("admin")
    fresh, changed = seeded.loans[BJ][0], seeded.loans[BJ][1]
    records.update(SYSTEM_ACTOR, "loan_application", changed, {"remarks": "改过"}, version=1)

    page = client.get(LOANS)
    assert f'value="{fresh}:1" form="list-bulk"' in page.text
    assert 'data-confirm="确定删除所选记录吗？"' in page.text
    response = client.post(f"{LOANS}/bulk-delete", data={"selected": [f"{fresh}:1", f"{changed}:1", "junk"], "list_query": "state=draft"},
                           headers={**HTMX, "X-CSRF-Token": web_app.csrf(client)})

    assert response.status_code == 200
    assert "已删除 1 条记录" in response.text
    assert "1 条在您打开列表后已被他人修改" in response.text
    assert f"#{changed}" in response.text
    assert "1 项选择无法识别" in response.text
    assert seeded.numbers[fresh] not in numbers_in(response.text)
    assert seeded.numbers[changed] in numbers_in(response.text)
    assert len(numbers_in(response.text)) == 4


def test_bulk_delete_plain_form_and_refusals(seeded: Seeded) -> None:
    web_app = seeded.web_app
    admin = seeded.client("admin", lang="en")
    viewer = seeded.client("viewer")
    loan = seeded.loans[SH][0]

    assert "list-bulk" not in viewer.get(LOANS).text
    assert viewer.post(f"{LOANS}/bulk-delete", data={"selected": f"{loan}:1", "csrf_token": web_app.csrf(viewer)}).status_code == 403
    assert admin.post(f"{LOANS}/bulk-delete", data={"selected": f"{loan}:1"}).status_code == 403

    response = admin.post(f"{LOANS}/bulk-delete", data={"selected": [f"{loan}:1", "999999:1"], "list_query": "q=LA",
                                                         "csrf_token": web_app.csrf(admin)})
    assert response.status_code == 303
    assert response.headers["location"] == f"{LOANS}?q=LA"
    shown = admin.get(response.headers["location"]).text
    assert "Deleted 1 records." in shown
    assert "1 were not deleted because you may not delete them or they no longer exist (#999999)" in shown
    assert "Deleted 1 records." not in admin.get(LOANS).text


def test_bulk_delete_needs_reason_where_required(seeded: Seeded) -> None:
    web_app = seeded.web_app
    client = seeded.client("admin")
    dealer = seeded.dealers[SH]
    headers = {**HTMX, "X-CSRF-Token": web_app.csrf(client)}
    page = client.get("/records/dealer")
    assert 'name="reason" required' in page.text

    refused = client.post("/records/dealer/bulk-delete", data={"selected": f"{dealer}:1"}, headers=headers)
    assert "删除此类记录须填写原因" in refused.text
    assert web_app.runtime.records.get(SYSTEM_ACTOR, "dealer", dealer)["id"] == dealer

    # The dealer's loan applications still name it, so it is kept and the notice gives the reason.
    kept = client.post("/records/dealer/bulk-delete", data={"selected": f"{dealer}:1", "reason": "合作终止"}, headers=headers)
    assert f"1 条仍被其他记录使用，未删除（#{dealer}）" in kept.text
    assert web_app.runtime.records.get(SYSTEM_ACTOR, "dealer", dealer)["id"] == dealer


# Export --------------------------------------------------------------------------------


def test_export_csv_bom_header_and_rows(seeded: Seeded) -> None:
    client = seeded.client("admin")
    exported = client.get(f"{LOANS}/export.csv", params={"state": "draft", "sort": "loan_amount", "limit": "2"})

    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment;" in exported.headers["content-disposition"]
    assert "filename*=UTF-8''%E8%B4%B7%E6%AC%BE%E7%94%B3%E8%AF%B7-" in exported.headers["content-disposition"]
    assert exported.content.startswith(b"\xef\xbb\xbf")
    rows = csv_of(exported)
    assert rows[0][:3] == ["申请编号", "借款人", "经销商"]
    assert len(rows) == 6
    amounts = [row[rows[0].index("贷款金额（元）")] for row in rows[1:]]
    assert amounts == ["90000.00", "100000.00", "110000.00", "120000.00", "130000.00"]
    assert all(row[rows[0].index("状态")] == "草稿" for row in rows[1:])

    english = seeded.client("admin", lang="en").get(f"{LOANS}/export.csv")
    assert csv_of(english)[0][:3] == ["Application number", "Borrower", "Dealer"]


def test_export_pages_through_every_row(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime.exports import Export
    from ui.web import lists_export

    monkeypatch.setattr(lists_export, "MAX_LIMIT", 2)
    pages: list[int] = []
    original = Export.pages

    def recording(export: Export) -> Any:
        for page in original(export):
            pages.append(len(page))
            yield page

    monkeypatch.setattr(Export, "pages", recording)
    rows = csv_of(seeded.client("admin").get(f"{LOANS}/export.csv", params={"sort": "loan_amount"}))

    assert len(rows) == 6
    assert pages == [2, 2, 1]
    amounts = [row[rows[0].index("贷款金额（元）")] for row in rows[1:]]
    assert amounts == ["90000.00", "100000.00", "110000.00", "120000.00", "130000.00"]


def test_export_refused_without_permission(seeded: Seeded) -> None:
    client = seeded.client("sh_staff")
    page = client.get(LOANS)

    assert page.status_code == 200
    assert "导出 CSV" not in page.text
    refused = client.get(f"{LOANS}/export.csv")
    assert refused.status_code == 403
    assert "您无权导出贷款申请" in refused.text


def test_export_cell_formula_quoted(seeded: Seeded) -> None:
    records = seeded.web_app.runtime.records
    customer = seeded.customers[BJ][0]
    records.update(SYSTEM_ACTOR, "customer", customer, {"employer": "=HYPERLINK(1)"}, version=1)

    rows = csv_of(seeded.client("admin").get("/records/customer/export.csv"))

    employer = rows[0].index("工作单位")
    assert "'=HYPERLINK(1)" in [row[employer] for row in rows[1:]]


# Errors --------------------------------------------------------------------------------


def test_unknown_entity_and_forbidden_list(seeded: Seeded) -> None:
    chinese = seeded.client("collector")
    english = seeded.client("collector", lang="en")

    missing = chinese.get("/records/nothing")
    assert missing.status_code == 404
    assert "页面不存在" in missing.text
    assert "不存在名为 nothing 的列表" in missing.text
    assert english.get("/records/nothing/count").status_code == 404
    assert "There is no list named nothing." in english.get("/records/nothing").text

    forbidden = chinese.get("/records/dealer")
    assert forbidden.status_code == 403
    assert "您无权查看经销商" in forbidden.text
    assert "You may not view Dealer records." in english.get("/records/dealer").text
    assert english.get("/records/dealer/export.csv").status_code == 403
    assert english.get("/records/dealer/count").status_code == 403


# Other applications ---------------------------------------------------------------------

DEPOT: dict[str, str] = {
    "app.yaml": """
        name: depot
        label: {zh-CN: 仓库, en: Depot}
        settings: {timezone: Asia/Shanghai}
    """,
    "entities/supplier.yaml": """
        name: supplier
        label: {zh-CN: 供应商, en: Supplier}
        title: name
        fields:
          - {name: name, type: string, label: {zh-CN: 名称, en: Name}, required: true, searchable: true}
          - {name: city, type: string, label: {zh-CN: 城市, en: City}}
          - {name: notes, type: text, label: {zh-CN: 备注, en: Notes}}
    """,
    "entities/shipment.yaml": """
        name: shipment
        label: {zh-CN: 发货单, en: Shipment}
        title: code
        fields:
          - {name: code, type: string, label: {zh-CN: 单号, en: Code}, required: true, searchable: true}
          - {name: supplier, type: reference, entity: supplier, label: {zh-CN: 供应商, en: Supplier}}
          - {name: amount, type: money, label: {zh-CN: 金额, en: Amount}}
          - {name: shipped_on, type: date, label: {zh-CN: 发货日期, en: Shipped on}}
          - {name: arrived_at, type: datetime, label: {zh-CN: 到达时间, en: Arrived at}}
          - {name: fragile, type: boolean, label: {zh-CN: 易碎, en: Fragile}}
          - name: kind
            type: enum
            label: {zh-CN: 类型, en: Kind}
            choices:
              - {value: parcel, label: {zh-CN: 包裹, en: Parcel}}
              - {value: pallet, label: {zh-CN: 托盘, en: Pallet}}
          - {name: note, type: string, label: {zh-CN: 备注, en: Note}}
        list:
          columns: [code, supplier, supplier.city, amount, shipped_on, arrived_at, fragile, kind]
          filters: [supplier, amount, shipped_on, arrived_at, fragile, kind, note]
          sort: [code]
    """,
    "permissions/access.yaml": """
        roles:
          - {name: clerk, label: {zh-CN: 文员, en: Clerk}}
        org_units:
          - {name: depot, label: {zh-CN: 仓库, en: Depot}, kind: company}
        grants:
          - {role: clerk, entity: supplier, actions: [read, create, update, delete, export], scope: all}
          - {role: clerk, entity: shipment, actions: [read, create, update, delete, export], scope: all}
    """,
}


@pytest.fixture
def depot(make_web_app: Callable[..., WebApp], tmp_path: Path) -> WebApp:
    root = tmp_path / "depot"
    for name, content in DEPOT.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    web_app = make_web_app(root)
    web_app.add_user("clerk", ("clerk",), "depot")
    records = web_app.runtime.records
    acme = records.create(SYSTEM_ACTOR, "supplier", {"name": "顺达", "city": "苏州"})["id"]
    rows = [("S-1", "1200.5", "2026-03-01", "2026-03-02T15:30:00+00:00", True, "parcel"),
            ("S-2", "800", "2026-03-10", "2026-03-11T17:00:00+00:00", False, "pallet"),
            ("S-3", "50", None, None, None, None)]
    for code, amount, shipped, arrived, fragile, kind in rows:
        records.create(SYSTEM_ACTOR, "shipment", {"code": code, "supplier": acme, "amount": amount, "shipped_on": shipped,
                                                   "arrived_at": arrived, "fragile": fragile, "kind": kind})
    return web_app


def codes_in(html: str) -> list[str]:
    return re.findall(r">(S-\d)</a>", html)


def test_other_app_panel_controls(depot: WebApp) -> None:
    page = depot.client("clerk").get("/records/shipment", params={"fragile": "是", "shipped_on.from": "2026-03-01"})

    assert page.status_code == 200
    assert 'type="date" name="shipped_on.from" value="2026-03-01"' in page.text
    assert 'type="date" name="arrived_at.to"' in page.text
    assert 'name="amount.min"' in page.text
    assert '<option value="true" selected>是</option>' in page.text
    assert '<input type="checkbox" name="kind" value="pallet">' in page.text
    assert 'hx-get="/records/supplier/lookup"' in page.text
    assert '<input type="text" name="note" value=""' in page.text
    assert codes_in(page.text) == ["S-1"]


def test_other_app_cells_and_filters(depot: WebApp) -> None:
    client = depot.client("clerk")
    page = client.get("/records/shipment")

    assert codes_in(page.text) == ["S-1", "S-2", "S-3"]
    assert "供应商·城市" in page.text
    assert "<td>顺达</td>" in page.text
    assert "<td>苏州</td>" in page.text
    assert "¥1,200.50" in page.text
    assert "2026年3月1日" in page.text
    # 17:00 UTC on 11 March is 01:00 on 12 March in Shanghai, the app's time zone.
    assert "2026年3月12日 01:00:00" in page.text
    assert "<td>包裹</td>" in page.text
    assert "<td>是</td>" in page.text

    assert codes_in(client.get("/records/shipment", params={"arrived_at.from": "2026-03-12"}).text) == ["S-2"]
    assert codes_in(client.get("/records/shipment", params={"arrived_at.to": "2026-03-11"}).text) == ["S-1"]
    assert codes_in(client.get("/records/shipment", params={"shipped_on.to": "2026-03-05"}).text) == ["S-1"]
    assert codes_in(client.get("/records/shipment", params={"kind": ["parcel", "pallet"]}).text) == ["S-1", "S-2"]
    assert codes_in(client.get("/records/shipment", params={"amount.max": "1,000"}).text) == ["S-2", "S-3"]
    assert codes_in(client.get("/records/shipment", params={"fragile": "false"}).text) == ["S-2"]

    exported = csv_of(client.get("/records/shipment/export.csv"))
    assert exported[0] == ["单号", "供应商", "供应商·城市", "金额", "发货日期", "到达时间", "易碎", "类型"]
    assert exported[1] == ["S-1", "顺达", "苏州", "1200.50", "2026-03-01", "2026-03-02 23:30:00", "是", "包裹"]


def test_fallback_columns_without_list(depot: WebApp) -> None:
    page = depot.client("clerk").get("/records/supplier")

    assert page.status_code == 200
    headers = re.findall(r"<th[^>]*>\s*(?:<a[^>]*>)?([^<\s][^<]*?)\s*(?:<|$)", page.text)
    assert "名称" in headers
    assert "城市" in headers
    assert "备注" not in headers
    assert "<td>苏州</td>" in page.text


def test_requisition_app_list(make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(REPOSITORY / "tests" / "apps" / "requisition")
    web_app.add_user("boss", ("admin",), "company")
    records = web_app.runtime.records
    manager = records.create(SYSTEM_ACTOR, "employee", {"employee_no": "E00001", "name": "王经理", "email": "wang@example.com",
                                                        "department": "engineering"})["id"]
    records.create(SYSTEM_ACTOR, "employee", {"employee_no": "E00002", "name": "李工", "email": "li@example.com",
                                              "department": "sales", "manager": manager})

    client = web_app.client("boss")
    page = client.get("/records/employee", params={"department": "sales"})

    assert page.status_code == 200
    assert "直属上级" in page.text
    assert "<td>王经理</td>" in page.text
    assert "<td>销售部</td>" in page.text
    assert "E00001" not in page.text
    exported = csv_of(client.get("/records/employee/export.csv", params={"department": "sales"}))
    assert [row[0] for row in exported[1:]] == ["E00002"]
