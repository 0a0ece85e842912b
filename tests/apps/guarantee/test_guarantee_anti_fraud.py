"""The checks of forwarding and reviewing an application: the anti-fraud rules of anti_fraud_rules.yaml and the credit report's consent.

The anti-fraud sandbox decides by the borrower's ID number and mobile number
(integrations/anti_fraud.py). ID sequence digits 850 to 879 are a multi_lender hit, and 880
to 899 add a court_dishonest hit. A mobile number ending in 9999 is on fraud_blacklist, and
one starting with 170 is phone_risk.
"""

from __future__ import annotations

import datetime
import zoneinfo
import logging
from typing import Any

import pytest
from sqlalchemy import update

from runtime.errors import ValidationFailed

from guarantee_world import SYSTEM, World, messages, resident_id

STOPPED_EN = ("did not pass the guarantor's anti-fraud screening, so the application cannot be forwarded; "
              "contact the guarantor's risk department")
STOPPED_ZH = "未通过担保公司的反欺诈筛查，申请不能转交；请联系担保公司风险管理部"
CHECK_LOGGER = "guarantee_hooks.check_hooks"


def submitted(world: World, **values: Any) -> dict[str, Any]:
    """Create an application of the standard flow as dealer staff and submit it."""
    return world.fire(world.application(world.product(), **values), "submit", "dealer")


def forwarded(world: World, **values: Any) -> dict[str, Any]:
    """Submit and forward an application, and return it as the risk officer reads it."""
    record = world.fire(submitted(world, **values), "forward", "dealer")
    return world.read(record, "risk")


def warning_lines(record: dict[str, Any]) -> list[str]:
    return str(record["anti_fraud_warnings"] or "").splitlines()


def created_days_ago(world: World, record: dict[str, Any], days: int) -> None:
    """Move an application's creation time back by `days`, as if it had been entered then."""
    table = world.runtime.schema.entities["loan_application"].table
    created = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    with world.runtime.engine.begin() as connection:
        connection.execute(update(table).where(table.c.id == record["id"]).values(created_at=created))


