"""`metadesk check` on flows: the state graph, transition kinds, grants and approval routing tables."""

from __future__ import annotations

from typing import Callable

import pytest

from metamodel import CheckResult

FLOW = "flows/item.yaml"
PERMISSIONS = "permissions/access.yaml"

SUPPLIER = """\
name: supplier
label: {zh-CN: 供应商, en: Supplier}
fields:
  - {name: title, type: string, label: {zh-CN: 名称, en: Name}}
  - name: rating
    type: enum
    label: {zh-CN: 评级, en: Rating}
    required: true
    choices:
      - {value: A, label: {zh-CN: 甲, en: A}}
      - {value: B, label: {zh-CN: 乙, en: B}}
      - {value: C, label: {zh-CN: 丙, en: C}}
      - {value: D, label: {zh-CN: 丁, en: D}}
"""

ITEM = """\
name: item
label: {zh-CN: 商品, en: Item}
fields:
  - {name: title, type: string, label: {zh-CN: 名称, en: Title}}
  - {name: price, type: money, label: {zh-CN: 价格, en: Price}, min: 0, required: true}
  - {name: supplier, type: reference, entity: supplier, label: {zh-CN: 供应商, en: Supplier}, required: true}
  - {name: urgent, type: boolean, label: {zh-CN: 加急, en: Urgent}}
"""

ACCESS = """\
roles:
  - {name: clerk, label: {zh-CN: 文员, en: Clerk}}
  - {name: manager, label: {zh-CN: 经理, en: Manager}, inherits: [clerk]}
  - {name: buyer, label: {zh-CN: 采购员, en: Buyer}}
  - {name: director, label: {zh-CN: 总监, en: Director}}
grants:
  - {role: clerk, entity: item, actions: [read, create, update, submit, withdraw]}
  - {role: clerk, entity: supplier, actions: [read]}
  - {role: manager, entity: item, actions: [approve, send_back, reject]}
  - {role: buyer, entity: item, actions: [read, approve]}
  - {role: director, entity: item, actions: [read, approve]}
"""

# Every transition kind, and an approval in three levels routed by price and the supplier's rating.
ITEM_FLOW = """\
name: item_flow
entity: item
label: {zh-CN: 流程, en: Flow}
states:
  - {name: draft, label: {zh-CN: 草稿, en: Draft}, initial: true}
  - {name: review, label: {zh-CN: 审批中, en: Review}}
  - {name: approved, label: {zh-CN: 已批准, en: Approved}, final: true}
  - {name: rejected, label: {zh-CN: 已拒绝, en: Rejected}, final: true}
  - {name: withdrawn, label: {zh-CN: 已撤回, en: Withdrawn}, final: true}
transitions:
  - {name: submit, label: {zh-CN: 提交, en: Submit}, from: draft, to: review, roles: [clerk]}
  - {name: withdraw, label: {zh-CN: 撤回, en: Withdraw}, from: review, to: withdrawn, kind: withdraw}
  - {name: send_back, label: {zh-CN: 退回, en: Send back}, from: review, to: draft, kind: return, roles: [manager]}
  - {name: reject, label: {zh-CN: 拒绝, en: Reject}, from: review, to: rejected, kind: reject, roles: [manager]}
  - name: approve
    label: {zh-CN: 批准, en: Approve}
    from: review
    to: approved
    approval:
      mode: levels
      levels:
        - {name: branch, label: {zh-CN: 分部, en: Branch}, roles: [manager]}
        - {name: purchase, label: {zh-CN: 采购, en: Purchase}, roles: [buyer]}
        - {name: board, label: {zh-CN: 董事会, en: Board}, roles: [director], quorum: 2}
      routing:
        inputs: {amount: price, grade: supplier.rating}
        rules:
          - when: {amount: {max: 150000}}
            levels: [branch]
          - when: {amount: {above: 150000, max: 300000}, grade: [A, B]}
            levels: [branch, purchase]
          - when: {amount: {above: 150000, max: 300000}, grade: [C, D]}
            levels: [branch, purchase, board]
          - when: {amount: {above: 300000}}
            levels: [branch, purchase, board]
"""

CheckFiles = Callable[..., CheckResult]


