"""Delegation input checks in the runtime: dates, overlaps, the reason's length and role labels, on the expense app.

Today is 2026-12-02 in the app's time zone (Asia/Shanghai) unless a test moves the clock.
"""

from __future__ import annotations

import datetime
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from runtime.access import SYSTEM_ACTOR
from runtime.delegations import MAX_DELEGATION_YEARS, MAX_REASON_LENGTH, Delegations, years_later
from runtime.errors import ValidationFailed
from runtime.permission_admin import PermissionAdmin
from tests.runtime.test_approvals import START, Office

Day = datetime.date


@pytest.fixture
def office(engine: Engine, tmp_path: Path) -> Office:
    return Office(engine, tmp_path)


def rejected(office: Office, user: str, *args: Any, **options: Any) -> dict[str, list[tuple[str, str, str]]]:
    """Create a delegation that must fail; return each field's (code, zh-CN message, English message)."""
    with pytest.raises(ValidationFailed) as failure:
        Delegations(office.records).create(office.actor(user), user, *args, **options)
    return {path: [(item.code, item.message("zh-CN"), item.message("en")) for item in items]
            for path, items in failure.value.errors.items()}


def stored(office: Office) -> tuple[int, int]:
    """Return how many delegations and delegation audit entries the database holds."""
    table = office.schema.flows.delegations
    audit = office.schema.audit
    with office.engine.connect() as connection:
        rows = connection.scalar(select(func.count()).select_from(table))
        entries = connection.scalar(select(func.count()).select_from(audit).where(audit.c.entity == "delegation"))
    return int(rows or 0), int(entries or 0)


def test_limits_are_named_constants() -> None:
    assert MAX_DELEGATION_YEARS == 1
    assert MAX_REASON_LENGTH == 500


# Dates -----------------------------------------------------------------------------------


def test_end_before_today_rejected(office: Office) -> None:
    errors = rejected(office, "m1", "deputy", Day(2026, 11, 20), Day(2026, 12, 1))
    assert errors == {"ends_on": [(
        "past", "结束日期 2026-12-01 已经过去，请选择今天（2026-12-02）或之后的日期。",
        "The last day 2026-12-01 is in the past. Choose today (2026-12-02) or a later day.",
    )]}
    assert stored(office) == (0, 0)


def test_end_today_or_start_in_past_accepted(office: Office) -> None:
    delegations = Delegations(office.records)
    delegations.create(office.actor("m1"), "m1", "deputy", Day(2026, 12, 2), Day(2026, 12, 2))
    delegations.create(office.actor("li"), "li", "deputy", Day(2026, 11, 1), Day(2026, 12, 5))
    assert stored(office) == (2, 2)


def test_today_follows_app_time_zone(office: Office) -> None:
    # 2026-12-02 17:00 UTC is already 2026-12-03 01:00 in Shanghai, so 2026-12-02 has ended there.
    office.clock.now = START + datetime.timedelta(hours=15)
    errors = rejected(office, "m1", "deputy", Day(2026, 12, 1), Day(2026, 12, 2))
    assert [code for code, _, _ in errors["ends_on"]] == ["past"]


def test_inverted_past_range_lists_both(office: Office) -> None:
    errors = rejected(office, "m1", "deputy", Day(2026, 12, 5), Day(2026, 12, 1))
    assert [code for code, _, _ in errors["ends_on"]] == ["past", "range"]


def test_range_of_one_year_accepted(office: Office) -> None:
    Delegations(office.records).create(office.actor("m1"), "m1", "deputy", Day(2026, 12, 2), Day(2027, 12, 1))
    assert stored(office) == (1, 1)


def test_range_longer_than_one_year_rejected(office: Office) -> None:
    errors = rejected(office, "m1", "deputy", Day(2026, 12, 2), Day(2027, 12, 2))
    assert errors == {"ends_on": [(
        "too_long", "委托期限最长 1 年，请选择 2027-12-01 或之前的结束日期。",
        "A delegation lasts at most 1 year. Choose a last day on or before 2027-12-01.",
    )]}
    decades = rejected(office, "m1", "deputy", Day(2026, 12, 2), Day(2060, 1, 1))
    assert [code for code, _, _ in decades["ends_on"]] == ["too_long"]
    assert stored(office) == (0, 0)