def birth_date_for_age(years: int, months: int) -> datetime.date:
    """Return the birth date of someone `years` and `months` old today, on the 1st of a month."""
    today = datetime.date.today()
    total = today.year * 12 + today.month - 1 - years * 12 - months
    return datetime.date(total // 12, total % 12 + 1, 1)


def rejected_forward(world: World, record: dict[str, Any]) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as rejected:
        world.fire(record, "forward", "dealer")
    return rejected.value


def test_clean_application_has_no_warnings(world: World) -> None:
    record = forwarded(world)
    assert record["state"] == "received"
    assert record["anti_fraud_warnings"] is None
    assert record["anti_fraud_score"] < 400


def test_same_phone_within_window_warns(world: World) -> None:
    phone = "13911112222"
    recent = submitted(world, customer=world.customer(phone=phone))
    older = submitted(world, customer=world.customer(phone=phone))
    created_days_ago(world, recent, 29)
    created_days_ago(world, older, 31)

    record = forwarded(world, customer=world.customer(phone=phone))

    assert warning_lines(record) == [f"近 30 天内另有 1 笔申请使用相同手机号：{recent['application_no']}"]
    assert record["state"] == "received"


def test_window_starts_at_midnight_in_china(world: World) -> None:
    """An application entered at 01:00 China time on the window's first day (17:00 UTC the day before) is in it."""
    phone = "13911114444"
    early = submitted(world, customer=world.customer(phone=phone))
    china = zoneinfo.ZoneInfo("Asia/Shanghai")
    first_day = datetime.datetime.now(china).date() - datetime.timedelta(days=30)
    table = world.runtime.schema.entities["loan_application"].table
    with world.runtime.engine.begin() as connection:
        connection.execute(update(table).where(table.c.id == early["id"]).values(
            created_at=datetime.datetime.combine(first_day, datetime.time(1, 0), china).astimezone(datetime.timezone.utc)))

    record = forwarded(world, customer=world.customer(phone=phone))

    assert warning_lines(record) == [f"近 30 天内另有 1 笔申请使用相同手机号：{early['application_no']}"]


def test_same_phone_counts_drafts(world: World) -> None:
    phone = "13911113333"
    draft = world.application(world.product(), customer=world.customer(phone=phone))
    other = submitted(world, customer=world.customer(phone=phone))

    record = forwarded(world, customer=world.customer(phone=phone))

    # A draft has no application number yet, so the warning names its record id.
    listed = {f"#{draft['id']}", other["application_no"]}
    line = warning_lines(record)[0]
    assert line.startswith("近 30 天内另有 2 笔申请使用相同手机号：")
    assert set(line.split("：", 1)[1].split(", ")) == listed


def test_same_address_within_window_warns(world: World) -> None:
    address = "上海市浦东新区世纪大道 100 号 2 栋 301 室"
    recent = submitted(world, customer=world.customer(address=address))
    older = submitted(world, customer=world.customer(address=address))
    created_days_ago(world, older, 45)

    record = forwarded(world, customer=world.customer(address=address))

    assert warning_lines(record) == [f"近 30 天内另有 1 笔申请使用相同居住地址：{recent['application_no']}"]


def test_age_over_65_at_term_end_warns(world: World) -> None:
    # 64 and a half today, so 67 at the end of a 36-month term.
    customer = world.customer(birth_date=birth_date_for_age(64, 6))
    record = forwarded(world, customer=customer)
    assert warning_lines(record) == ["借款人在贷款到期时 67 周岁，不在 18 至 65 周岁之间"]


def test_age_65_at_term_end_passes(world: World) -> None:
    customer = world.customer(birth_date=birth_date_for_age(62, 6))
    record = forwarded(world, customer=customer)
    assert record["anti_fraud_warnings"] is None


def test_age_under_18_from_id_number(world: World) -> None:
    # No birth date on the record: the rule reads it from the ID number, which gives 13 today and 16 at the end of the term.
    birth_year = datetime.date.today().year - 13
    customer = world.customer(birth_date=None, id_number=resident_id(321, f"{birth_year}0101"))
    record = forwarded(world, customer=customer)
    assert warning_lines(record) == ["借款人在贷款到期时 16 周岁，不在 18 至 65 周岁之间"]


@pytest.mark.parametrize(("dealer_values", "expected"), [
    ({"rating": "C"}, "处于关注名单：评级 C"),
    ({"rating": "D"}, "处于关注名单：评级 D"),
    ({"cooperation_status": "suspended"}, "处于关注名单：合作状态 suspended"),
    ({"cooperation_status": "terminated"}, "处于关注名单：合作状态 terminated"),
])
def test_dealer_on_watch_warns(world: World, dealer_values: dict[str, Any], expected: str) -> None:
    dealer = world.dealer(**dealer_values)
    name = world.runtime.records.get(SYSTEM, "dealer", dealer)["name"]
    record = forwarded(world, dealer=dealer)
    assert warning_lines(record) == [f"经销商 {name} {expected}"]
    assert record["state"] == "received"


def test_dealer_rating_b_not_on_watch(world: World) -> None:
    record = forwarded(world, dealer=world.dealer(rating="B"))
    assert record["anti_fraud_warnings"] is None


def test_provider_multi_lender_warns(world: World) -> None:
    customer = world.customer(id_number=resident_id(850, "19800303"))
    record = forwarded(world, customer=customer)
    assert warning_lines(record) == ["反欺诈服务提示 multi_lender：近3个月在多家机构申请借贷"]
    assert 400 <= record["anti_fraud_score"] < 700
    assert record["state"] == "received"


def test_provider_phone_risk_warns(world: World) -> None:
    record = forwarded(world, customer=world.customer(phone="17012345678"))
    assert warning_lines(record) == ["反欺诈服务提示 phone_risk：虚拟运营商号段"]


@pytest.mark.parametrize("customer_values", [
    {"id_number": resident_id(885, "19800404")},
    {"phone": "13812349999"},
], ids=["court_dishonest", "fraud_blacklist"])
def test_provider_blacklist_hit_stops(world: World, customer_values: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=CHECK_LOGGER)
    record = submitted(world, customer=world.customer(**customer_values))

    rejected = rejected_forward(world, record)

    assert STOPPED_EN in messages(rejected)
    assert "stopped by anti-fraud rules blacklist" in caplog.text
    assert world.read(record, "dealer")["state"] == "submitted"


def test_blacklisted_borrower_stops_forward(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=CHECK_LOGGER)
    customer = world.customer(blacklisted=True, blacklist_reason="骗贷")
    name = world.runtime.records.get(SYSTEM, "customer", customer)["name"]
    record = submitted(world, customer=customer)

    rejected = rejected_forward(world, record)

    # The dealer reads that the screening failed, never which list: dealer staff may not see the blacklist.
    assert list(rejected.errors) == ["customer"]
    assert messages(rejected) == f"customer: {name} {STOPPED_EN}"
    assert messages(rejected, "zh-CN") == f"customer: {name} {STOPPED_ZH}"
    assert "blacklist" not in messages(rejected)
    assert "黑名单" not in messages(rejected, "zh-CN")
    assert f"loan_application {record['id']} stopped by anti-fraud rules blacklist" in caplog.text
    stored = world.read(record, "risk")
    assert stored["state"] == "submitted"
    assert stored["anti_fraud_score"] is None


def test_blacklisted_co_borrower_stops_forward(world: World) -> None:
    co_borrower = world.customer(blacklisted=True, blacklist_reason="伪造收入证明")
    record = submitted(world, co_borrower=co_borrower)
    rejected = rejected_forward(world, record)
    assert STOPPED_EN in messages(rejected)
    assert world.read(record, "dealer")["state"] == "submitted"


def test_warnings_do_not_stop_forward(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=CHECK_LOGGER)
    record = forwarded(world, dealer=world.dealer(rating="C"), customer=world.customer(phone="17012345679"))
    assert record["state"] == "received"
    assert len(warning_lines(record)) == 2
    assert "stopped by anti-fraud rules" not in caplog.text


def withdraw_consent(world: World, customer: int) -> None:
    """Clear the customer's consent on record, as after the customer withdrew it once the application was submitted."""
    version = world.runtime.records.get(SYSTEM, "customer", customer)["version"]
    world.runtime.records.update(SYSTEM, "customer", customer, {"consent_signed_at": None}, version=version)


def test_credit_report_needs_consent(world: World) -> None:
    customer = world.customer()
    name = world.runtime.records.get(SYSTEM, "customer", customer)["name"]
    record = world.fire(submitted(world, customer=customer), "forward", "dealer")
    withdraw_consent(world, customer)

    with pytest.raises(ValidationFailed) as rejected:
        world.fire(record, "start_credit_review", "credit")

    assert messages(rejected.value) == (f"customer: {name} has not signed the personal information consent, which the credit "
                                       "report query needs; record the consent on the customer first")
    assert messages(rejected.value, "zh-CN") == f"customer: {name} 尚未签署个人信息授权，不能查询征信；请先在客户档案中登记授权时间"
    stored = world.read(record, "risk")
    assert stored["state"] == "received"
    assert stored["credit_report_id"] is None


def test_credit_report_after_consent_recorded(world: World) -> None:
    customer = world.customer()
    record = world.fire(submitted(world, customer=customer), "forward", "dealer")
    withdraw_consent(world, customer)
    version = world.runtime.records.get(SYSTEM, "customer", customer)["version"]
    signed = datetime.datetime(2026, 2, 1, 10, 0, tzinfo=datetime.timezone.utc)
    world.runtime.records.update(SYSTEM, "customer", customer, {"consent_signed_at": signed}, version=version)

    record = world.fire(record, "start_credit_review", "credit")

    assert record["state"] == "credit_review"
    assert world.read(record, "risk")["credit_report_id"]


def test_fast_track_forward_needs_consent(world: World) -> None:
    customer = world.customer()
    record = world.fire(world.application(world.product("fast_track"), customer=customer), "submit", "dealer")
    withdraw_consent(world, customer)
    rejected = rejected_forward(world, record)
    assert "has not signed the personal information consent" in messages(rejected)
    assert world.read(record, "dealer")["state"] == "submitted"
