"""Import screens: the list's button, the template, upload and preview, both write modes, the error file and jobs."""

from __future__ import annotations

import dataclasses
import io
import re
from typing import Any, Callable

import openpyxl
import pytest
from huey.api import Huey
from starlette.testclient import TestClient

from runtime.access import SYSTEM_ACTOR
from runtime.jobs import Jobs
from runtime.record_query import ListQuery
from tests.conftest import REPOSITORY
from tests.runtime.job_support import queue, run_queued  # noqa: F401 - queue is a fixture
from tests.runtime.import_support import xlsx_bytes
from tests.web.conftest import WebApp

REQUISITION = REPOSITORY / "tests" / "apps" / "requisition"
HEADERS = ["工号", "姓名", "邮箱", "部门", "入职日期", "手机号"]


@pytest.fixture
def app(make_web_app: Callable[..., WebApp]) -> WebApp:
    """The requisition app with an admin (who may import employees) and a staff member (who may not)."""
    web_app = make_web_app(REQUISITION)
    web_app.add_user("boss", ("admin",), "company")
    web_app.add_user("clerk", ("staff",), "sales")
    return web_app


def upload(web_app: WebApp, client: TestClient, data: bytes, name: str = "员工.xlsx") -> Any:
    return client.post("/records/employee/import", data={"csrf_token": web_app.csrf(client)},
                       files={"file": (name, data, "application/octet-stream")})


def employees(web_app: WebApp) -> list[str]:
    rows = web_app.runtime.records.list(SYSTEM_ACTOR, "employee", ListQuery(limit=100, sort=("employee_no",))).rows
    return [row["employee_no"] for row in rows]


def count(page: str, kind: str) -> int:
    found = re.search(rf'data-count="{kind}">(\d+)<', page)
    assert found is not None, page
    return int(found.group(1))


ROWS: list[list[Any]] = [
    ["E00001", "张三", "zhang@example.com", "研发部", "2024-03-05", 13800138000],
    ["E00002", "李四", "li@example.com", "销售", 45356, None],
    ["E00003", "王五", "wang@example.com", "sales", "2024/3/5", "13900139000"],
]


def test_list_shows_import_button_only_with_permission(app: WebApp) -> None:
    assert 'href="/records/employee/import"' in app.client("boss").get("/records/employee").text
    assert 'href="/records/employee/import"' not in app.client("clerk").get("/records/employee").text


def test_import_needs_permission(app: WebApp) -> None:
    clerk = app.client("clerk")
    assert clerk.get("/records/employee/import").status_code == 403
    assert clerk.get("/records/employee/import/template.xlsx").status_code == 403
    response = upload(app, clerk, xlsx_bytes(HEADERS, ROWS[:1]))
    assert response.status_code == 403
    assert "导入" in response.text
    assert employees(app) == []


def test_template_has_headers_dropdowns_and_notes(app: WebApp) -> None:
    boss = app.client("boss")
    response = boss.get("/records/employee/import/template.xlsx")
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = workbook.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    assert headers[:4] == ["工号 *", "姓名 *", "邮箱 *", "手机号"]
    assert "部门 *" in headers
    assert "在职" in headers
    department = headers.index("部门 *")
    validations = {str(item.sqref).split(":")[0]: item for item in sheet.data_validations.dataValidation}
    letter = openpyxl.utils.get_column_letter(department + 1)
    assert validations[f"{letter}2"].type == "list"
    assert sheet.cell(1, headers.index("入职日期") + 1).comment is not None
    assert "2024-03-05" in sheet.cell(1, headers.index("入职日期") + 1).comment.text
    choices = workbook["choices"]
    assert [row[0].value for row in choices.iter_rows(max_col=1)][:2] == ["研发部", "销售部"]

    english = openpyxl.load_workbook(io.BytesIO(boss.get("/records/employee/import/template.xlsx?lang=en").content))
    assert [cell.value for cell in english.worksheets[0][1]][:2] == ["Employee number *", "Name *"]


