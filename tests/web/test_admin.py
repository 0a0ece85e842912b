"""The admin pages under /admin: access, both languages, users, roles, the matrix, field rules, explain, config, tokens."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import select
from starlette.routing import Route

from runtime.errors import PermissionDenied
from tests.conftest import REPOSITORY
from tests.runtime.test_permission_matrix import Seeder
from tests.web.conftest import GUARANTEE, PASSWORD, WebApp
from ui.web import admin

#: A page of each admin section, with a phrase it shows in English and in Chinese.
PAGES = [
    ("/admin", "Every change made here is written to the audit log", "此处的每项更改都会以您的名义写入审计日志"),
    ("/admin/users", "New user", "新建用户"),
    ("/admin/users/root", "Set password", "设置密码"),
    ("/admin/roles", "Inherited by", "被继承"),
    ("/admin/units", "Add an org unit", "添加组织机构"),
    ("/admin/matrix?role=dealer_staff", "denied by a deny line", "被拒绝策略禁止"),
    ("/admin/matrix?entity=loan_application", "Pass risk review", "风控通过"),
    ("/admin/matrix/cell?role=dealer_staff&entity=customer&action=read", "Lines from the YAML change in the YAML files",
     "来自 YAML 的策略需在 YAML 文件"),
    ("/admin/field-rules?role=dealer_staff&entity=customer", "Unmasked", "显示明文"),
    ("/admin/explain", "Record id (optional)", "记录 id（可选）"),
    ("/admin/config", "Check of the folder now", "当前目录检查结果"),
    ("/admin/tokens", "New token", "新建令牌"),
]


class AdminClient:
    """A signed-in administrator posting to the admin pages."""

    def __init__(self, web_app: WebApp, lang: str | None = None) -> None:
        self.web_app = web_app
        if web_app.state.accounts.user("root") is None:
            web_app.add_user("root", ("admin",), "head_office", name="Root Admin")
        self.client = web_app.client("root", lang=lang)
        self.token = web_app.csrf(self.client)

    def get(self, url: str, **headers: str) -> Any:
        return self.client.get(url, headers=headers)

    def post(self, url: str, data: dict[str, str], *, htmx: bool = False) -> Any:
        headers = {"X-CSRF-Token": self.token, **({"HX-Request": "true"} if htmx else {})}
        return self.client.post(url, data=data, headers=headers)

    def audit(self, actor: str = "root") -> list[tuple[str, Any]]:
        """Return the audit entries of an actor's changes, its sign-ins left out."""
        audit = self.web_app.runtime.schema.audit
        with self.web_app.runtime.engine.connect() as connection:
            rows = connection.execute(
                select(audit.c.action, audit.c.changes).where(audit.c.actor == actor, audit.c.action != "sign_in").order_by(audit.c.id)
            )
            return [(row.action, row.changes) for row in rows]


def shown(response: Any) -> str:
    """Return a page's text as the browser shows it, with character references resolved."""
    return html.unescape(response.text)


@pytest.fixture
def root(web_app: WebApp) -> AdminClient:
    return AdminClient(web_app)


def error_beside(page: str, field_id: str) -> str:
    """Return the error message shown beside the form field with this id."""
    found = re.search(rf'id="{re.escape(field_id)}".*?<span class="error">([^<]*)</span>', page, re.S)
    assert found is not None, f"no error beside {field_id}"
    return html.unescape(found.group(1))


def admin_routes() -> list[tuple[str, str]]:
    """Return (method, address) for every admin route, with sample path parameters filled in."""
    found = []
    for route in admin.routes():
        assert isinstance(route, Route)
        address = route.path.replace("{user_id}", "root").replace("{token_id:int}", "1").replace("{name}", "loan_standard")
        if route.path == "/admin/matrix/cell":
            address += "?role=admin&entity=customer&action=read"
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, address))
    return found


# Access and languages ---------------------------------------------------------------------


