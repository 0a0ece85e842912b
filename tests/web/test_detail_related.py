"""Related lists on the detail page: the records that refer to the one shown, as the user may read them.

A small tracker application of its own: projects, their tasks in two branches, and notes.
The head reads everything. A clerk reads the tasks of the clerk's own branch with the owner's
ID number masked, and may not read notes at all.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Callable

import pytest

from runtime.access import Actor
from tests.web.conftest import WebApp

TRACKER: dict[str, str] = {
    "app.yaml": """
        name: tracker
        label: {zh-CN: 项目跟踪, en: Tracker}
    """,
    "entities/project.yaml": """
        name: project
        label: {zh-CN: 项目, en: Project}
        title: code
        fields:
          - {name: code, type: string, label: {zh-CN: 项目编号, en: Code}, required: true}
        related:
          - entity: task
            field: project
            columns: [title, owner_id, created_at]
            limit: 3
          - entity: note
            field: project
            label: {zh-CN: 项目备注, en: Project notes}
    """,
    "entities/task.yaml": """
        name: task
        label: {zh-CN: 任务, en: Task}
        title: title
        fields:
          - {name: title, type: string, label: {zh-CN: 任务名称, en: Title}, required: true}
          - {name: project, type: reference, entity: project, label: {zh-CN: 项目, en: Project}}
          - {name: owner_id, type: resident_id, label: {zh-CN: 负责人身份证号, en: Owner ID number}}
        list:
          columns: [title, project, owner_id]
    """,
    "entities/note.yaml": """
        name: note
        label: {zh-CN: 备注, en: Note}
        title: text
        fields:
          - {name: text, type: string, label: {zh-CN: 内容, en: Text}, required: true}
          - {name: project, type: reference, entity: project, label: {zh-CN: 项目, en: Project}}
    """,
    "permissions/access.yaml": """
        roles:
          - {name: clerk, label: {zh-CN: 文员, en: Clerk}}
          - {name: head, label: {zh-CN: 负责人, en: Head}}
        org_units:
          - name: company
            label: {zh-CN: 公司, en: Company}
            kind: company
            children:
              - {name: east, label: {zh-CN: 华东分公司, en: East branch}, kind: branch}
              - {name: west, label: {zh-CN: 华西分公司, en: West branch}, kind: branch}
        grants:
          - {role: head, entity: project, actions: [read], scope: all}
          - {role: head, entity: task, actions: [read], scope: all}
          - {role: head, entity: note, actions: [read], scope: all}
          - {role: clerk, entity: project, actions: [read], scope: all}
          - {role: clerk, entity: task, actions: [read], scope: unit}
        field_rules:
          - {role: clerk, entity: task, masked: [owner_id]}
    """,
}

OWNER_ID = "110105199003071239"
#: Tasks of the first project in the order created: title and branch.
TASKS = [("T-1", "east"), ("T-2", "west"), ("T-3", "east"), ("T-4", "west"), ("T-5", "east")]


@pytest.fixture
def tracker(make_web_app: Callable[..., WebApp], tmp_path: Path) -> tuple[WebApp, int]:
    """Open the tracker with a head and an east clerk; return it with the first project's id."""
    root = tmp_path / "tracker"
    for name, content in TRACKER.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    web_app = make_web_app(root)
    web_app.add_user("head", ("head",), "company")
    web_app.add_user("east_clerk", ("clerk",), "east")
    records = web_app.runtime.records
    seeder = {unit: Actor(id=f"seed.{unit}", roles=("system",), org_unit=unit) for unit in ("company", "east", "west")}
    first = records.create(seeder["company"], "project", {"code": "P-1"})
    other = records.create(seeder["company"], "project", {"code": "P-2"})
    for title, unit in TASKS:
        records.create(seeder[unit], "task", {"title": title, "project": first["id"], "owner_id": OWNER_ID})
    records.create(seeder["east"], "task", {"title": "T-9", "project": other["id"]})
    for text in ("N-1", "N-2"):
        records.create(seeder["company"], "note", {"text": text, "project": first["id"]})
    return web_app, int(first["id"])


def section(html: str, label: str) -> str:
    """Return the related list headed by `label`."""
    found = re.search(r'<section id="related-[^"]*" class="card related-list">\s*<div class="related-head">\s*<h2>'
                      + re.escape(label) + r" .*?</section>", html, re.S)
    assert found is not None, label
    return found.group(0)


