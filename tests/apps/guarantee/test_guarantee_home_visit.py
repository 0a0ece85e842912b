"""Passing credit review needs the home visit ticked: a required yes/no field counts only when it is yes."""

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
    assert error.message_zh == "执行“信审通过”前需勾选“已下户调查”"
    assert error.message_en == "“Home visit done” must be ticked before “Pass credit review”"

    with pytest.raises(ValidationFailed):
        world.fire(record, "credit_approve", "credit", values={"home_visit_done": False})
    passed = world.fire(world.read(record), "credit_approve", "credit", values={"home_visit_done": True})
    assert passed["state"] == "risk_review"