def test_every_admin_route_refuses_non_admin(web_app: WebApp, root: AdminClient) -> None:
    web_app.add_user("clerk", ("head_office_viewer",), "head_office")
    clerk = web_app.client("clerk")
    token = web_app.csrf(clerk)
    routes = admin_routes()
    assert [method for method, _ in routes].count("GET") == 14
    assert [method for method, _ in routes].count("POST") == 12

    for method, address in routes:
        if method == "GET":
            response = clerk.get(address)
        else:
            response = clerk.post(address, data={"role": "head_office_viewer", "user_id": "x"}, headers={"X-CSRF-Token": token})
        assert response.status_code == 403, (method, address)
        assert "系统管理页面需要“系统管理”权限。" in response.text, (method, address)
    assert root.audit("clerk") == []

    for method, address in routes:
        if method == "GET":
            assert root.get(address).status_code == 200, address


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_admin_pages_render_in_both_languages(web_app: WebApp, lang: str) -> None:
    client = AdminClient(web_app, lang=lang)
    for address, english, chinese in PAGES:
        response = client.get(address)
        assert response.status_code == 200, address
        assert f'<html lang="{lang}">' in response.text
        assert (english if lang == "en" else chinese) in response.text, address
        assert (chinese if lang == "en" else english) not in response.text, address


# Users ------------------------------------------------------------------------------------


def test_weak_password_shows_policy_message(root: AdminClient) -> None:
    new_user = {"user_id": "li.ming", "username": "liming", "display_name": "李明", "org_unit": "beijing_credit"}

    short = root.post("/admin/users", {**new_user, "password": "Ab#1", "password_confirm": "Ab#1"})
    assert short.status_code == 422
    assert error_beside(short.text, "new-password") == "密码至少需要 8 个字符。"
    few_classes = root.post("/admin/users", {**new_user, "password": "abcdefgh1", "password_confirm": "abcdefgh1"})
    assert error_beside(few_classes.text, "new-password") == "密码需至少包含小写字母、大写字母、数字、符号中的 3 类。"
    assert 'value="李明"' in few_classes.text
    assert root.web_app.state.accounts.user("li.ming") is None

    created = root.post("/admin/users", {**new_user, "password": PASSWORD, "password_confirm": PASSWORD})
    assert created.status_code == 303
    assert created.headers["location"] == "/admin/users/li.ming?done=created"
    assert root.web_app.state.accounts.sign_in("liming", PASSWORD).outcome == "ok"
    assert [action for action, _ in root.audit()] == ["add_user", "set_password"]

    again = root.post("/admin/users", {**new_user, "username": "other", "password": PASSWORD, "password_confirm": PASSWORD})
    assert error_beside(again.text, "new-user_id") == "用户 id 'li.ming' 已被使用；请换一个名称"
    unknown_unit = root.post("/admin/users", {**new_user, "user_id": "x1", "username": "x1", "org_unit": "mars",
                                              "password": PASSWORD, "password_confirm": PASSWORD})
    assert unknown_unit.status_code == 422
    assert error_beside(unknown_unit.text, "new-org_unit").startswith("未知的组织机构 'mars'；请使用：")


def test_assigned_role_changes_user_menu(web_app: WebApp, root: AdminClient) -> None:
    web_app.add_user("li.ming", (), "beijing_credit")
    user = web_app.client("li.ming")
    assert 'href="/records/customer"' not in user.get("/").text

    assigned = root.post("/admin/users/li.ming/roles", {"role": "credit_officer", "unit": "beijing_branch"})
    assert assigned.status_code == 303
    assert "角色已分配" in root.get(assigned.headers["location"]).text
    assert 'href="/records/customer"' in user.get("/").text

    twice = root.post("/admin/users/li.ming/roles", {"role": "credit_officer", "unit": "beijing_branch"})
    assert twice.status_code == 422
    assert error_beside(twice.text, "assign-role") == "角色分配 'credit_officer@beijing_branch' 已存在；未做任何更改"
    unknown = root.post("/admin/users/li.ming/roles", {"role": "pilot", "unit": "beijing_branch"})
    assert error_beside(unknown.text, "assign-role").startswith("未知的角色 'pilot'；请使用：admin, ")
    bad_unit = root.post("/admin/users/li.ming/roles", {"role": "finance", "unit": "mars"})
    assert error_beside(bad_unit.text, "assign-unit").startswith("未知的组织机构 'mars'")

    removed = root.post("/admin/users/li.ming/roles/remove", {"role": "credit_officer", "unit": "beijing_branch"})
    assert removed.status_code == 303
    assert 'href="/records/customer"' not in user.get("/").text
    assert [action for action, _ in root.audit()] == ["assign_role", "unassign_role"]


