"""The flow pages under /admin/flows: access, the list of flows, the SVG diagram and the table of transitions."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from typing import Callable

import pytest

from metamodel import load_app
from tests.conftest import REPOSITORY
from tests.web.conftest import WebApp
from tests.web.test_admin import AdminClient, shown
from ui.web.flow_layout import edges_of, layout

APPROVALS = REPOSITORY / "tests" / "apps" / "approvals"


def diagram(page: str) -> str:
    """Return the SVG element of a flow page, as the page sends it."""
    found = re.search(r"<svg .*?</svg>", page, re.S)
    assert found is not None, "the page has no SVG diagram"
    return found.group(0)


def texts(svg: str) -> list[str]:
    """Return the text of every <text> element of an SVG, with character references resolved."""
    return [html.unescape(text) for text in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


@pytest.fixture
def root(web_app: WebApp) -> AdminClient:
    return AdminClient(web_app)


# Access ---------------------------------------------------------------------------------------


def test_pages_refuse_non_admin(web_app: WebApp) -> None:
    web_app.add_user("viewer", ("head_office_viewer",), "head_office")
    viewer = web_app.client("viewer")

    for address in ("/admin/flows", "/admin/flows/loan_standard"):
        response = viewer.get(address)
        assert response.status_code == 403, address
        assert "系统管理页面需要“系统管理”权限。" in response.text


def test_pages_send_anonymous_to_sign_in(web_app: WebApp) -> None:
    anonymous = web_app.client()

    for address in ("/admin/flows", "/admin/flows/loan_standard"):
        response = anonymous.get(address)
        assert response.status_code in (302, 303), address
        assert "/sign-in" in response.headers["location"]


def test_navigation_links_flows(root: AdminClient) -> None:
    page = root.get("/admin").text

    assert 'href="/admin/flows"' in page
    assert "以流程图展示各流程，并列出其流转。" in page


# The list -------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_list_shows_every_flow(web_app: WebApp, lang: str) -> None:
    response = AdminClient(web_app, lang=lang).get("/admin/flows")

    assert response.status_code == 200
    page = shown(response)
    for flow in web_app.state.model.flows.values():
        assert f'href="/admin/flows/{flow.name}"' in page
        assert flow.label.get(lang) in page
        assert flow.applies_when is not None and flow.applies_when.source in page
    assert ("Loan application" if lang == "en" else "贷款申请") in page


def test_unknown_flow_is_not_found(root: AdminClient) -> None:
    response = root.get("/admin/flows/nope")

    assert response.status_code == 404
    assert "没有名为 'nope' 的流程；请从流程列表中选择。" in shown(response)


# The diagram ----------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("name", ["loan_standard", "loan_fast_track"])
def test_diagram_shows_every_state_and_transition(web_app: WebApp, lang: str, name: str) -> None:
    flow = web_app.state.model.flows[name]

    response = AdminClient(web_app, lang=lang).get(f"/admin/flows/{name}")

    assert response.status_code == 200
    svg = diagram(response.text)
    labels = texts(svg)
    for state in flow.states.values():
        assert state.label.get(lang) in labels, state.name
        assert f'data-state="{state.name}"' in svg
    for transition in flow.transitions.values():
        assert any(text.startswith(transition.label.get(lang)) for text in labels), transition.name
        assert f'data-transition="{transition.name}"' in svg
    other = "zh-CN" if lang == "en" else "en"
    assert flow.states["draft"].label.get(other) not in labels


def test_diagram_marks_kinds(root: AdminClient) -> None:
    svg = diagram(root.get("/admin/flows/loan_fast_track").text)

    assert 'class="flow-state initial" data-state="draft"' in svg
    assert 'class="flow-state final" data-state="rejected"' in svg
    automatic = re.search(r'<g class="flow-transition automatic" data-transition="auto_approve">.*?</g>', svg)
    assert automatic is not None and 'stroke-dasharray="6 4"' in automatic.group(0)
    manual = re.search(r'<g class="flow-transition" data-transition="submit">.*?</g>', svg)
    assert manual is not None and "stroke-dasharray" not in manual.group(0)
    assert 'class="flow-transition approval" data-transition="risk_approve"' in svg
    assert "风控通过 [单人审批]" in texts(svg)


def test_diagram_uses_no_inline_style(root: AdminClient) -> None:
    svg = diagram(root.get("/admin/flows/loan_standard").text)

    assert "style=" not in svg
    assert "<style" not in svg
    assert "<script" not in svg


def test_diagram_escapes_labels(make_web_app: Callable[..., WebApp], tmp_path: Path) -> None:
    copied = tmp_path / "approvals"
    shutil.copytree(APPROVALS, copied)
    flow_file = copied / "flows" / "expense_single.yaml"
    flow_file.write_text(flow_file.read_text(encoding="utf-8").replace("en: Draft}", 'en: "Draft <b>&</b>"}', 1), encoding="utf-8")
    web_app = make_web_app(copied)
    web_app.add_user("root", ("admin",), "company")

    svg = diagram(AdminClient(web_app, lang="en").get("/admin/flows/expense_single").text)

    assert "Draft &lt;b&gt;&amp;&lt;/b&gt;" in svg
    assert "<b>" not in svg
    assert "Draft <b>&</b>" in texts(svg)


def test_backward_transitions_found() -> None:
    model = load_app(APPROVALS)

    edges = edges_of(model.flows["expense_levels"])

    assert {edge.transition.name for edge in edges if edge.back} == {"withdraw", "send_back"}
    drawn = layout(model.flows["expense_levels"], "en")
    assert {name: node.layer for name, node in drawn.nodes.items() if node.state is not None} == {
        "draft": 0, "review": 1, "approved": 2, "rejected": 2}


def test_long_transitions_get_waypoints() -> None:
    flow = load_app(REPOSITORY / "configs" / "guarantee").flows["loan_standard"]

    drawn = layout(flow, "en")

    spans = {drawn.edges[index].transition.name: len(points) for index, points in drawn.waypoints.items()}
    assert spans["cancel"] > 0
    for index, points in drawn.waypoints.items():
        edge = drawn.edges[index]
        layers = [drawn.nodes[edge.source].layer, *(drawn.nodes[point].layer for point in points), drawn.nodes[edge.target].layer]
        assert layers == list(range(layers[0], layers[-1] + 1)), edge.transition.name
    boxes = sorted((node.layer, node.x, node.x + node.width) for node in drawn.nodes.values())
    for (layer, _, right), (next_layer, left, _) in zip(boxes, boxes[1:]):
        if layer == next_layer:
            assert right < left, f"nodes overlap in layer {layer}"


# The table of transitions ---------------------------------------------------------------------


def test_table_lists_roles_guard_approval_sla(web_app: WebApp) -> None:
    page = shown(AdminClient(web_app, lang="en").get("/admin/flows/loan_standard"))

    row = re.search(r'<tr id="transition-committee_approve">.*?</tr>', page, re.S)
    assert row is not None
    cells = [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)]
    assert cells == [
        "Committee approval committee_approve",
        "Committee review",
        "Bank review",
        "Committee member",
        "loan_amount > 200000 and not customer.blacklisted",
        "countersign: Committee member (2 to sign)",
        "48 h, reminder 8 h before, escalates to Risk manager",
    ]
    automatic = re.search(r'<tr id="transition-start_credit_review">.*?</tr>', page, re.S)
    assert automatic is not None and "4 h, escalates to Branch manager" in automatic.group(0)


def test_table_in_chinese_with_routing(make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(APPROVALS)
    web_app.add_user("root", ("admin",), "company")

    page = shown(AdminClient(web_app, lang="zh-CN").get("/admin/flows/expense_levels"))

    row = re.search(r'<tr id="transition-approve">.*?</tr>', page, re.S)
    assert row is not None
    assert "逐级审批: 经理审批: 经理（1 人签署） → 总监审批: 总监（1 人签署） → 委员会会签: 委员（2 人签署）；按 4 条规则的路由表选择级别" in row.group(0)
    automatic = re.search(r'<tr id="transition-auto_reject">.*?</tr>', page, re.S)
    assert automatic is not None
    assert '<span class="badge">自动</span>' in automatic.group(0)
    assert "系统" in automatic.group(0)