def linked_titles(html: str, entity: str) -> list[str]:
    return re.findall(rf'<a href="/records/{entity}/\d+">([^<]+)</a>', html)


def count_of(html: str) -> int:
    found = re.search(r'<span class="badge related-count"[^>]*>(\d+)</span>', html)
    assert found is not None
    return int(found.group(1))


def test_related_lists_newest_first(tracker: tuple[WebApp, int]) -> None:
    web_app, project = tracker
    html = web_app.client("head").get(f"/records/project/{project}").text

    assert '<label for="tab-related" role="tab">关联记录</label>' in html
    tasks = section(html, "任务")
    assert linked_titles(tasks, "task") == ["T-5", "T-4", "T-3"]
    assert count_of(tasks) == 5
    assert "显示最新的 3 条，共 5 条。" in tasks
    assert "负责人身份证号" in tasks and OWNER_ID in tasks
    notes = section(html, "项目备注")
    assert linked_titles(notes, "note") == ["N-2", "N-1"]
    assert count_of(notes) == 2
    # P-2's task refers to another project.
    assert "T-9" not in html

    english = web_app.client("head", lang="en").get(f"/records/project/{project}").text
    assert '<label for="tab-related" role="tab">Related records</label>' in english
    assert count_of(section(english, "Project notes")) == 2
    assert "Showing the newest 3 of 5." in section(english, "Task")
    assert ">View all</a>" in english


def test_scope_limits_rows_and_count(tracker: tuple[WebApp, int]) -> None:
    web_app, project = tracker
    html = web_app.client("east_clerk").get(f"/records/project/{project}").text

    tasks = section(html, "任务")
    assert linked_titles(tasks, "task") == ["T-5", "T-3", "T-1"]
    assert count_of(tasks) == 3
    assert "显示最新" not in tasks
    # The clerk sees the owner's ID number masked, as on the task list.
    assert OWNER_ID not in html
    assert "负责人身份证号" in tasks


def test_unreadable_entity_left_out(tracker: tuple[WebApp, int]) -> None:
    web_app, project = tracker
    html = web_app.client("east_clerk").get(f"/records/project/{project}").text

    assert "项目备注" not in html
    assert "N-1" not in html
    assert html.count('class="card related-list"') == 1


def test_view_all_filters_the_list(tracker: tuple[WebApp, int]) -> None:
    web_app, project = tracker
    client = web_app.client("east_clerk")
    html = client.get(f"/records/project/{project}").text

    links = re.findall(r'<a class="related-all" href="([^"]+)">查看全部</a>', html)
    assert links == [f"/records/task?project={project}"]
    listed = client.get(links[0])
    assert listed.status_code == 200
    assert sorted(linked_titles(listed.text, "task")) == ["T-1", "T-3", "T-5"]
    assert sorted(linked_titles(web_app.client("head").get(links[0]).text, "task")) == ["T-1", "T-2", "T-3", "T-4", "T-5"]


def test_no_related_tab_without_related_lists(tracker: tuple[WebApp, int]) -> None:
    web_app, _ = tracker
    task = web_app.runtime.records.list(Actor(id="seed", roles=("system",), org_unit="company"), "task").rows[0]

    html = web_app.client("head").get(f"/records/task/{task['id']}?tab=related").text

    assert 'id="tab-related"' not in html
    assert '<input type="radio" name="detail-tab" id="tab-details" checked>' in html


def test_customer_shows_applications_as_borrower(web_app: WebApp) -> None:
    from tests.web.test_detail import seed_application

    web_app.add_user("admin1", ("admin",), "head_office")
    ids = seed_application(web_app)
    html = web_app.client("admin1").get(f"/records/customer/{ids['customer']}?tab=related").text

    assert '<input type="radio" name="detail-tab" id="tab-related" checked>' in html
    borrower = section(html, "作为借款人的贷款申请")
    assert re.findall(r'<a href="/records/loan_application/(\d+)">', borrower) == [str(ids["application"])]
    assert count_of(borrower) == 1
    assert f'href="/records/loan_application?customer={ids["customer"]}"' in borrower
    assert count_of(section(html, "作为共同借款人的贷款申请")) == 0