def test_user_list_filters(web_app: WebApp, root: AdminClient) -> None:
    web_app.add_user("li.ming", ("credit_officer",), "beijing_credit", name="李明")
    web_app.add_user("zhao.sh", ("dealer_staff",), "dealer_sh_pudong", name="赵上海")

    def listed(query: str) -> list[str]:
        page = root.get("/admin/users" + query, **{"HX-Request": "true"})
        assert page.status_code == 200
        assert "<html" not in page.text
        return re.findall(r'<a href="/admin/users/([^"]+)">', page.text)

    assert listed("") == ["li.ming", "root", "zhao.sh"]
    assert listed("?q=赵") == ["zhao.sh"]
    assert listed("?unit=beijing_branch") == ["li.ming"]
    assert listed("?role=admin") == ["root"]
    assert listed("?active=0") == []
    unknown = root.get("/admin/users?role=pilot")
    assert unknown.status_code == 422
    assert "未知的角色 'pilot'" in shown(unknown)


def test_deactivate_unlock_and_password(web_app: WebApp, root: AdminClient) -> None:
    web_app.add_user("li.ming", ("credit_officer",), "beijing_credit")
    user = web_app.client("li.ming")
    assert user.get("/").status_code == 200

    deactivated = root.post("/admin/users/li.ming/active", {"active": "0"})
    assert deactivated.headers["location"] == "/admin/users/li.ming?done=deactivated"
    assert user.get("/").status_code == 303
    assert "停用" in root.get("/admin/users?active=0").text
    assert root.post("/admin/users/li.ming/active", {"active": "1"}).status_code == 303

    self_stop = root.post("/admin/users/root/active", {"active": "0"})
    assert self_stop.status_code == 422
    assert "不能停用自己的账号" in self_stop.text

    for _ in range(5):
        web_app.state.accounts.sign_in("li.ming", "wrong")
    assert "锁定至" in root.get("/admin/users/li.ming").text
    assert root.post("/admin/users/li.ming/unlock", {}).headers["location"] == "/admin/users/li.ming?done=unlocked"
    assert web_app.state.accounts.sign_in("li.ming", PASSWORD).outcome == "ok"

    weak = root.post("/admin/users/li.ming/password", {"password": "short", "password_confirm": "short"})
    assert error_beside(weak.text, "user-password") == "密码至少需要 8 个字符。"
    differ = root.post("/admin/users/li.ming/password", {"password": "New#2026pass", "password_confirm": "New#2026pasS"})
    assert error_beside(differ.text, "user-password") == "两次输入的密码不一致，请重新输入。"
    assert root.post("/admin/users/li.ming/password", {"password": "New#2026pass", "password_confirm": "New#2026pass"}).status_code == 303
    assert web_app.state.accounts.sign_in("li.ming", "New#2026pass").outcome == "ok"
    assert root.get("/admin/users/nobody").status_code == 404
    assert [action for action, _ in root.audit()] == ["deactivate_user", "activate_user", "unlock_user", "set_password"]