def app(flow: str = ITEM_FLOW, access: str = ACCESS) -> dict[str, str | None]:
    return {"entities/supplier.yaml": SUPPLIER, "entities/item.yaml": ITEM, PERMISSIONS: access, FLOW: flow}


def changed(old: str, new: str, text: str = ITEM_FLOW) -> str:
    """Return the text with one part replaced, failing when the part is not there."""
    assert old in text, old
    return text.replace(old, new, 1)


def test_sound_flow_has_no_diagnostic(check: CheckFiles) -> None:
    result = check(app())

    assert result.diagnostics == []
    assert result.model is not None
    approval = result.model.flows["item_flow"].transitions["approve"].approval
    assert approval is not None
    assert approval.routing is not None


SUBMIT = "to: review, roles: [clerk]}"
#: The submit transition's line up to its closing brace, for adding keys to it.
SUBMIT_WITH = "to: review, roles: [clerk], "

# (case, flow YAML, code, line, column, English message)
CASES: list[tuple[str, str, str, int, int, str]] = [
    (
        "routing gap",
        changed("grade: [C, D]}", "grade: [D]}"),
        "routing.E001", 27, 9, "no rule of the routing table matches amount in (150000, 300000], grade = C",
    ),
    (
        "routing overlap",
        changed("{amount: {above: 150000, max: 300000}, grade: [A, B]}", "{amount: {min: 150000, max: 300000}, grade: [A, B]}"),
        "routing.E002", 30, 13, "rules[0] (line 28), rules[1] (line 30) of the routing table all match amount = 150000, grade in {A, B}",
    ),
    (
        "routing rule names unknown input",
        changed("grade: [A, B]}", "grad: [A, B]}"),
        "routing.E003", 30, 58, 'transitions[4].approval.routing.rules[1].when.grad names the input "grad", which the routing table does not declare',
    ),
    (
        "routing rule names unknown level",
        changed("levels: [branch, purchase]\n", "levels: [branch, purchse]\n"),
        "routing.E004", 31, 30, 'transitions[4].approval.routing.rules[1].levels[1] names the level "purchse", which the approval does not declare',
    ),
    (
        "routing range is empty",
        changed("{amount: {above: 300000}}", "{amount: {above: 300000, below: 300000}}"),
        "routing.E005", 34, 28, 'the range (300000, 300000) of the input "amount" contains no value',
    ),
    (
        "routing input with range and list",
        changed("{amount: {above: 300000}}", "{amount: [400000]}"),
        "routing.E006", 34, 28, 'transitions[4].approval.routing.rules[3].when.amount gives the input "amount" a list of values, but rules[0] (line 28) gives it a range',
    ),
    (
        "routing value not a choice",
        changed("grade: [A, B]}", "grade: [A, B, E]}"),
        "routing.E007", 30, 72, 'transitions[4].approval.routing.rules[1].when.grade[2] lists "E", which is not a value of supplier.rating',
    ),
    (
        "routing range on a text field",
        changed("inputs: {amount: price,", "inputs: {amount: title,"),
        "routing.E008", 28, 28, 'transitions[4].approval.routing.rules[0].when.amount gives the input "amount" a range, but title is a string field, which holds no numbers',
    ),
    (
        "reject into a state that is not final",
        changed("to: rejected, kind: reject", "to: draft, kind: reject"),
        "flow.E005", 14, 70, 'the transition "reject" is a rejection, but its target state draft is not final',
    ),
    (
        "withdraw with an approval",
        changed("kind: withdraw}", "kind: withdraw, approval: {mode: single, roles: [clerk]}}"),
        "flow.E006", 12, 101, 'the transition "withdraw" is a withdrawal, which whoever submitted the record fires alone, so it cannot have an approval',
    ),
    (
        "expiry fires an approval",
        changed("to: review, roles: [clerk]}", "to: review, roles: [clerk], sla: {hours: 4, on_expiry: approve}}"),
        "flow.E007", 11, 120, 'the SLA of "submit" fires "approve" when it runs out, but "approve" needs approvals, which a time limit must not skip',
    ),
    (
        "expiry from another state",
        changed("to: review, roles: [clerk]}", "to: review, roles: [clerk], sla: {hours: 4, on_expiry: reject}}"),
        "flow.E007", 11, 120, 'the SLA of "submit" fires "reject" when it runs out, but "reject" does not start from any state this transition starts from',
    ),
    (
        "sla with hours and working days",
        changed(SUBMIT, SUBMIT_WITH + "sla: {hours: 4, working_days: 1}}"),
        "schema.E011", 11, 98, 'transitions[0].sla names "hours", "working_days", but only one of "hours", "working_days" may be given',
    ),
    (
        "sla without a length",
        changed(SUBMIT, SUBMIT_WITH + "sla: {escalate_to: manager}}"),
        "flow.E008", 11, 93,
        'the SLA of "submit" has neither hours nor working_days, so it never runs out and its reminder, escalation and expiry never happen',
    ),
    (
        "reminder as long as the sla",
        changed(SUBMIT, SUBMIT_WITH + "sla: {hours: 4, remind_before_hours: 4}}"),
        "flow.E009", 11, 130,
        'the SLA of "submit" reminds 4 hours before it runs out, but it lasts only 4 hours, so the reminder would be sent as soon as the step starts',
    ),
    (
        "reminder longer than the sla",
        changed(SUBMIT, SUBMIT_WITH + "sla: {hours: 1.5, remind_before_hours: 2}}"),
        "flow.E009", 11, 132,
        'the SLA of "submit" reminds 2 hours before it runs out, but it lasts only 1.5 hours, so the reminder would be sent as soon as the step starts',
    ),
    (
        "level with quorum and ratio",
        changed("roles: [director], quorum: 2}", "roles: [director], quorum: 2, ratio: 0.5}"),
        "schema.E011", 24, 11,
        'transitions[4].approval.levels[2] names "quorum", "ratio", but only one of "all", "quorum", "ratio" may be given',
    ),
    (
        "level with all and quorum",
        changed("roles: [director], quorum: 2}", "roles: [director], quorum: 2, all: true}"),
        "schema.E011", 24, 11,
        'transitions[4].approval.levels[2] names "all", "quorum", but only one of "all", "quorum", "ratio" may be given',
    ),
    (
        "countersign with quorum and ratio",
        changed(SUBMIT, SUBMIT_WITH + "approval: {mode: countersign, roles: [clerk], quorum: 2, ratio: 0.5}}"),
        "schema.E011", 11, 103, 'transitions[0].approval names "quorum", "ratio", but only one of "quorum", "ratio" may be given',
    ),
    (
        "any_of with quorum",
        changed(SUBMIT, SUBMIT_WITH + "approval: {mode: any_of, roles: [clerk], quorum: 2}}"),
        "schema.E013", 11, 134, 'transitions[0].approval.quorum may not be given when mode is "any_of"',
    ),
    (
        "single with ratio",
        changed(SUBMIT, SUBMIT_WITH + "approval: {mode: single, roles: [clerk], ratio: 0.5}}"),
        "schema.E013", 11, 134, 'transitions[0].approval.ratio may not be given when mode is "single"',
    ),
    (
        "single with levels",
        changed(SUBMIT, SUBMIT_WITH + "approval: {mode: single, roles: [clerk], levels: [{name: a, label: {zh-CN: 甲, en: A}, roles: [clerk]}]}}"),
        "schema.E013", 11, 134, 'transitions[0].approval.levels may not be given when mode is "single"',
    ),
    (
        "levels with roles",
        changed("mode: levels\n", "mode: levels\n      roles: [manager]\n"),
        "schema.E013", 21, 7, 'transitions[4].approval.roles may not be given when mode is "levels"',
    ),
    (
        "misspelt mode",
        changed("mode: levels\n", "mode: level\n"),
        "schema.E004", 20, 13, 'transitions[4].approval.mode must be one of "single", "any_of", "countersign", "levels", found "level"',
    ),
    (
        "approval without mode",
        changed("      mode: levels\n", ""),
        "schema.E003", 20, 7, 'transitions[4].approval is missing the required key "mode"',
    ),
    (
        "unknown role of a level",
        changed("roles: [buyer]}", "roles: [byer]}"),
        "ref.E003", 23, 70, 'transitions[4].approval.levels[1].roles[0] names the role "byer", which is not declared',
    ),
    (
        "guard names an unknown field",
        changed("from: draft, to: review, roles: [clerk]}", "from: draft, to: review, roles: [clerk], guard: 'prise > 0'}"),
        "expr.E002", 11, 101, 'the expression names "prise", which is neither a field of item nor a variable',
    ),
    (
        "routing input names an unknown field of a referenced entity",
        changed("grade: supplier.rating}", "grade: supplier.ratng}"),
        "expr.E005", 26, 40, 'the expression names "ratng", which the entity supplier does not have',
    ),
]


