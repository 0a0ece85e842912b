"""Demo values: identifiers with valid check characters, texts matching patterns, numbers on their step, passwords."""

from __future__ import annotations

import datetime
import random
import re
from decimal import Decimal

import pytest
import stdnum.cn.ric
import stdnum.cn.uscc
import stdnum.luhn
from faker import Faker
from vininfo import Vin

from metamodel import model as m
from metamodel.values import check_value
from runtime.accounts import PasswordRejected, password_problem
from runtime.seed_users import demo_password
from runtime.seed_values import SeedValueError, ValueMaker

TODAY = datetime.date(2026, 3, 15)
SOURCE = m.Source("test.yaml", 1, 1)


def maker(seed: int = 7) -> ValueMaker:
    faker = Faker("zh_CN")
    faker.seed_instance(seed)
    return ValueMaker(random.Random(seed), faker, TODAY)


def field(name: str, kind: str, **options: object) -> m.Field:
    return m.Field(name, kind, m.Label(name, name), SOURCE, **options)  # type: ignore[arg-type] - options are Field keywords


def test_identifiers_carry_check_characters() -> None:
    values = maker()
    for _ in range(200):
        assert stdnum.cn.ric.is_valid(values.resident_id())
        assert stdnum.cn.uscc.is_valid(values.uscc())
        assert Vin(values.vin()).verify_checksum(check_year=False)
        assert stdnum.luhn.is_valid(values.bank_card())
        assert re.fullmatch(r"1[3-9][0-9]{9}", values.mobile())
        plate, problems = check_value(field("plate", "plate"), values.plate())
        assert problems == [], plate


def test_resident_id_encodes_birth_date() -> None:
    number = maker().resident_id(datetime.date(1988, 2, 29))
    assert stdnum.cn.ric.get_birth_date(number) == datetime.date(1988, 2, 29)


def test_pattern_texts_match() -> None:
    values = maker()
    for pattern in (r"^E[0-9]{5}$", r"^[A-Z]{2,4}-[0-9]{3}$", r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$", r"(ab|cd)+x?"):
        for _ in range(20):
            assert re.fullmatch(pattern, values.matching(pattern)), pattern


def test_number_on_step_within_range() -> None:
    values = maker()
    price = field("price", "money")
    drawn = [values.number_between(price, Decimal(80000), Decimal(400000), Decimal(100)) for _ in range(100)]
    assert all(Decimal(80000) <= value <= Decimal(400000) and value % 100 == 0 for value in drawn)
    assert len(set(drawn)) > 50
    with pytest.raises(SeedValueError, match="no multiple of 1000 lies between 10 and 20"):
        values.number_between(price, Decimal(10), Decimal(20), Decimal(1000))


def test_date_range_counts_days_from_today() -> None:
    values = maker()
    day = field("day", "date")
    drawn = [values.number_between(day, Decimal(-10), Decimal(-5), None) for _ in range(50)]
    assert min(drawn) >= TODAY - datetime.timedelta(days=10)
    assert max(drawn) <= TODAY - datetime.timedelta(days=5)


def test_by_type_respects_limits_and_choices() -> None:
    values = maker()
    term = field("term", "integer", min=Decimal(6), max=Decimal(60))
    kind = field("kind", "enum", choices=(m.Choice("a", m.Label("甲", "A")), m.Choice("b", m.Label("乙", "B"))))
    for _ in range(50):
        assert 6 <= values.by_type(term) <= 60
        assert values.by_type(kind) in ("a", "b")


def test_demo_password_is_derived_and_passes_policy() -> None:
    settings = {"password_min_length": 8, "password_min_classes": 3}
    first = demo_password("secret-one", "demo_admin", settings)
    assert first == demo_password("secret-one", "demo_admin", settings)
    assert first != demo_password("secret-two", "demo_admin", settings)
    assert first != demo_password("secret-one", "demo_clerk", settings)
    assert password_problem(settings, first) is None
    longer = demo_password("secret-one", "demo_admin", {"password_min_length": 20, "password_min_classes": 4})
    assert len(longer) >= 20


def test_demo_password_rejected_by_odd_policy() -> None:
    with pytest.raises(PasswordRejected):
        demo_password("secret", "demo_admin", {"password_min_classes": 5})


def test_resident_id_encodes_gender_in_17th_digit() -> None:
    values = maker()
    for _ in range(100):
        assert int(values.resident_id(male=True)[16]) % 2 == 1
        assert int(values.resident_id(male=False)[16]) % 2 == 0
        assert stdnum.cn.ric.is_valid(values.resident_id(male=False))


def test_identifiers_start_with_prefix_and_keep_check_characters() -> None:
    values = maker()
    for _ in range(100):
        vin = values.vin("LFV")
        assert vin.startswith("LFV")
        assert Vin(vin).verify_checksum(check_year=False)
        full = values.vin("WVGZZZ7P")
        assert full.startswith("WVGZZZ7P")
        assert Vin(full).verify_checksum(check_year=False)
        code = values.uscc("91110115")
        assert code.startswith("91110115")
        assert stdnum.cn.uscc.is_valid(code)
        card = values.bank_card("622588")
        assert card.startswith("622588")
        assert len(card) == 19
        assert stdnum.luhn.is_valid(card)


def test_street_address_leaves_out_province() -> None:
    address = maker().street_address()
    assert address.endswith("室")
    assert "省" not in address
