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
from ui.web.flow_layout import MAX_LAYER_WIDTH, NODE_GAP, edges_of, layout

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
        if flow.applies_when is not None:
            assert flow.applies_when.source in page
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
    assert "逐级审批：经理审批：经理（1 人签署） → 总监审批：总监（1 人签署） → 委员会会签：委员（2 人签署）；由下方 4 条路由规则选择级别" in row.group(0)
    automatic = re.search(r'<tr id="transition-auto_reject">.*?</tr>', page, re.S)
    assert automatic is not None
    assert '<span class="badge">自动</span>' in automatic.group(0)
    assert "系统" in automatic.group(0)


# Helpers for the tests below ------------------------------------------------------------------

Box = tuple[float, float, float, float]

_NUMBER = r"(-?[\d.]+)"


def cell_texts(row: str) -> list[str]:
    """Return the text of each cell of a table row, tags removed and white space collapsed."""
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split()) for cell in cells]


def transition_cells(page: str, name: str) -> list[str]:
    found = re.search(rf'<tr id="transition-{name}">.*?</tr>', page, re.S)
    assert found is not None, f"the page has no row for the transition {name}"
    return cell_texts(found.group(0))


def state_boxes(svg: str) -> dict[str, Box]:
    """Return each state's box in the SVG as (left, top, right, bottom)."""
    pattern = (rf'<g class="flow-state[^"]*" data-state="([^"]+)"><title>[^<]*</title>'
               rf'<rect x="{_NUMBER}" y="{_NUMBER}" width="{_NUMBER}" height="{_NUMBER}"')
    return {name: (float(x), float(y), float(x) + float(w), float(y) + float(h)) for name, x, y, w, h in re.findall(pattern, svg)}


def label_boxes(svg: str) -> list[tuple[str, Box]]:
    """Return the transition and the background box of each arrow label in the SVG."""
    pattern = (rf'<g class="flow-label" data-transition="([^"]+)"><title>[^<]*</title>'
               rf'<rect x="{_NUMBER}" y="{_NUMBER}" width="{_NUMBER}" height="{_NUMBER}"')
    return [(name, (float(x), float(y), float(x) + float(w), float(y) + float(h))) for name, x, y, w, h in re.findall(pattern, svg)]


def arrow_paths(svg: str, transition: str) -> list[list[float]]:
    """Return the coordinates of each arrow drawn for a transition, in path order."""
    paths = re.findall(rf'<g class="flow-transition[^"]*" data-transition="{transition}"><title>[^<]*</title><path d="([^"]+)"', svg)
    return [[float(number) for number in re.findall(r"-?\d+(?:\.\d+)?", path)] for path in paths]


def overlap(one: Box, other: Box) -> bool:
    return one[0] < other[2] and other[0] < one[2] and one[1] < other[3] and other[1] < one[3]


def svg_width(svg: str) -> float:
    found = re.search(r'<svg [^>]*width="([\d.]+)"', svg)
    assert found is not None
    return float(found.group(1))


@pytest.fixture
def approvals(make_web_app: Callable[..., WebApp]) -> WebApp:
    web_app = make_web_app(APPROVALS)
    web_app.add_user("root", ("admin",), "company")
    return web_app


# Routing rules, SLA expiry and list separators ------------------------------------------------


@pytest.mark.parametrize(("lang", "head", "rules"), [
    ("zh-CN", ["规则", "金额 amount", "等级 grade", "审批级别"], [
        ["1", "≤ 10,000", "任意", "经理审批"],
        ["2", "> 10,000 且 ≤ 50,000", "甲（A）", "经理审批 → 总监审批"],
        ["3", "> 10,000 且 ≤ 50,000", "乙（B）", "经理审批 → 总监审批 → 委员会会签"],
        ["4", "> 50,000", "任意", "经理审批 → 总监审批 → 委员会会签"],
    ]),
    ("en", ["Rule", "Amount amount", "Grade grade", "Approval levels"], [
        ["1", "≤ 10,000", "any", "Manager"],
        ["2", "> 10,000 and ≤ 50,000", "A", "Manager → Director"],
        ["3", "> 10,000 and ≤ 50,000", "B", "Manager → Director → Committee"],
        ["4", "> 50,000", "any", "Manager → Director → Committee"],
    ]),
])
def test_routing_rules_shown_under_step(approvals: WebApp, lang: str, head: list[str], rules: list[list[str]]) -> None:
    page = AdminClient(approvals, lang=lang).get("/admin/flows/expense_levels").text

    # The rules table is the row right under the transition that it routes.
    found = re.search(r'<tr id="transition-approve">.*?</tr>\s*<tr class="flow-routing-row" id="routing-approve">(.*?)</table>', page, re.S)
    assert found is not None, "no routing rules right under the row of approve"
    routing = found.group(1)
    header = re.search(r"<thead><tr>(.*?)</tr></thead>", routing, re.S)
    assert header is not None
    assert cell_texts(header.group(1)) == head
    assert [cell_texts(row) for row in re.findall(r"<tr>(.*?)</tr>", routing.split("<tbody>")[1], re.S)] == rules
    help_text = ("“同意”的路由规则：记录按其匹配的规则经过相应的审批级别。“任意”表示该规则不检查此输入。" if lang == "zh-CN" else
                 'Routing rules of Approve: a record goes through the approval levels of the rule that matches it. '
                 '"any" means that the rule does not test that input.')
    assert help_text in html.unescape(routing)