@pytest.mark.parametrize(("case", "flow", "code", "line", "column", "message"), CASES, ids=[case[0] for case in CASES])
def test_flow_error(check: CheckFiles, case: str, flow: str, code: str, line: int, column: int, message: str) -> None:
    result = check(app(flow))

    assert [item.code for item in result.errors] == [code]
    diagnostic = result.errors[0]
    assert diagnostic.file.endswith(FLOW)
    assert (diagnostic.line, diagnostic.column) == (line, column)
    assert diagnostic.message("en") == message
    assert diagnostic.hint("en")
    assert diagnostic.message("zh-CN") != diagnostic.message("en")


ON_HOLD = "  - {name: on_hold, label: {zh-CN: 暂停, en: On hold}}\n"
HOLD = "  - {name: hold, label: {zh-CN: 暂停, en: Hold}, from: review, to: on_hold, roles: [manager]}\n"

# (case, flow YAML, permissions YAML, code, line, column, English message)
WARNING_CASES: list[tuple[str, str, str, str, int, int, str]] = [
    (
        "unreachable state",
        changed("transitions:\n", "  - {name: archived, label: {zh-CN: 已归档, en: Archived}, final: true}\ntransitions:\n"), ACCESS,
        "flow.W001", 10, 12, 'no path of transitions leads from the initial state draft to the state "archived"',
    ),
    (
        "state without a way out",
        changed("transitions:\n", ON_HOLD + "transitions:\n" + HOLD), changed("[approve, send_back, reject]", "[approve, send_back, reject, hold]", ACCESS),
        "flow.W002", 10, 12, 'no transition leaves the state "on_hold", which is not final, so records that reach it stay there',
    ),
    (
        "transition nobody is granted",
        ITEM_FLOW, changed("update, submit, withdraw", "update, withdraw", ACCESS),
        "flow.W003", 11, 12, 'no role is granted the action "submit" on item, so nobody can fire this transition',
    ),
    (
        "transition role without the grant",
        changed("roles: [clerk]}", "roles: [clerk, buyer]}"), ACCESS,
        "flow.W004", 11, 92, 'transitions[0].roles[1] names the role "buyer", which is not granted the action submit on item, directly or through inherits',
    ),
    (
        "level role without the grant",
        ITEM_FLOW, changed("{role: buyer, entity: item, actions: [read, approve]}", "{role: buyer, entity: item, actions: [read]}", ACCESS),
        "flow.W004", 23, 70, 'transitions[4].approval.levels[1].roles[0] names the role "buyer", which is not granted the action approve on item, directly or through inherits',
    ),
    (
        "reminder as long as the working days",
        changed(SUBMIT, SUBMIT_WITH + "sla: {working_days: 1, remind_before_hours: 24}}"), ACCESS,
        "flow.W006", 11, 137,
        'the SLA of "submit" reminds 24 hours before it runs out, but working_days: 1 can last as little as 24 hours, '
        "so the reminder may be sent as soon as the step starts",
    ),
    (
        "return to a later state",
        changed("from: review, to: draft, kind: return", "from: draft, to: review, kind: return"), ACCESS,
        "flow.W005", 13, 75, 'the transition "send_back" returns to review, which does not come before draft in the flow',
    ),
]