def test_first_day_more_than_a_year_ahead_rejected(office: Office) -> None:
    Delegations(office.records).create(office.actor("m1"), "m1", "deputy", Day(2027, 12, 2), Day(2027, 12, 5))
    errors = rejected(office, "m2", "deputy", Day(2027, 12, 3), Day(2027, 12, 5))
    assert errors == {"starts_on": [(
        "too_far", "开始日期 2027-12-03 距今超过 1 年，请选择 2027-12-02 或之前的开始日期。",
        "The first day 2027-12-03 is more than 1 year ahead. Choose a first day on or before 2027-12-02.",
    )]}


def test_year_9999_rejected_without_overflow(office: Office) -> None:
    short = rejected(office, "m1", "deputy", Day(9999, 1, 1), Day(9999, 1, 5))
    assert [code for code, _, _ in short["starts_on"]] == ["too_far"]
    assert "ends_on" not in short
    last = rejected(office, "m1", "deputy", Day(9999, 12, 31), Day(9999, 12, 31))
    assert set(last) == {"starts_on"}
    whole = rejected(office, "m1", "deputy", Day(2026, 12, 2), Day(9999, 12, 31))
    assert [code for code, _, _ in whole["ends_on"]] == ["too_long"]
    assert stored(office) == (0, 0)


def test_years_later_on_leap_day() -> None:
    assert years_later(Day(2028, 2, 29), 1) == Day(2029, 3, 1)
    assert years_later(Day(2028, 2, 29), 4) == Day(2032, 2, 29)
    assert years_later(Day(2026, 12, 2), 1) == Day(2027, 12, 2)
    assert years_later(Day(9999, 6, 1), 1) == Day.max


def test_range_from_leap_day_lasts_to_february_28(office: Office) -> None:
    office.clock.now = datetime.datetime(2028, 2, 29, 2, 0, tzinfo=datetime.timezone.utc)
    Delegations(office.records).create(office.actor("m1"), "m1", "deputy", Day(2028, 2, 29), Day(2029, 2, 28))
    errors = rejected(office, "m2", "deputy", Day(2028, 2, 29), Day(2029, 3, 1))
    assert [message for _, _, message in errors["ends_on"]] == [
        "A delegation lasts at most 1 year. Choose a last day on or before 2029-02-28."]


# Reason ----------------------------------------------------------------------------------


def test_reason_at_limit_accepted(office: Office) -> None:
    # Characters count, not bytes: 500 Chinese characters take 1500 bytes in UTF-8.
    Delegations(office.records).create(office.actor("m1"), "m1", "deputy", Day(2026, 12, 2), Day(2026, 12, 3),
                                       reason="差" * MAX_REASON_LENGTH)
    assert stored(office) == (1, 1)


def test_reason_over_limit_rejected(office: Office) -> None:
    errors = rejected(office, "m1", "deputy", Day(2026, 12, 2), Day(2026, 12, 3), reason="x" * 501)
    assert errors == {"reason": [(
        "too_long", "委托原因有 501 个字符，超过上限 500 个，请缩短。",
        "The reason has 501 characters, more than the maximum of 500. Shorten it.",
    )]}
    assert stored(office) == (0, 0)


# Roles -----------------------------------------------------------------------------------


def test_role_not_held_named_by_label(office: Office) -> None:
    errors = rejected(office, "m1", "deputy", Day(2026, 12, 2), Day(2026, 12, 3), role="manager")
    assert errors == {"role": [(
        "not_held", "m1 没有“经理”角色，请从“委员”中选择。",
        'm1 does not hold the role "Manager". Choose one of: "Committee member".',
    )]}