def test_flow_without_routing_has_no_rules_table(approvals: WebApp) -> None:
    page = AdminClient(approvals).get("/admin/flows/expense_single").text

    assert "flow-routing-row" not in page


@pytest.mark.parametrize(("lang", "sla"), [
    ("zh-CN", "24 小时，提前 4 小时提醒，升级至总监，超时后：拒绝"),
    ("en", "24 h, reminder 4 h before, escalates to Director, on expiry: Reject"),
])
def test_sla_names_expiry_transition(approvals: WebApp, lang: str, sla: str) -> None:
    page = AdminClient(approvals, lang=lang).get("/admin/flows/expense_single").text

    assert transition_cells(page, "approve")[-1] == sla


@pytest.mark.parametrize(("lang", "sources", "roles"), [
    ("zh-CN", "已受理、信审中、风控审核、贷审会审议、银行审批", "信审专员、风控专员、贷审会委员、银行专员"),
    ("en", "Received, Credit review, Risk review, Committee review, Bank review",
     "Credit officer, Risk officer, Committee member, Bank liaison"),
])
def test_lists_joined_in_language(web_app: WebApp, lang: str, sources: str, roles: str) -> None:
    page = AdminClient(web_app, lang=lang).get("/admin/flows/loan_standard").text

    cells = transition_cells(page, "return_to_dealer")
    assert cells[1] == sources
    assert cells[3] == roles
    if lang == "en":
        assert "、" not in html.unescape(page)


# The layout of big flows ----------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_bundle_drawn_with_one_label(web_app: WebApp, lang: str) -> None:
    svg = diagram(AdminClient(web_app, lang=lang).get("/admin/flows/loan_standard").text)

    labelled = [name for name, _ in label_boxes(svg)]
    for transition, sources in (("reject", 5), ("return_to_dealer", 5), ("cancel", 3)):
        paths = arrow_paths(svg, transition)
        assert len(paths) == sources, transition
        assert labelled.count(transition) == 1, transition
        # The arrows of one transition into one state meet at one point of its box.
        assert len({tuple(path[-2:]) for path in paths}) == 1, transition


def assert_nothing_overlaps(app: WebApp, lang: str) -> None:
    """Check that no two state boxes or arrow labels overlap in the diagram of any flow of the app."""
    client = AdminClient(app, lang=lang)
    for name, flow in app.state.model.flows.items():
        svg = diagram(client.get(f"/admin/flows/{name}").text)
        boxes = state_boxes(svg)
        assert set(boxes) == set(flow.states), name
        shapes = [(f"state {state}", box) for state, box in boxes.items()]
        shapes += [(f"label {label}", box) for label, box in label_boxes(svg)]
        for position, (first, one) in enumerate(shapes):
            for second, other in shapes[position + 1:]:
                assert not overlap(one, other), f"{name}: {first} overlaps {second}"


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_nothing_overlaps_in_guarantee_flows(web_app: WebApp, lang: str) -> None:
    assert_nothing_overlaps(web_app, lang)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_nothing_overlaps_in_approval_flows(approvals: WebApp, lang: str) -> None:
    assert_nothing_overlaps(approvals, lang)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_largest_flow_fits_page_width(web_app: WebApp, lang: str) -> None:
    flows = web_app.state.model.flows
    largest = max(flows.values(), key=lambda flow: (len(flow.states), len(flow.transitions)))
    assert largest.name == "loan_standard"

    svg = diagram(AdminClient(web_app, lang=lang).get(f"/admin/flows/{largest.name}").text)

    # The flow page gives the diagram 1006 pixels in a window 1280 pixels wide.
    assert svg_width(svg) <= MAX_LAYER_WIDTH


DEPARTMENTS = ("finance", "legal", "purchasing", "facilities", "security", "compliance", "treasury", "audit", "tax", "insurance")


