"""Bad list addresses: every problem names the filter by its label, in the user's language, with the form to write.

The same messages come from the list screen (which shows the list without the bad parts),
from the JSON API (which rejects the request with the parameter of each problem) and from
the CSV export (which exports nothing).
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from runtime.access import SYSTEM_ACTOR
from tests.web.conftest import WebApp
from tests.web.test_lists import LOANS, Seeded, numbers_in, seed

CUSTOMERS = "/records/customer"

#: A bad parameter of the loan list, and the problem the screen and the API show for it, in Chinese and English.
LOAN_CASES: list[tuple[list[tuple[str, str]], str, str, str]] = [
    ([("loan_amount.min", "abc")], "loan_amount.min",
     "贷款金额（元）最小值：这不是数字；请输入数字，可带小数点，例如 1,234.50。",
     "Loan amount (CNY), minimum: This is not a number; enter digits with an optional decimal point, such as 1,234.50."),
    ([("created_at.from", "2024-13-45")], "created_at.from",
     "创建时间起：请输入日期（如 2024-03-05）或时间（如 2024-03-05 14:30），而不是 '2024-13-45'。",
     "Created at, from: Enter a date such as 2024-03-05 or a time such as 2024-03-05 14:30, not '2024-13-45'."),
    ([("created_at.to", "yesterday")], "created_at.to",
     "创建时间止：请输入日期（如 2024-03-05）或时间（如 2024-03-05 14:30），而不是 'yesterday'。",
     "Created at, to: Enter a date such as 2024-03-05 or a time such as 2024-03-05 14:30, not 'yesterday'."),
    ([("dealer", "abc")], "dealer",
     "经销商：请输入记录编号（如 12），而不是 'abc'。",
     "Dealer: Enter a record number, such as 12, not 'abc'."),
    ([("term_months.max", "1.5")], "term_months.max",
     "贷款期限（月）最大值：请输入整数，不能带小数。",
     "Term (months), maximum: Enter a whole number, without decimals."),
    ([("risk_level", "low"), ("risk_level", "huge")], "risk_level",
     "风险等级：'huge' 不是可选的值；请从以下选项中选择：低（low）、中（medium）、高（high）。",
     "Risk level: 'huge' is not one of its choices; choose one of: Low (low), Medium (medium), High (high)."),
    ([("state", "drafted")], "state",
     "状态：'drafted' 不是可选的值；请从以下选项中选择：草稿（draft）、已提交（submitted）",
     "State: 'drafted' is not one of its choices; choose one of: Draft (draft), Submitted (submitted)"),
    ([("org_unit", "nowhere")], "org_unit",
     "所属机构：'nowhere' 不是可选的值；请从以下选项中选择：总公司（head_office）",
     "Org unit: 'nowhere' is not one of its choices; choose one of: Head office (head_office)"),
    ([("remarks.empty", "2")], "remarks.empty",
     "备注为空：请填写 1（为空）或 0（不为空），而不是 '2'。",
     "Remarks, empty: write 1 (empty) or 0 (not empty), not '2'."),
    ([("loan_amount.foo", "1")], "loan_amount.foo",
     "贷款金额（元）：不能用 .foo 筛选；请写成 loan_amount=值、loan_amount.min=最小值、loan_amount.max=最大值、"
     "loan_amount.empty=1（为空）或 0（不为空）。",
     "Loan amount (CNY): .foo is not a way to filter it; write loan_amount=value, loan_amount.min=lowest, "
     "loan_amount.max=highest, loan_amount.empty=1 (empty) or 0 (not empty)."),
    ([("customer.name", "张三")], "customer.name",
     "借款人：不能用 .name 筛选；请写成 customer=记录编号、customer.empty=1（为空）或 0（不为空）。",
     "Borrower: .name is not a way to filter it; write customer=record number, customer.empty=1 (empty) or 0 (not empty)."),
    ([("colour", "red")], "colour",
     "colour 不是此列表的筛选条件；请删除它，或使用此列表的筛选条件：状态（state）、经销商（dealer）、贷款产品（product）、"
     "贷款期限（月）（term_months）、风险等级（risk_level）。",
     "colour is not a filter of this list; remove it, or use one of its filters: State (state), Dealer (dealer), "
     "Loan product (product), Term (months) (term_months), Risk level (risk_level)."),
    ([("loan_amout.min", "1")], "loan_amout.min",
     "loan_amout.min 不是此列表的筛选条件；您是否要筛选“贷款金额（元）”（loan_amount）？",
     "loan_amout.min is not a filter of this list; did you mean Loan amount (CNY) (loan_amount)?"),
    ([("sort", "-colour")], "sort",
     "排序：colour 不是此列表可排序的列；请点击列标题排序，或写字段名，多个用逗号分隔，降序时在前面加 -（如 sort=-created_at）。",
     "Sort: colour is not a column this list can be sorted by. Click a column heading to sort, or write field names "
     "separated by commas, each with a leading - for descending (such as sort=-created_at)."),
    ([("sort", "loan_amout")], "sort",
     "排序：loan_amout 不是此列表可排序的列；您是否要按“贷款金额（元）”（loan_amount）排序？请点击列标题排序",
     "Sort: loan_amout is not a column this list can be sorted by. Did you mean Loan amount (CNY) (loan_amount)? Click"),
    ([("limit", "abc")], "limit",
     "每页条数：请输入 1 到 200 之间的整数，而不是 'abc'。",
     "Rows per page: enter a whole number from 1 to 200, not 'abc'."),
]

#: Problems of the customer list that only fields stored or kept apart can have.
CUSTOMER_CASES: list[tuple[list[tuple[str, str]], str, str, str]] = [
    ([("id_number.min", "1")], "id_number.min",
     "身份证号最小值：此字段已加密，只能按完整的值匹配；请填写完整的值，不要用范围。",
     "Resident ID number, minimum: This field is encrypted, so it can only be matched by its whole value; "
     "enter the whole value without a range."),
    ([("sort", "id_number")], "sort",
     "按身份证号排序：此字段已加密，列表不能按它排序；请按其他列排序。",
     "Sort by Resident ID number: This field is encrypted, so a list cannot be sorted by it; sort by another column."),
    ([("contacts", "x")], "contacts",
     "紧急联系人：此字段存放在单独的表中，列表不能按它筛选或排序。",
     "Emergency contacts: This field is stored in its own table, so a list cannot filter or sort by it."),
]


def problems_of(page: Any) -> dict[str, str]:
    """Return the problems a list page shows, by the parameter each names."""
    found = re.findall(r'<li data-filter="([^"]+)">(.*?)</li>', page.text, re.S)
    return {key: html.unescape(text) for key, text in found}


def cases(*groups: list[tuple[list[tuple[str, str]], str, str, str]]) -> list[Any]:
    return [pytest.param(*case, id=case[1]) for group in groups for case in group]


@pytest.fixture
def seeded(web_app: WebApp) -> Seeded:
    return seed(web_app)


@pytest.fixture
def clients(seeded: Seeded) -> dict[str, Any]:
    return {"zh-CN": seeded.client("admin"), "en": seeded.client("admin", lang="en")}


@pytest.mark.parametrize(("params", "key", "chinese", "english"), cases(LOAN_CASES, CUSTOMER_CASES))
def test_screen_names_filter_by_label(clients: dict[str, Any], params: list[tuple[str, str]], key: str,
                                      chinese: str, english: str) -> None:
    address = CUSTOMERS if params[0][0] in ("id_number.min", "contacts") or params == [("sort", "id_number")] else LOANS
    for lang, expected in (("zh-CN", chinese), ("en", english)):
        page = clients[lang].get(address, params=params)

        assert page.status_code == 200
        problems = problems_of(page)
        assert list(problems) == [key], problems
        assert problems[key].startswith(expected), (lang, problems[key])


@pytest.mark.parametrize(("params", "key", "chinese", "english"), cases(LOAN_CASES))
def test_api_names_filter_by_label(clients: dict[str, Any], params: list[tuple[str, str]], key: str,
                                   chinese: str, english: str) -> None:
    for lang, expected in (("zh-CN", chinese), ("en", english)):
        response = clients["zh-CN"].get("/api/loan_application", params=params, headers={"Accept-Language": lang})

        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "invalid_query"
        assert [(item["path"], item["message"][:len(expected)]) for item in error["fields"]] == [(key, expected)]
        assert expected in error["message"]


def test_api_bad_cursor_message(clients: dict[str, Any]) -> None:
    chinese = clients["zh-CN"].get("/api/loan_application", params={"after": "garbage"})
    english = clients["zh-CN"].get("/api/loan_application", params={"after": "garbage"}, headers={"Accept-Language": "en"})

    assert chinese.status_code == english.status_code == 400
    assert chinese.json()["error"]["fields"] == [{
        "path": "after", "code": "cursor",
        "message": "after 不是此列表的翻页游标，或与排序不符；请原样发送上一页返回的 \"next\" 值，或去掉 after 从第一页开始。",
    }]
    assert english.json()["error"]["fields"][0]["message"].startswith(
        "after is not a page cursor of this list, or it no longer fits its sort; send the \"next\" value")


def test_screen_bad_cursor_shows_first_page(clients: dict[str, Any]) -> None:
    page = clients["zh-CN"].get(LOANS, params={"after": "garbage"})

    assert problems_of(page) == {"after": "分页地址已失效，已显示第一页。"}
    assert len(numbers_in(page.text)) == 5


def test_bad_filters_named_others_apply(clients: dict[str, Any]) -> None:
    params = [("loan_amount.min", "abc"), ("colour", "red"), ("created_at.from", "2024-13-45"), ("state", "draft"),
              ("loan_amount.max", "100000")]
    page = clients["zh-CN"].get(LOANS, params=params)
    response = clients["zh-CN"].get("/api/loan_application", params=params)

    assert set(problems_of(page)) == {"loan_amount.min", "colour", "created_at.from"}
    # The two good filters still apply on the screen: the loans of 90,000 and 100,000.
    assert len(numbers_in(page.text)) == 2
    assert [item["path"] for item in response.json()["error"]["fields"]] == ["colour", "loan_amount.min", "created_at.from"]


def test_hidden_field_reported_as_unknown(seeded: Seeded) -> None:
    client = seeded.client("sh_staff")
    page = client.get(LOANS, params={"risk_level": "low"})
    response = client.get("/api/loan_application", params={"risk_level": "low"})

    message = problems_of(page)["risk_level"]
    assert message.startswith("risk_level 不是此列表的筛选条件；请删除它，或使用此列表的筛选条件：状态（state）")
    assert "风险等级" not in message
    assert response.status_code == 400
    assert "风险等级" not in response.text


def test_export_with_bad_filter_exports_nothing(seeded: Seeded) -> None:
    chinese = seeded.client("admin").get(f"{LOANS}/export.csv", params={"loan_amount.min": "abc", "state": "draft"})
    english = seeded.client("admin", lang="en").get(f"{LOANS}/export.csv", params={"created_at.from": "2024-13-45"})

    assert chinese.status_code == 400
    assert "text/html" in chinese.headers["content-type"]
    text = html.unescape(chinese.text)
    assert "未导出任何数据，因为部分筛选条件无效。贷款金额（元）最小值：这不是数字" in text
    assert "请在列表中更正后再导出。" in text
    assert english.status_code == 400
    assert "Nothing was exported, because some filters are not valid. Created at, from: Enter a date" in html.unescape(english.text)


def test_ticked_choices_name_the_wrong_one(seeded: Seeded) -> None:
    records = seeded.web_app.runtime.records
    records.update(SYSTEM_ACTOR, "customer", seeded.customers["dealer_bj_yizhuang"][0], {"gender": "female"}, version=1)
    client = seeded.client("admin", lang="en")

    page = client.get(CUSTOMERS, params=[("gender", "female"), ("gender", "other"), ("monthly_income.min", "lots")])

    assert problems_of(page) == {
        "gender": "Gender: 'other' is not one of its choices; choose one of: Male (male), Female (female).",
        "monthly_income.min": "Monthly income (CNY), minimum: This is not a number; enter digits with an optional "
                              "decimal point, such as 1,234.50.",
    }