@pytest.mark.parametrize(
    ("case", "flow", "access", "code", "line", "column", "message"), WARNING_CASES, ids=[case[0] for case in WARNING_CASES]
)
def test_flow_warning(
    check: CheckFiles, case: str, flow: str, access: str, code: str, line: int, column: int, message: str
) -> None:
    result = check(app(flow, access))

    assert result.model is not None
    assert [item.code for item in result.diagnostics] == [code]
    diagnostic = result.diagnostics[0]
    assert diagnostic.file.endswith(FLOW)
    assert (diagnostic.line, diagnostic.column) == (line, column)
    assert diagnostic.message("en") == message
    assert diagnostic.hint("en")
    assert diagnostic.message("zh-CN") != diagnostic.message("en")


def routing_rules(rules: list[str]) -> str:
    """Return the flow with its routing rules replaced by the given `when` mappings, each routed to branch."""
    head = ITEM_FLOW[: ITEM_FLOW.index("        rules:\n") + len("        rules:\n")]
    return head + "".join(f"          - when: {when}\n            levels: [branch]\n" for when in rules)


def test_gap_and_overlap_in_chinese(check: CheckFiles) -> None:
    flow = routing_rules(["{amount: {max: 100}}", "{amount: {min: 100, max: 200}}", "{amount: {above: 300}}"])

    result = check(app(flow))

    assert [(item.code, item.line) for item in result.errors] == [("routing.E001", 27), ("routing.E002", 30)]
    gap, overlap = result.errors
    assert gap.message("zh-CN") == "路由表中没有规则匹配 amount 在 (200, 300] 内"
    assert overlap.message("zh-CN") == "路由表的规则 rules[0]（第 28 行）、rules[1]（第 30 行） 同时匹配 amount = 100"
    assert overlap.message("en") == "rules[0] (line 28), rules[1] (line 30) of the routing table all match amount = 100"