def extended_approvals(tmp_path: Path) -> Path:
    """Copy the approvals app with two more flows: ten parallel reviews (expense_wide), and three returns (expense_lanes)."""
    root = tmp_path / "approvals"
    shutil.copytree(APPROVALS, root)
    entity = root / "entities" / "expense.yaml"
    levels = "      - {value: levels, label: {zh-CN: 逐级审批, en: Sequential levels}}\n"
    entity.write_text(entity.read_text(encoding="utf-8").replace(levels, levels
        + "      - {value: wide, label: {zh-CN: 多部门审核, en: Many departments}}\n"
        + "      - {value: lanes, label: {zh-CN: 多次退回, en: Several returns}}\n"), encoding="utf-8")

    wide = ["name: expense_wide", "entity: expense", "label: {zh-CN: 多部门审核, en: Many departments}",
            "applies_when: \"procedure == 'wide'\"", "states:",
            "  - {name: draft, label: {zh-CN: 草稿, en: Draft}, initial: true}",
            *(f"  - {{name: review_{name}, label: {{zh-CN: 审核中（{name}）, en: In review by {name}}}}}" for name in DEPARTMENTS),
            "  - {name: approved, label: {zh-CN: 已批准, en: Approved}, final: true}", "transitions:"]
    for name in DEPARTMENTS:
        wide += [f"  - {{name: send_to_{name}, label: {{zh-CN: 送审（{name}）, en: Send to {name}}}, from: draft, to: review_{name}, roles: [clerk]}}",
                 f"  - {{name: pass_{name}, label: {{zh-CN: 通过（{name}）, en: Passed by {name}}}, from: review_{name}, to: approved, roles: [manager]}}"]
    sources = ", ".join(f"review_{name}" for name in DEPARTMENTS)
    wide.append(f"  - {{name: send_back, label: {{zh-CN: 退回, en: Send back}}, kind: return, from: [{sources}], to: draft, roles: [manager]}}")
    (root / "flows" / "expense_wide.yaml").write_text("\n".join(wide) + "\n", encoding="utf-8")

    lanes = ["name: expense_lanes", "entity: expense", "label: {zh-CN: 多次退回, en: Several returns}",
             "applies_when: \"procedure == 'lanes'\"", "states:",
             "  - {name: draft, label: {zh-CN: 草稿, en: Draft}, initial: true}",
             "  - {name: review, label: {zh-CN: 审核, en: Review}}",
             "  - {name: check, label: {zh-CN: 复核, en: Check}}",
             "  - {name: sign, label: {zh-CN: 签批, en: Sign}}",
             "  - {name: approved, label: {zh-CN: 已批准, en: Approved}, final: true}", "transitions:"]
    for name, source, target, kind in (("submit", "draft", "review", "normal"), ("forward", "review", "check", "normal"),
                                       ("advance", "check", "sign", "normal"), ("approve", "sign", "approved", "normal"),
                                       ("back_a", "review", "draft", "return"), ("back_b", "sign", "check", "return"),
                                       ("back_c", "check", "review", "return")):
        lanes.append(f"  - {{name: {name}, label: {{zh-CN: {name}, en: {name}}}, kind: {kind}, from: {source}, to: {target}, roles: [manager]}}")
    (root / "flows" / "expense_lanes.yaml").write_text("\n".join(lanes) + "\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_wide_layer_wraps(make_web_app: Callable[..., WebApp], tmp_path: Path, lang: str) -> None:
    web_app = make_web_app(extended_approvals(tmp_path))
    web_app.add_user("root", ("admin",), "company")

    response = AdminClient(web_app, lang=lang).get("/admin/flows/expense_wide")

    assert response.status_code == 200
    svg = diagram(response.text)
    boxes = state_boxes(svg)
    reviews = {name: box for name, box in boxes.items() if name.startswith("review_")}
    assert len(reviews) == len(DEPARTMENTS)
    rows: dict[float, list[Box]] = {}
    for box in reviews.values():
        rows.setdefault(box[1], []).append(box)
    assert len(rows) >= 2, "the ten reviews stay in one row"
    for top, row in rows.items():
        assert max(box[2] for box in row) - min(box[0] for box in row) <= MAX_LAYER_WIDTH, f"the row at y={top} is too wide"
    one_row = sum(box[2] - box[0] for box in reviews.values()) + NODE_GAP * (len(reviews) - 1)
    assert svg_width(svg) < one_row
    assert len(arrow_paths(svg, "send_back")) == len(DEPARTMENTS)
    assert [name for name, _ in label_boxes(svg)].count("send_back") == 1


def test_backward_lanes_shared(make_web_app: Callable[..., WebApp], tmp_path: Path) -> None:
    web_app = make_web_app(extended_approvals(tmp_path))
    web_app.add_user("root", ("admin",), "company")

    svg = diagram(AdminClient(web_app).get("/admin/flows/expense_lanes").text)

    # A return runs up a lane right of the boxes, at the largest x of its path. Returns whose
    # heights do not overlap share the inner lane, and the one beside both takes the next.
    lane = {name: max(arrow_paths(svg, name)[0][0::2]) for name in ("back_a", "back_b", "back_c")}
    assert lane["back_a"] == lane["back_b"]
    assert lane["back_c"] > lane["back_a"]