def test_role_not_held_lists_every_held_label(office: Office) -> None:
    PermissionAdmin(office.records.access.store).assign(SYSTEM_ACTOR, "li", "director", "company")
    errors = rejected(office, "li", "deputy", Day(2026, 12, 2), Day(2026, 12, 3), role="member")
    assert errors["role"] == [(
        "not_held", "li 没有“委员”角色，请从“总监”、“经理”中选择。",
        'li does not hold the role "Committee member". Choose one of: "Director", "Manager".',
    )]


def test_undeclared_role_named_as_given(office: Office) -> None:
    errors = rejected(office, "m1", "deputy", Day(2026, 12, 2), Day(2026, 12, 3), role="auditor")
    assert errors["role"] == [(
        "not_held", "m1 没有“auditor”角色，请从“委员”中选择。",
        'm1 does not hold the role "auditor". Choose one of: "Committee member".',
    )]


def test_role_rejected_for_user_without_roles(office: Office) -> None:
    errors = rejected(office, "deputy", "m1", Day(2026, 12, 2), Day(2026, 12, 3), role="member")
    assert errors["role"] == [(
        "not_held", "deputy 没有“委员”角色，也没有可以委托的角色。",
        'deputy does not hold the role "Committee member" and holds no role to delegate.',
    )]


# Delegate --------------------------------------------------------------------------------


def test_self_by_sign_in_name_rejected(office: Office) -> None:
    admin = PermissionAdmin(office.records.access.store)
    admin.add_user(SYSTEM_ACTOR, "u9", "wang", "王", "company")
    admin.assign(SYSTEM_ACTOR, "u9", "member", "company")
    with pytest.raises(ValidationFailed) as failure:
        Delegations(office.records).create(office.actor("root"), "u9", "wang", Day(2026, 12, 2), Day(2026, 12, 3))
    assert [item.code for item in failure.value.errors["delegate"]] == ["self"]
    assert stored(office) == (0, 0)


# Overlaps --------------------------------------------------------------------------------


def test_same_role_overlap_rejected_for_any_delegate(office: Office) -> None:
    Delegations(office.records).create(office.actor("m1"), "m1", "deputy", Day(2026, 12, 1), Day(2026, 12, 9), role="member")
    expected = [(
        "overlap",
        "所选日期与 2026-12-01 至 2026-12-09 委托给 deputy (deputy) 的“委员”角色委托重叠，同一角色同一时间只能有一位代办人。"
        "请选择该期间以外的日期，或先撤销该委托。",
        'These days overlap the delegation of the role "Committee member" to deputy (deputy) from 2026-12-01 to 2026-12-09, '
        "and a role has one acting user at a time. Choose days outside that range or revoke that delegation first.",
    )]
    assert rejected(office, "m1", "deputy", Day(2026, 12, 9), Day(2026, 12, 20), role="member") == {"role": expected}
    assert rejected(office, "m1", "m2", Day(2026, 12, 3), Day(2026, 12, 4), role="member") == {"role": expected}
    assert stored(office) == (1, 1)


def test_every_role_overlaps_one_role(office: Office) -> None:
    Delegations(office.records).create(office.actor("m1"), "m1", "deputy", Day(2026, 12, 1), Day(2026, 12, 9))
    errors = rejected(office, "m1", "m2", Day(2026, 12, 5), Day(2026, 12, 6), role="member")
    assert [message for _, _, message in errors["role"]] == [
        "These days overlap the delegation of all roles to deputy (deputy) from 2026-12-01 to 2026-12-09, and a role has one "
        "acting user at a time. Choose days outside that range or revoke that delegation first."]
    assert [message for _, message, _ in errors["role"]] == [
        "所选日期与 2026-12-01 至 2026-12-09 委托给 deputy (deputy) 的全部角色委托重叠，同一角色同一时间只能有一位代办人。"
        "请选择该期间以外的日期，或先撤销该委托。"]