def test_org_unit_added_below_another(root: AdminClient) -> None:
    added = root.post("/admin/units", {"name": "dealer_bj_new", "parent": "beijing_branch", "kind": "dealer",
                                       "label_zh": "北京新店", "label_en": "Beijing new dealer"})
    assert added.status_code == 303
    tree = root.get("/admin/units").text
    assert "北京新店" in tree
    assert "运行中添加" in tree
    assert root.web_app.state.permissions.tree.within("dealer_bj_new", "beijing_branch")

    taken = root.post("/admin/units", {"name": "dealer_bj_new", "parent": "head_office", "kind": "dealer",
                                       "label_zh": "重复", "label_en": "Again"})
    assert error_beside(taken.text, "unit-name") == "组织机构 'dealer_bj_new' 已被使用；请换一个名称"
    orphan = root.post("/admin/units", {"name": "dealer_x", "parent": "mars", "kind": "dealer", "label_zh": "某店", "label_en": "X"})
    assert error_beside(orphan.text, "unit-parent").startswith("未知的组织机构 'mars'")
    assert [action for action, _ in root.audit()] == ["add_org_unit"]


def test_roles_page_lists_inheritance_and_members(web_app: WebApp, root: AdminClient) -> None:
    web_app.add_user("zhao.sh", ("dealer_manager",), "dealer_sh_pudong")
    page = root.get("/admin/roles").text
    row = page.split('id="role-dealer_manager"')[1].split("</tr>")[0]
    assert 'href="#role-dealer_staff"' in row
    assert "zhao.sh @ 上海浦东聚鑫二手车经营有限公司" in row


# Matrix, field rules and explain ------------------------------------------------------------


def test_matrix_grant_and_deny_decide_listing(web_app: WebApp, root: AdminClient) -> None:
    officer = web_app.add_user("ops", ("bank_liaison",), "beijing_branch")
    seeder = Seeder(web_app.runtime.records)
    beijing = seeder.dealer("someone", "beijing_credit")
    seeder.dealer("someone", "shanghai_credit")
    records = web_app.state.records
    with pytest.raises(PermissionDenied):
        records.list(officer, "dealer")

    line = {"role": "bank_liaison", "entity": "dealer", "action": "read", "scope": "unit_and_below", "unit": "*"}
    granted = root.post("/admin/matrix/grant", {**line, "effect": "allow"}, htmx=True)
    assert granted.status_code == 200
    assert granted.text.lstrip().startswith('<div class="matrix-cell editing" id="cell-bank_liaison-dealer-read">')
    assert "授权已添加" in granted.text
    assert "撤销" in granted.text
    assert [row["id"] for row in records.list(officer, "dealer").rows] == [beijing]

    denied = root.post("/admin/matrix/grant", {**line, "scope": "all", "effect": "deny"}, htmx=True)
    assert "拒绝策略已添加" in denied.text
    with pytest.raises(PermissionDenied):
        records.list(officer, "dealer")
    compact = root.get("/admin/matrix?role=bank_liaison").text
    assert 'class="matrix-cell denied" id="cell-bank_liaison-dealer-read"' in compact

    revoked = root.post("/admin/matrix/revoke", {**line, "scope": "all", "effect": "deny"})
    assert revoked.status_code == 303
    assert [row["id"] for row in records.list(officer, "dealer").rows] == [beijing]
    assert root.audit() == [
        ("grant", {"line": [None, ["bank_liaison", "*", "dealer", "read", "unit_and_below", "allow"]]}),
        ("grant", {"line": [None, ["bank_liaison", "*", "dealer", "read", "all", "deny"]]}),
        ("revoke", {"line": [["bank_liaison", "*", "dealer", "read", "all", "deny"], None]}),
    ]