def test_upload_preview_and_write_valid_rows(app: WebApp) -> None:
    boss = app.client("boss")
    data = xlsx_bytes(HEADERS, ROWS + [["E00004", "赵六", "not-an-email", "研发部", None, None]])
    response = upload(app, boss, data)
    assert response.status_code == 303
    page = boss.get(response.headers["location"])
    assert page.status_code == 200
    assert count(page.text, "total") == 4
    assert count(page.text, "valid") == 2
    assert count(page.text, "invalid") == 2
    assert 'data-line="3"' in page.text
    assert "销售" in page.text
    assert employees(app) == []

    errors = boss.get(response.headers["location"] + "/errors.xlsx")
    assert errors.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(errors.content)).active
    reasons = {row[0].value: row[-1].value for row in sheet.iter_rows(min_row=2)}
    assert set(reasons) == {"E00002", "E00004"}
    assert reasons["E00002"].startswith("第 3 行：部门：")
    assert "邮箱" in reasons["E00004"]

    refused = boss.post(response.headers["location"] + "/write", data={"mode": "all", "csrf_token": app.csrf(boss)})
    assert refused.status_code == 409
    assert employees(app) == []

    written = boss.post(response.headers["location"] + "/write", data={"mode": "valid", "csrf_token": app.csrf(boss)})
    assert written.status_code == 303
    assert employees(app) == ["E00001", "E00003"]
    rows = app.runtime.records.list(SYSTEM_ACTOR, "employee", ListQuery(limit=10)).rows
    assert {row["org_unit"] for row in rows} == {"company"}
    assert {row["created_by"] for row in rows} == {"boss"}
    done = boss.get(written.headers["location"]).text
    assert "已写入 2 条记录" in done


def test_reimport_reports_present_rows(app: WebApp) -> None:
    boss = app.client("boss")
    data = xlsx_bytes(HEADERS, ROWS[:1] + ROWS[2:])
    first = upload(app, boss, data)
    boss.post(first.headers["location"] + "/write", data={"mode": "all", "csrf_token": app.csrf(boss)})
    assert employees(app) == ["E00001", "E00003"]

    second = upload(app, boss, data)
    page = boss.get(second.headers["location"]).text
    assert count(page, "present") == 2
    assert count(page, "invalid") == 0
    boss.post(second.headers["location"] + "/write", data={"mode": "all", "csrf_token": app.csrf(boss)})
    assert employees(app) == ["E00001", "E00003"]


def test_bad_file_is_explained(app: WebApp) -> None:
    boss = app.client("boss")
    response = upload(app, boss, xlsx_bytes(["工号", "姓名", "颜色"], [["E00001", "张三", "红"]]))
    page = boss.get(response.headers["location"]).text
    assert "颜色" in page
    assert "缺少必填列“邮箱”" in page

    wrong_type = upload(app, boss, b"%PDF-1.4", "员工.pdf")
    assert wrong_type.status_code == 422
    assert ".pdf" in wrong_type.text


def test_other_users_import_is_not_found(app: WebApp) -> None:
    app.add_user("boss2", ("admin",), "company")
    response = upload(app, app.client("boss"), xlsx_bytes(HEADERS, ROWS[:1]))
    assert app.client("boss2").get(response.headers["location"]).status_code == 404


def test_large_file_runs_as_job_with_progress(app: WebApp, queue: Huey) -> None:
    app.runtime.settings = dataclasses.replace(app.runtime.settings, import_job_rows=2)
    app.app.state.jobs = Jobs(app.runtime, queue)
    boss = app.client("boss")
    response = upload(app, boss, xlsx_bytes(HEADERS, ROWS))
    url = response.headers["location"]
    waiting = boss.get(url, headers={"HX-Request": "true"}).text
    assert 'hx-trigger="every 1s"' in waiting
    assert "正在检查" in waiting

    assert run_queued(queue) == 1
    checked = boss.get(url).text
    assert 'hx-trigger="every 1s"' not in checked
    assert count(checked, "valid") == 2

    boss.post(url + "/write", data={"mode": "valid", "csrf_token": app.csrf(boss)})
    assert "正在写入" in boss.get(url).text
    assert employees(app) == []
    assert run_queued(queue) == 1
    assert employees(app) == ["E00001", "E00003"]
    assert "已写入 2 条记录" in boss.get(url).text