def test_many_gaps_are_counted_not_listed(check: CheckFiles) -> None:
    flow = routing_rules([f"{{amount: {{min: {2 * step}, max: {2 * step + 1}}}}}" for step in range(12)] + ["{amount: {min: 24}}"])

    result = check(app(flow))

    assert [item.code for item in result.errors] == ["routing.E001"] * 10
    assert result.errors[0].message("en") == "no rule of the routing table matches amount in (1, 2)"
    assert result.errors[-1].message("en") == "no rule of the routing table matches amount in (19, 20) (and 2 more not listed)"
    assert result.errors[-1].message("zh-CN") == "路由表中没有规则匹配 amount 在 (19, 20) 内（另有 2 处未列出）"


def test_money_cents_leave_no_gap(check: CheckFiles) -> None:
    flow = routing_rules(["{amount: {max: 150000}}", "{amount: {min: 150000.01}}"])

    assert check(app(flow)).diagnostics == []


def test_too_many_cells_is_a_warning(check: CheckFiles) -> None:
    rules = [f"{{amount: {{min: {10 * step}, below: {10 * step + 10}}}, name: [v{step}]}}" for step in range(300)]
    flow = routing_rules(rules).replace("inputs: {amount: price,", "inputs: {name: title, amount: price,")

    result = check(app(flow))

    assert result.model is not None
    assert [item.code for item in result.diagnostics] == ["routing.W001"]
    warning = result.diagnostics[0]
    assert (warning.line, warning.column) == (25, 7)
    assert warning.message("en") == (
        'the inputs of the routing table combine into 181202 cells, more than 100000, so its coverage was not checked'
    )


def test_inherited_grant_counts(check: CheckFiles) -> None:
    flow = changed("roles: [clerk]}", "roles: [manager]}")

    assert check(app(flow)).diagnostics == []


def test_automatic_transition_needs_no_grant(check: CheckFiles) -> None:
    automatic = "  - {name: approve_small, label: {zh-CN: 自动批准, en: Approve small}, from: review, to: approved, automatic: true, guard: 'price < 10'}\n"
    flow = changed("transitions:\n", "transitions:\n" + automatic)

    assert check(app(flow)).diagnostics == []


def test_grants_are_not_checked_without_any_grant(check: CheckFiles) -> None:
    roles_only = ACCESS[: ACCESS.index("grants:")]

    assert check(app(ITEM_FLOW, roles_only)).diagnostics == []