def test_matrix_rejects_unknown_names_beside_field(root: AdminClient) -> None:
    cell = "cell-operations_officer-dealer-read"
    line = {"role": "operations_officer", "entity": "dealer", "action": "read", "effect": "allow"}
    bad_unit = root.post("/admin/matrix/grant", {**line, "scope": "all", "unit": "mars"}, htmx=True)
    assert bad_unit.status_code == 422
    assert error_beside(bad_unit.text, f"{cell}-unit").startswith("未知的组织机构 'mars'")
    bad_scope = root.post("/admin/matrix/grant", {**line, "scope": "galaxy", "unit": "*"}, htmx=True)
    assert error_beside(bad_scope.text, f"{cell}-scope") == "未知的数据范围 'galaxy'；请使用：own, unit, unit_and_below, all"
    yaml_line = root.post("/admin/matrix/revoke", {"role": "dealer_staff", "unit": "*", "entity": "customer", "action": "read",
                                                   "scope": "unit", "effect": "allow"}, htmx=True)
    assert yaml_line.status_code == 422
    assert "未知的管理员策略 'dealer_staff * customer read unit allow'" in shown(yaml_line)
    unknown_action = root.get("/admin/matrix/cell?role=dealer_staff&entity=customer&action=fly")
    assert unknown_action.status_code == 422
    assert "未知的操作 'fly'" in shown(unknown_action)
    assert root.get("/admin/matrix?role=pilot").status_code == 422
    assert root.audit() == []


def test_field_rule_hides_field_from_detail(web_app: WebApp, root: AdminClient) -> None:
    viewer = web_app.add_user("viewer", ("head_office_viewer",), "head_office")
    customer = Seeder(web_app.runtime.records).customer("someone", "beijing_credit")
    records = web_app.state.records
    assert "birth_date" in records.get(viewer, "customer", customer)

    rule = {"role": "head_office_viewer", "entity": "customer", "field": "birth_date", "kind": "hidden"}
    hidden = root.post("/admin/field-rules", {**rule, "op": "set"}, htmx=True)
    assert hidden.status_code == 200
    assert hidden.text.lstrip().startswith('<div id="field-rules">')
    assert "字段规则已更改" in hidden.text
    assert "birth_date" not in records.get(viewer, "customer", customer)

    cleared = root.post("/admin/field-rules", {**rule, "op": "clear"})
    assert cleared.status_code == 303
    assert "birth_date" in records.get(viewer, "customer", customer)

    yaml_rule = root.post("/admin/field-rules", {**rule, "field": "phone", "kind": "masked", "op": "clear"}, htmx=True)
    assert yaml_rule.status_code == 422
    assert "未知的管理员字段规则 'phone: masked'" in shown(yaml_rule)
    unknown_field = root.post("/admin/field-rules", {**rule, "field": "colour", "op": "set"}, htmx=True)
    assert "未知的字段 'colour'" in shown(unknown_field)
    unknown_entity = root.get("/admin/field-rules?role=finance&entity=spaceship")
    assert unknown_entity.status_code == 422
    assert error_beside(unknown_entity.text, "rules-entity").startswith("未知的实体 'spaceship'；请使用：advance_payment, appraisal, bank")
    assert [action for action, _ in root.audit()] == ["set_field_rule", "clear_field_rule"]


def test_explain_shows_matching_line(web_app: WebApp) -> None:
    web_app.add_user("dealer", ("dealer_staff",), "dealer_bj_yizhuang", name="王小明")
    english = AdminClient(web_app, lang="en")
    answer = shown(english.get("/admin/explain?user=dealer&entity=customer&action=read"))
    assert "Allowed: allowed by the matching policy line(s)" in answer
    assert "allow · Dealer staff · every unit · own unit" in answer
    assert "customer.org_unit = 'dealer_bj_yizhuang'" in answer
    assert "Blacklist reason <code>blacklist_reason</code>" in answer

    chinese = AdminClient(web_app, lang="zh-CN")
    denial = shown(chinese.get("/admin/explain?user=dealer&entity=customer&action=delete"))
    assert "拒绝：没有策略把 customer 的 delete 授予角色 dealer_staff" in denial
    unknown = chinese.get("/admin/explain?user=nobody&entity=customer&action=read")
    assert unknown.status_code == 422
    assert error_beside(unknown.text, "explain-user").startswith("未知的用户 'nobody'；请使用：dealer, root")
    bad_record = chinese.get("/admin/explain?user=dealer&entity=customer&action=read&record=abc")
    assert error_beside(bad_record.text, "explain-record") == "请输入记录 id：大于 0 的整数，或留空。"


