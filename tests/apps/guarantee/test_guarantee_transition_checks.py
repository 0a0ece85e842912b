"""What stops a transition of a loan application, in the words users read: unticked checks and guards."""

from __future__ import annotations

import pytest

from runtime.errors import ValidationFailed

from guarantee_world import World


def test_credit_review_passes_only_after_the_home_visit(world: World) -> None:
    record = world.application(world.product())
    for transition, user in (("submit", "dealer"), ("forward", "dealer"), ("start_credit_review", "credit")):
        record = world.fire(record, transition, user)

    with pytest.raises(ValidationFailed) as refused:
        world.fire(record, "credit_approve", "credit")
    [error] = refused.value.errors["home_visit_done"]
    assert error.message_zh == "执行“信审通过”前“已下户调查”须为“是”；该项由系统根据其他记录得出，详见其说明"
    assert error.message_en == ("“Home visit done” must be yes before “Pass credit review”; it follows from other records, "
                                "as its help explains")

    passed = world.fire(world.home_visit(record), "credit_approve", "credit")
    assert passed["state"] == "risk_review"


def test_guard_explains_itself(world: World) -> None:
    record = world.application(world.product(), loan_amount="100000")
    for transition, user in (("submit", "dealer"), ("forward", "dealer"), ("start_credit_review", "credit")):
        record = world.fire(record, transition, user)
    record = world.fire(world.home_visit(record), "credit_approve", "credit")

    with pytest.raises(ValidationFailed) as refused:
        world.fire(record, "refer_to_committee", "risk")
    [error] = refused.value.errors["state"]
    assert error.message_zh == "不能执行“提交贷审会”：贷款金额不超过 20 万元的申请由风控直接审批，无需提交贷审会"
    assert error.message_en == "“Refer to committee” is not possible: loans of 200,000 or less are approved by risk review without the committee"
    assert "loan_amount" not in error.message_zh
