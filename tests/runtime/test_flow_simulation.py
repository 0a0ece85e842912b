"""Flow simulation without a database: every reason a transition is closed, or what an open one needs.

The expense flows of tests/apps/approvals cover the approval modes, automatic transitions,
withdrawals and returns. The loan flows of configs/guarantee cover required fields and
documents, guards over referenced records, computed fields and data scopes by org unit.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from metamodel import load_app
from metamodel.model import AppModel
from runtime.flow_simulation import Simulation, SimulationError, TransitionCheck, simulate
from runtime.simulated_access import outside_scope
from runtime.simulated_record import GivenRecord, prepare_record
from tests.conftest import REPOSITORY


@pytest.fixture(scope="module")
def expenses() -> AppModel:
    return load_app(REPOSITORY / "tests" / "apps" / "approvals")


@pytest.fixture(scope="module")
def loans() -> AppModel:
    return load_app(REPOSITORY / "configs" / "guarantee")


def expense(state: str, **values: Any) -> dict[str, Any]:
    return {"title": "Taxi", "amount": "5000", "procedure": "levels", "state": state, **values}


def loan(state: str, **values: Any) -> dict[str, Any]:
    """A loan in the standard flow at `state`, by a customer not blacklisted, for 150,000 of a 200,000 car."""
    record: dict[str, Any] = {
        "state": state, "customer": {"blacklisted": False}, "dealer": {"rating": "A", "cooperation_status": "active"},
        "product": {"flow": "standard"}, "vehicle": "V1", "vehicle_price": "200000", "down_payment": "50000",
        "loan_amount": "150000", "term_months": 36, "documents": ["id_card.pdf"],
    }
    record.update(values)
    return record


def check(simulation: Simulation, name: str) -> TransitionCheck:
    return next(item for item in simulation.transitions if item.transition.name == name)


def kinds(item: TransitionCheck, *, blocking: bool = True) -> list[str]:
    return [reason.kind for reason in item.reasons if reason.blocking == blocking]


# Open transitions and the state ---------------------------------------------------------------


def test_open_transition_has_no_reason(expenses: AppModel) -> None:
    simulation = simulate(expenses, "expense_levels", expense("draft"), "clerk")

    assert [item.transition.name for item in simulation.open] == ["submit"]
    assert check(simulation, "submit").reasons == ()
    assert simulation.unit == "company"


def test_other_state_closes_transition(expenses: AppModel) -> None:
    simulation = simulate(expenses, "expense_levels", expense("draft"), "clerk")
    approve = check(simulation, "approve")

    assert not approve.open
    assert kinds(approve) == ["state"]
    assert approve.reasons[0].en == "not from “Draft”: it goes from “In review”"
    assert approve.reasons[0].zh == "不能在“草稿”状态执行：该流转从“审批中”出发"


# Automatic transitions ------------------------------------------------------------------------


def test_automatic_transition_waits_for_guard(expenses: AppModel) -> None:
    simulation = simulate(expenses, "expense_levels", expense("review", flagged=False), "manager")
    automatic = check(simulation, "auto_reject")

    assert not automatic.open
    assert kinds(automatic) == ["automatic"]
    assert automatic.fires_by_itself is False
    assert "its guard flagged does not hold now (flagged = false), so it does not fire now" in automatic.reasons[0].en
    assert "其条件 flagged 当前不成立（flagged = false）" in automatic.reasons[0].zh
    assert simulation.notes == ()


def test_automatic_transition_would_fire(expenses: AppModel) -> None:
    simulation = simulate(expenses, "expense_levels", expense("review", flagged=True), "manager")
    automatic = check(simulation, "auto_reject")

    assert automatic.fires_by_itself is True
    assert "so it would fire by itself now and move the record to “Rejected”" in automatic.reasons[0].en
    assert [note.kind for note in simulation.notes] == ["automatic"]
    assert "auto_reject would fire by itself now" in simulation.notes[0].en


# Grants and data scopes -----------------------------------------------------------------------


def test_missing_grant_names_action(expenses: AppModel) -> None:
    withdraw = check(simulate(expenses, "expense_levels", expense("review"), "manager"), "withdraw")

    assert kinds(withdraw) == ["grant"]
    assert withdraw.reasons[0].en == ("the role manager (“Manager”) is not granted the action withdraw (“Withdraw”) on Expense claim, "
                                      "directly or through a role it inherits")
    assert withdraw.reasons[0].zh == "角色 manager（“经理”）及其继承的角色都没有费用申请的“撤回”（withdraw）操作授权"


def test_inherited_role_holds_grant(expenses: AppModel) -> None:
    simulation = simulate(expenses, "expense_all", expense("review", procedure="all"), "chair")

    assert check(simulation, "approve").open
    assert check(simulation, "reject").open


def test_unit_scope_follows_record_unit(expenses: AppModel) -> None:
    inside = simulate(expenses, "expense_levels", expense("draft", org_unit="east"), "clerk", "east")
    outside = simulate(expenses, "expense_levels", expense("draft", org_unit="west"), "clerk", "east")

    assert check(inside, "submit").open
    submit = check(outside, "submit")
    assert kinds(submit) == ["scope"]
    assert submit.reasons[0].en == ("the record lies outside the data scope of clerk for submit: "
                                    "scope unit (clerk): the record belongs to west, the role is held in east")


def test_record_defaults_to_role_unit(expenses: AppModel) -> None:
    simulation = simulate(expenses, "expense_levels", expense("draft"), "clerk", "west")

    assert check(simulation, "submit").open


def test_unit_and_below_scope(loans: AppModel) -> None:
    below = simulate(loans, "loan_standard", loan("credit_review", org_unit="beijing_credit"), "credit_officer", "beijing_branch")
    elsewhere = simulate(loans, "loan_standard", loan("credit_review", org_unit="shanghai_credit"), "credit_officer", "beijing_branch")

    assert check(below, "return_to_dealer").open
    closed = check(elsewhere, "return_to_dealer")
    assert kinds(closed) == ["scope"]
    assert "shanghai_credit is not beijing_branch or a unit below it" in closed.reasons[0].en
    assert "shanghai_credit 不是 beijing_branch 或其下级机构" in closed.reasons[0].zh


def test_filter_scope_evaluated_on_values(loans: AppModel) -> None:
    grant = next(grant for grant in loans.permissions.grants if grant.role == "collector" and grant.entity == "loan_application")
    names = {"state": "repaying", "org_unit": "beijing_post_loan", "user": type("User", (), {"org_units": ["beijing_post_loan"]})()}

    assert outside_scope(loans, grant, "beijing_post_loan", names, names) is None
    names["state"] = "disbursed"
    reason = outside_scope(loans, grant, "beijing_post_loan", names, names)
    assert reason is not None
    assert reason[0] == "filter (collector) does not hold: state == 'repaying' and org_unit in user.org_units"


def test_own_scope_needs_simulated_creator(expenses: AppModel) -> None:
    grant = expenses.permissions.grants[0]
    own = type(grant)(grant.role, grant.entity, grant.actions, "own")

    assert outside_scope(expenses, own, "east", {"created_by": "simulated"}, {}) is None
    reason = outside_scope(expenses, own, "east", {"created_by": "wang"}, {})
    assert reason is not None
    assert "the record was created by wang, not by the simulated user" in reason[0]


# Required fields, guards, comments ------------------------------------------------------------


def test_missing_required_fields_named(loans: AppModel) -> None:
    record = {"state": "draft", "customer": {"blacklisted": False}, "loan_amount": "150000", "product": {"flow": "standard"}}
    submit = check(simulate(loans, "loan_standard", record, "dealer_staff"), "submit")

    assert kinds(submit) == ["required"]
    assert submit.reasons[0].en == ("missing before “Submit”: Dealer (dealer), Vehicle (vehicle), Vehicle price (CNY) (vehicle_price), "
                                    "Down payment (CNY) (down_payment), Term (months) (term_months)")
    assert submit.reasons[0].zh.startswith("执行“提交申请”前需填写：经销商（dealer）、车辆（vehicle）")


def test_complete_record_lists_hooks(loans: AppModel) -> None:
    submit = check(simulate(loans, "loan_standard", loan("draft"), "dealer_staff"), "submit")

    assert submit.open
    assert kinds(submit, blocking=False) == ["hooks"]
    assert ("guarantee.check_documents, guarantee.check_vehicle, guarantee.check_consent, guarantee.assign_application_no, guarantee.compute_repayment"
            in submit.reasons[0].en)


def test_guard_shows_values_it_reads(loans: AppModel) -> None:
    simulation = simulate(loans, "loan_standard", loan("risk_review", loan_amount="250000"), "risk_officer")
    approve = check(simulation, "risk_approve")

    assert check(simulation, "refer_to_committee").open
    assert kinds(approve) == ["guard"]
    assert approve.guard is not None
    assert approve.guard.values == (("loan_amount", Decimal("250000.00")), ("customer.blacklisted", False))
    assert approve.reasons[0].en == ("the guard does not hold: loan_amount <= 200000 and not customer.blacklisted, "
                                     "with loan_amount = 250000, customer.blacklisted = false")
    assert approve.reasons[0].zh == ("条件不满足：loan_amount <= 200000 and not customer.blacklisted，"
                                     "其中 loan_amount = 250000，customer.blacklisted = false")


def test_guard_over_missing_reference_fails(loans: AppModel) -> None:
    advance = check(simulate(loans, "loan_standard", loan("card_issued", advance_amount="100000", advance_date="2026-01-05",
                                                           dealer="D1"), "finance"), "advance")

    assert kinds(advance) == ["guard"]
    assert "dealer.cooperation_status = (empty)" in advance.reasons[0].en


def test_comment_required_on_open_transition(expenses: AppModel) -> None:
    send_back = check(simulate(expenses, "expense_levels", expense("review"), "manager"), "send_back")

    assert send_back.open
    assert kinds(send_back, blocking=False) == ["comment", "return"]
    assert send_back.reasons[0].en == "a comment is required"
    assert send_back.reasons[0].zh == "须填写审批意见"
    assert "only if the record has been there before" in send_back.reasons[1].en


def test_withdrawal_conditions_listed(expenses: AppModel) -> None:
    withdraw = check(simulate(expenses, "expense_levels", expense("review"), "clerk"), "withdraw")

    assert withdraw.open
    assert kinds(withdraw, blocking=False) == ["withdraw"]
    assert "only whoever moved the record into “In review” may withdraw it" in withdraw.reasons[0].en


# Approvals ------------------------------------------------------------------------------------


def test_routing_rule_chooses_levels(expenses: AppModel) -> None:
    simulation = simulate(expenses, "expense_levels", expense("review", amount="20000", grade="B"), "manager")
    approve = check(simulation, "approve")

    assert approve.open
    assert approve.approval is not None
    assert approve.approval.rule == 2
    assert [level.name for level in approve.approval.levels] == ["manager", "director", "committee"]
    assert approve.approval.may_sign_first
    assert kinds(approve, blocking=False) == ["approval"]
    assert approve.reasons[0].en == (
        "approval (sequential levels): the levels that apply by routing rule 3 (amount in (10000, 50000] and grade in [B]; "
        "amount = 20000, grade = 'B') are Manager (1 signature(s)) → Director (1 signature(s)) → Committee (2 signature(s)); "
        "manager may sign the first level, “Manager”")


def test_role_not_signing_first_level(expenses: AppModel) -> None:
    approve = check(simulate(expenses, "expense_levels", expense("review", amount="20000", grade="A"), "director"), "approve")

    assert not approve.open
    assert approve.approval is not None
    assert [level.name for level in approve.approval.levels] == ["manager", "director"]
    assert kinds(approve) == ["approval"]
    assert approve.reasons[0].en.endswith("director may not sign the first level, “Manager”: "
                                          "that needs the role manager or a role inheriting it")
    assert approve.reasons[0].zh.endswith("director 不能签署第一级“经理审批”：需要角色 manager 或继承它的角色")


def test_no_routing_rule_matches(expenses: AppModel) -> None:
    record = expense("review")
    del record["amount"]
    approve = check(simulate(expenses, "expense_levels", record, "manager"), "approve")

    assert kinds(approve) == ["approval"]
    assert approve.reasons[0].en == ("approval (sequential levels): no rule of the routing table matches the record "
                                     "(amount = (empty), grade = 'A')")


def test_countersign_with_comment(loans: AppModel) -> None:
    record = loan("committee_review", loan_amount="250000")
    committee = check(simulate(loans, "loan_standard", record, "committee_member"), "committee_approve")

    assert committee.open
    assert kinds(committee, blocking=False) == ["approval", "comment"]
    assert committee.reasons[0].en == ("approval (countersign): 2 signature(s) from the roles committee_member; "
                                       "committee_member may sign it")
    assert committee.reasons[0].zh == "审批（会签）：需角色 committee_member 中 2 人签署；committee_member 可以签署该审批"


def test_guard_and_approval_both_listed(loans: AppModel) -> None:
    record = loan("committee_review", loan_amount="250000", customer={"blacklisted": True})
    committee = check(simulate(loans, "loan_standard", record, "committee_member"), "committee_approve")

    assert not committee.open
    assert kinds(committee) == ["guard"]
    assert kinds(committee, blocking=False) == ["approval"]


# Record values --------------------------------------------------------------------------------


def test_strategy_decision_feeds_automatic_guard(loans: AppModel) -> None:
    record = loan("received", product={"flow": "fast_track"}, loan_amount="100000", scorecard_score=700, risk_level="low",
                  strategy_decision="approve")
    simulation = simulate(loans, "loan_fast_track", record, "risk_officer")
    approve = check(simulation, "auto_approve")

    assert approve.fires_by_itself is True
    assert approve.guard is not None
    assert ("strategy_decision", "approve") in approve.guard.values
    assert check(simulation, "auto_reject").fires_by_itself is False


def test_values_normalized_by_field_type(loans: AppModel) -> None:
    entity = loans.entities["loan_application"]
    values, problems = prepare_record(loans, entity, {"advance_date": "2026-01-05", "loan_amount": "1,500.5", "customer": 12})

    assert problems == []
    assert values["advance_date"] == datetime.date(2026, 1, 5)
    assert values["loan_amount"] == Decimal("1500.50")
    assert isinstance(values["customer"], GivenRecord)
    assert values["customer"].blacklisted is None
    assert values["home_visit_done"] is False


def test_flow_condition_note(loans: AppModel) -> None:
    record = loan("draft")
    del record["product"]
    simulation = simulate(loans, "loan_standard", record, "dealer_staff")

    assert [note.kind for note in simulation.notes] == ["applies_when"]
    assert simulation.notes[0].en.startswith("the flow's condition product.flow == 'standard' does not hold for this record "
                                             "(product.flow = (empty))")
    assert simulate(loans, "loan_standard", loan("draft"), "dealer_staff").notes == ()


# Errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("flow", "role", "unit", "english", "chinese"), [
    ("nope", "clerk", None, "unknown flow 'nope'; use one of: expense_all, expense_levels", "未知的流程 'nope'；请使用："),
    ("expense_levels", "boss", None, "unknown role 'boss'; use one of: clerk, manager", "未知的角色 'boss'；请使用："),
    ("expense_levels", "clerk", "north", "unknown org unit 'north'; use one of: company, east, west", "未知的组织机构 'north'；请使用："),
])
def test_unknown_names_rejected(expenses: AppModel, flow: str, role: str, unit: str | None, english: str, chinese: str) -> None:
    with pytest.raises(SimulationError) as raised:
        simulate(expenses, flow, expense("draft"), role, unit)

    [problem] = raised.value.problems
    assert problem.path is None
    assert problem.en.startswith(english)
    assert problem.zh.startswith(chinese)


def test_record_problems_listed_together(expenses: AppModel) -> None:
    record = {"state": "nope", "amont": 1, "amount": "abc", "org_unit": "north"}
    with pytest.raises(SimulationError) as raised:
        simulate(expenses, "expense_levels", record, "clerk")

    problems = {problem.path: problem for problem in raised.value.problems}
    assert set(problems) == {("state",), ("amont",), ("amount",), ("org_unit",)}
    assert problems[("state",)].en == "state: flow expense_levels has no state 'nope'; use one of: draft, review, approved, rejected"
    assert problems[("amont",)].en == "amont: Expense claim has no field 'amont'; did you mean 'amount'?"
    assert problems[("amont",)].at_key
    assert problems[("amount",)].zh.startswith("amount（金额）：")
    assert problems[("org_unit",)].en.startswith("org_unit: unknown org unit 'north'")


def test_missing_state_rejected(expenses: AppModel) -> None:
    record = expense("draft")
    del record["state"]
    with pytest.raises(SimulationError) as raised:
        simulate(expenses, "expense_levels", record, "clerk")

    [problem] = raised.value.problems
    assert problem.path == ()
    assert problem.en == "the record gives no state; add `state:` with one of: draft, review, approved, rejected"


def test_nested_reference_problem_located(loans: AppModel) -> None:
    with pytest.raises(SimulationError) as raised:
        simulate(loans, "loan_standard", loan("draft", customer={"blacklistd": True}), "dealer_staff")

    [problem] = raised.value.problems
    assert problem.path == ("customer", "blacklistd")
    assert problem.en == "customer.blacklistd: Customer has no field 'blacklistd'; did you mean 'blacklisted'?"