# Configuration and tokens -----------------------------------------------------------------


def test_config_page_shows_check_results(make_web_app: Callable[..., WebApp], tmp_path: Path) -> None:
    folder = tmp_path / "guarantee"
    shutil.copytree(GUARANTEE, folder)
    client = AdminClient(make_web_app(folder))
    healthy = client.get("/admin/config").text
    assert "没有错误和警告" in healthy
    assert "<dd>0.1.0</dd>" in healthy
    assert "贷款申请 <code>loan_application</code>" in healthy

    # The running application keeps what it loaded; the page checks the folder as it is now.
    with (folder / "entities" / "bank.yaml").open("a", encoding="utf-8") as file:
        file.write("colour: red\n")
    broken = shown(client.get("/admin/config"))
    assert "1 个错误，0 个警告" in broken
    line = len((folder / "entities" / "bank.yaml").read_text(encoding="utf-8").splitlines())
    assert f"<code>entities/bank.yaml:{line}:1</code>" in broken
    assert '（文档） 中有未知的键 "colour"' in broken


def test_tokens_created_once_and_revoked(web_app: WebApp, root: AdminClient) -> None:
    web_app.add_user("erp", ("head_office_viewer",), "head_office")
    created = root.post("/admin/tokens", {"user": "erp", "name": "ERP 对接"})
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    token = re.search(r'<pre class="admin-token">(mdk_[^<]+)</pre>', created.text)
    assert token is not None
    user = web_app.state.accounts.user_of_token(token.group(1))
    assert user is not None
    assert user["id"] == "erp"
    listing = root.get("/admin/tokens").text
    assert "ERP 对接" in listing
    assert token.group(1) not in listing

    token_id = re.search(r'action="/admin/tokens/(\d+)/revoke"', listing)
    assert token_id is not None
    revoked = root.post(f"/admin/tokens/{token_id.group(1)}/revoke", {})
    assert revoked.headers["location"] == "/admin/tokens?done=revoked"
    assert web_app.state.accounts.user_of_token(token.group(1)) is None
    assert "已吊销" in root.get("/admin/tokens").text

    unknown_user = root.post("/admin/tokens", {"user": "nobody", "name": "x"})
    assert unknown_user.status_code == 422
    assert error_beside(unknown_user.text, "token-user").startswith("未知的用户 'nobody'")
    unknown_token = root.post("/admin/tokens/999999/revoke", {})
    assert unknown_token.status_code == 422
    assert "未知的API 令牌 '999999'" in shown(unknown_token)
    assert [action for action, _ in root.audit()] == ["create_token", "revoke_token"]


def test_admin_pages_work_for_another_app(make_web_app: Callable[..., WebApp]) -> None:
    other = make_web_app(REPOSITORY / "tests" / "apps" / "requisition")
    model = other.state.model
    unit = next(iter(model.permissions.org_units))
    other.add_user("root", ("admin",), unit)
    client = AdminClient(other)
    for address in ("/admin", "/admin/users", "/admin/roles", "/admin/units", "/admin/matrix", "/admin/matrix?entity=requisition",
                    "/admin/field-rules", "/admin/explain?user=root&entity=requisition&action=read", "/admin/config", "/admin/tokens"):
        assert client.get(address).status_code == 200, address
    granted = client.post("/admin/matrix/grant", {"role": "staff", "entity": "requisition", "action": "export",
                                                   "scope": "own", "unit": "*", "effect": "allow"}, htmx=True)
    assert granted.status_code == 200
    assert client.audit()[-1][0] == "grant"