def test_flow_without_transitions_skips_graph(check: CheckFiles) -> None:
    states_only = ITEM_FLOW[: ITEM_FLOW.index("transitions:")] + "transitions: []\n"
    access = ACCESS.replace(", submit, withdraw", "").replace("{role: manager, entity: item, actions: [approve, send_back, reject]}", "{role: manager, entity: item, actions: [read]}")
    access = access.replace("[read, approve]", "[read]")

    assert check(app(states_only, access)).diagnostics == []


def test_unknown_state_stops_the_graph_checks(check: CheckFiles) -> None:
    # With submit leading nowhere, review would look unreachable; only the misspelt state is reported.
    result = check(app(changed("from: draft, to: review,", "from: draft, to: reviw,")))

    assert [item.code for item in result.diagnostics] == ["ref.E004"]


def test_return_through_a_longer_path_is_earlier(check: CheckFiles) -> None:
    # A second review step: a return from it to the first review goes back along submit → review → check.
    check_state = "  - {name: checking, label: {zh-CN: 复核, en: Checking}}\n"
    recheck = (
        "  - {name: recheck, label: {zh-CN: 复核, en: Recheck}, from: review, to: checking, roles: [manager]}\n"
        "  - {name: redo, label: {zh-CN: 重审, en: Redo}, from: checking, to: review, kind: return, roles: [manager]}\n"
        "  - {name: finish, label: {zh-CN: 完成, en: Finish}, from: checking, to: approved, roles: [manager]}\n"
    )
    flow = changed("transitions:\n", check_state + "transitions:\n" + recheck)
    access = changed("[approve, send_back, reject]", "[approve, send_back, reject, recheck, redo, finish]", ACCESS)

    assert check(app(flow, access)).diagnostics == []


def test_positions_skip_a_repeated_transition(check: CheckFiles) -> None:
    # The second "submit" is dropped from the model, so the transition after it is the YAML's third item.
    repeated = "  - {name: submit, label: {zh-CN: 提交, en: Submit}, from: draft, to: review}\n"
    flow = changed("  - {name: withdraw,", repeated + "  - {name: withdraw,").replace("kind: return, roles: [manager]}", "kind: return, roles: [manger]}")

    result = check(app(flow))

    assert [(item.code, item.path) for item in result.errors] == [
        ("name.E003", ("transitions", 1, "name")),
        ("ref.E003", ("transitions", 3, "roles", 0)),
    ]


def test_schema_messages_in_chinese(check: CheckFiles) -> None:
    forbidden = check(app(changed(SUBMIT, SUBMIT_WITH + "approval: {mode: any_of, roles: [clerk], quorum: 2}}"))).errors
    exclusive = check(app(changed("roles: [director], quorum: 2}", "roles: [director], quorum: 2, all: true}"))).errors

    assert [item.code for item in forbidden + exclusive] == ["schema.E013", "schema.E011"]
    assert forbidden[0].message("zh-CN") == 'mode 为 "any_of" 时不能填写 transitions[0].approval.quorum'
    assert forbidden[0].hint("zh-CN") == "请删除它；如果 mode 的值有误，请改正：mode 决定可以填写哪些键。"
    assert forbidden[0].hint("en") == "Remove it, or correct mode if its value is wrong: mode decides which keys apply."
    assert exclusive[0].message("zh-CN") == (
        'transitions[4].approval.levels[2] 同时给出了 "all", "quorum"，但 "all", "quorum", "ratio" 只能选一个'
    )


def test_sla_messages_in_chinese(check: CheckFiles) -> None:
    hours = check(app(changed(SUBMIT, SUBMIT_WITH + "sla: {hours: 4, remind_before_hours: 6}}"))).diagnostics
    days = check(app(changed(SUBMIT, SUBMIT_WITH + "sla: {working_days: 2, remind_before_hours: 48}}"))).diagnostics

    assert [item.code for item in hours + days] == ["flow.E009", "flow.W006"]
    assert hours[0].message("zh-CN") == '流转 "submit" 的时限在到期前 6 小时提醒，但时限只有 4 小时，提醒会在进入该步骤时立即发出'
    assert hours[0].hint("en") == "Make remind_before_hours smaller than hours (4), or remove it."
    assert days[0].message("zh-CN") == '流转 "submit" 的时限在到期前 48 小时提醒，但 2 个工作日最短只有 48 小时，提醒可能在进入该步骤时立即发出'