def test_one_role_overlaps_every_role(office: Office) -> None:
    PermissionAdmin(office.records.access.store).assign(SYSTEM_ACTOR, "li", "director", "company")
    delegations = Delegations(office.records)
    delegations.create(office.actor("li"), "li", "deputy", Day(2026, 12, 1), Day(2026, 12, 3), role="manager")
    delegations.create(office.actor("li"), "li", "m1", Day(2026, 12, 8), Day(2026, 12, 9), role="director")
    errors = rejected(office, "li", "m2", Day(2026, 12, 2), Day(2026, 12, 31))
    assert [code for code, _, _ in errors["role"]] == ["overlap", "overlap"]
    assert "2026-12-01 to 2026-12-03" in errors["role"][0][2]
    assert "2026-12-08 to 2026-12-09" in errors["role"][1][2]


def test_other_role_or_delegator_does_not_overlap(office: Office) -> None:
    PermissionAdmin(office.records.access.store).assign(SYSTEM_ACTOR, "li", "director", "company")
    delegations = Delegations(office.records)
    delegations.create(office.actor("li"), "li", "deputy", Day(2026, 12, 1), Day(2026, 12, 9), role="manager")
    delegations.create(office.actor("li"), "li", "deputy", Day(2026, 12, 1), Day(2026, 12, 9), role="director")
    delegations.create(office.actor("m1"), "m1", "deputy", Day(2026, 12, 1), Day(2026, 12, 9))
    delegations.create(office.actor("m2"), "m2", "deputy", Day(2026, 12, 1), Day(2026, 12, 9))
    assert stored(office) == (4, 4)


def test_adjacent_revoked_or_ended_do_not_overlap(office: Office) -> None:
    delegations = Delegations(office.records)
    delegations.create(office.actor("m1"), "m1", "deputy", Day(2026, 12, 1), Day(2026, 12, 3))
    delegations.create(office.actor("m1"), "m1", "deputy", Day(2026, 12, 4), Day(2026, 12, 9))
    revoked = delegations.create(office.actor("m2"), "m2", "deputy", Day(2026, 12, 1), Day(2026, 12, 9))
    delegations.revoke(office.actor("m2"), revoked)
    delegations.create(office.actor("m2"), "m2", "m3", Day(2026, 12, 2), Day(2026, 12, 9))
    delegations.create(office.actor("m3"), "m3", "deputy", Day(2026, 12, 1), Day(2026, 12, 3))

    # On 2026-12-05 the delegations ending on 2026-12-03 have ended, and the days they covered never come again.
    office.clock.now = START + datetime.timedelta(days=3)
    delegations.create(office.actor("m3"), "m3", "m2", Day(2026, 12, 1), Day(2026, 12, 10))
    errors = rejected(office, "m1", "m2", Day(2026, 12, 1), Day(2026, 12, 20))
    assert [code for code, _, _ in errors["role"]] == ["overlap"]
    assert "2026-12-04 to 2026-12-09" in errors["role"][0][2]


def test_all_errors_at_once(office: Office) -> None:
    Delegations(office.records).create(office.actor("m1"), "m1", "deputy", Day(2026, 12, 1), Day(2026, 12, 9))
    errors = rejected(office, "m1", "nobody", Day(2026, 12, 5), Day(2028, 1, 1), reason="y" * 600)
    assert {path: [code for code, _, _ in items] for path, items in errors.items()} == {
        "ends_on": ["too_long"], "reason": ["too_long"], "delegate": ["unknown"], "role": ["overlap"],
    }
    assert stored(office) == (1, 1)


def test_concurrent_overlapping_creates_store_one(office: Office) -> None:
    delegations = Delegations(office.records)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def create(delegate: str) -> None:
        barrier.wait()
        try:
            delegations.create(office.actor("m1"), "m1", delegate, Day(2026, 12, 2), Day(2026, 12, 9))
            outcomes[delegate] = "stored"
        except ValidationFailed as failure:
            outcomes[delegate] = ",".join(item.code for item in failure.errors["role"])

    # SQLite runs one writer at a time anyway, so only PostgreSQL shows whether the row lock closes the race.
    threads = [threading.Thread(target=create, args=(delegate,)) for delegate in ("deputy", "m2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values()) == ["overlap", "stored"]
    assert stored(office) == (1, 1)