def test_reminder_within_the_sla_is_accepted(check: CheckFiles) -> None:
    hours = changed(SUBMIT, SUBMIT_WITH + "sla: {hours: 4, remind_before_hours: 3.5}}")
    days = changed(SUBMIT, SUBMIT_WITH + "sla: {working_days: 2, remind_before_hours: 47}}")

    assert check(app(hours)).diagnostics == []
    assert check(app(days)).diagnostics == []


def test_escalation_and_expiry_together_are_accepted(check: CheckFiles) -> None:
    # When the time runs out the sweep notifies the escalation role and then fires the expiry transition, so both act.
    flow = changed("    to: approved\n", "    to: approved\n    sla: {hours: 4, escalate_to: manager, on_expiry: reject}\n")

    result = check(app(flow))

    assert result.diagnostics == []
    assert result.model is not None
    sla = result.model.flows["item_flow"].transitions["approve"].sla
    assert sla is not None
    assert (sla.escalate_to, sla.on_expiry) == ("manager", "reject")


# (case, entity files changed, line, column, English message)
EMPTY_INPUT_CASES: list[tuple[str, dict[str, str], int, int, str]] = [
    (
        "price not required",
        {"entities/item.yaml": changed("min: 0, required: true}", "min: 0}", ITEM)},
        26, 18, 'item.price is not required, so the routing input "amount" may be empty, and no rule matches a record whose "amount" is empty',
    ),
    (
        "reference not required",
        {"entities/item.yaml": changed("en: Supplier}, required: true}", "en: Supplier}}", ITEM)},
        26, 33,
        'item.supplier is not required, so the routing input "grade" may be empty, and no rule matches a record whose "grade" is empty '
        "when amount in (150000, 300000]",
    ),
    (
        "referenced field not required",
        {"entities/supplier.yaml": changed("    required: true\n", "", SUPPLIER)},
        26, 33,
        'supplier.rating is not required, so the routing input "grade" may be empty, and no rule matches a record whose "grade" is empty '
        "when amount in (150000, 300000]",
    ),
]


@pytest.mark.parametrize(("case", "files", "line", "column", "message"), EMPTY_INPUT_CASES, ids=[case[0] for case in EMPTY_INPUT_CASES])
def test_routing_input_may_be_empty(check: CheckFiles, case: str, files: dict[str, str], line: int, column: int, message: str) -> None:
    result = check({**app(), **files})

    assert result.model is not None
    assert [item.code for item in result.diagnostics] == ["routing.W002"]
    warning = result.diagnostics[0]
    assert warning.file.endswith(FLOW)
    assert (warning.line, warning.column) == (line, column)
    assert warning.message("en") == message
    assert warning.hint("en").startswith("Such a record cannot be approved.")


def test_empty_input_warning_in_chinese(check: CheckFiles) -> None:
    result = check({**app(), "entities/supplier.yaml": changed("    required: true\n", "", SUPPLIER)})

    assert [item.code for item in result.diagnostics] == ["routing.W002"]
    assert result.diagnostics[0].message("zh-CN") == (
        'supplier.rating 不是必填字段，路由输入 "grade" 可能为空，而没有规则匹配 "grade" 为空且 amount 在 (150000, 300000] 内的记录'
    )


def test_empty_input_not_checked_with_gaps(check: CheckFiles) -> None:
    # The table's own gap is the error to fix first, so an empty grade is not reported on top of it.
    flow = changed("grade: [C, D]}", "grade: [D]}")

    result = check({**app(flow), "entities/supplier.yaml": changed("    required: true\n", "", SUPPLIER)})

    assert [item.code for item in result.diagnostics] == ["routing.E001"]


def test_empty_input_of_an_expression_is_not_checked(check: CheckFiles) -> None:
    # Whether an expression other than a field path can be empty is not known, so it gets no warning.
    flow = changed("inputs: {amount: price,", "inputs: {amount: price * 1,")

    result = check({**app(flow), "entities/item.yaml": changed("min: 0, required: true}", "min: 0}", ITEM)})

    assert result.diagnostics == []

