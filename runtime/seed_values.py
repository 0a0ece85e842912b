"""Values for demo records: valid Chinese identifiers, realistic text and numbers within each field's limits.

Every value is drawn from the `random.Random` and the zh_CN `Faker` given to `ValueMaker`, so a
seeded generator makes the same values again. Identifiers carry correct check characters:
resident IDs (ISO 7064 MOD 11-2) and card numbers (Luhn) through python-stdnum, VINs through vininfo.
"""

from __future__ import annotations

import datetime
import importlib
import random
import re
import string
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Callable

import stdnum.cn.ric
import stdnum.cn.uscc
import stdnum.luhn
from faker import Faker
from vininfo import Vin

from metamodel import model as m
from metamodel.identifiers import PLATE_PROVINCES
from metamodel.values import check_value

# re's own parser; the typeshed stubs do not list it under its Python 3.11 name.
_REGEX_PARSER: Any = importlib.import_module("re._parser")
_REGEX_CONSTANTS: Any = importlib.import_module("re._constants")

#: Administrative division codes of districts of Beijing, Shanghai and Tianjin, for resident IDs and credit codes.
#: Each existed in every year from 1955 on, because python-stdnum rejects an ID whose district did not exist at its birth date.
AREA_CODES = ("110101", "110102", "110105", "110108", "310101", "310104", "310105", "310110", "120101")

#: Issuer identification numbers of debit cards of large Chinese banks.
CARD_PREFIXES = ("622202", "621700", "622848", "621661", "622588", "622260", "621483")

#: World manufacturer identifiers of car makers producing in China.
VIN_MAKERS = ("LSV", "LFV", "LVG", "LHG", "LGB", "LGX", "LB3", "LS5", "LBV", "LFM")

_VIN_CHARACTERS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_VIN_YEARS = "KLMNPRS"
_MOBILE_PREFIXES = ("130", "131", "135", "136", "138", "139", "150", "152", "158", "159", "176", "186", "187", "188", "189", "199")
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

#: How many times a value is drawn again when it fails its field's checks.
ATTEMPTS = 30


class SeedValueError(Exception):
    """Raised when no valid value could be drawn for a field; the message names the field and what to do."""


class ValueMaker:
    """Draws values for fields by their type, limits and choices."""

    def __init__(self, rng: random.Random, faker: Faker, today: datetime.date) -> None:
        self.rng = rng
        self.faker = faker
        self.today = today
        self._texts: dict[str, Callable[[], str]] = {
            "person_name": faker.name,
            "company": faker.company,
            "address": faker.address,
            "street_address": self.street_address,
            "city": faker.city,
            "province": faker.province,
            "job": faker.job,
            "email": faker.email,
            "sentence": faker.sentence,
            "word": faker.word,
        }

    # Generators named by hints ----------------------------------------------

    def text(self, generator: str) -> str:
        return self._texts[generator]()

    def number_between(self, field: m.Field, low: Decimal, high: Decimal, step: Decimal | None) -> Any:
        """Draw a number of the field's type between low and high, as a multiple of step when given."""
        if field.type in ("date", "datetime"):
            days = self.rng.randint(int(low), int(high))
            day = self.today + datetime.timedelta(days=days)
            if field.type == "date":
                return day
            seconds = self.rng.randint(8 * 3600, 20 * 3600)
            return datetime.datetime.combine(day, datetime.time(), datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
        if step is None:
            step = Decimal(1) if field.type == "integer" else Decimal(1).scaleb(-m.decimal_places(field))
        first = (low / step).to_integral_value(rounding=ROUND_CEILING)
        last = (high / step).to_integral_value(rounding=ROUND_FLOOR)
        if last < first:
            raise SeedValueError(f"no multiple of {step} lies between {low} and {high} for the field {field.name}")
        value = step * self.rng.randint(int(first), int(last))
        return int(value) if field.type == "integer" else value

    # Values by type ----------------------------------------------------------

    def street_address(self) -> str:
        """Return a street, house and flat, without province, city or district, for a prefix hint to place."""
        street = self.faker.street_name()
        if self.rng.random() < 0.6:
            return f"{street} {self.rng.randint(1, 300)} 号院 {self.rng.randint(1, 20)} 号楼 {self.rng.randint(1, 28)}{self.rng.randint(1, 4):02d} 室"
        return f"{street} {self.rng.randint(1, 2000)} 弄 {self.rng.randint(1, 40)} 号 {self.rng.randint(1, 28)}{self.rng.randint(1, 4):02d} 室"

    def by_type(self, field: m.Field, *, birth_date: datetime.date | None = None, male: bool | None = None,
                prefix: str = "") -> Any:
        """Draw a value that passes the field's own checks, from its type, choices and limits.

        A resident ID encodes birth_date and male when given; an identifier or text starts with prefix.
        """
        problems: list[Any] = []
        for _ in range(ATTEMPTS):
            value = self._draw(field, birth_date, male, prefix)
            checked, problems = check_value(field, value)
            if not problems:
                return checked
        raise SeedValueError(
            f"no valid value could be drawn for the field {field.name} of type {field.type}: {problems[0].message_en}. "
            "Give the field a hint in seed.yaml (choices, range, format or value)."
        )

    def _draw(self, field: m.Field, birth_date: datetime.date | None, male: bool | None, prefix: str) -> Any:
        kind = field.type
        if kind == "enum":
            return self.rng.choice(field.choice_values)
        if kind == "boolean":
            return field.default if isinstance(field.default, bool) else self.rng.random() < 0.5
        if kind in m.NUMERIC_TYPES:
            low, high = _numeric_limits(field)
            return self.number_between(field, low, high, None)
        if kind == "date":
            return self.number_between(field, Decimal(-730), Decimal(0), None)
        if kind == "datetime":
            return self.number_between(field, Decimal(-365), Decimal(0), None)
        if kind in ("string", "text"):
            text = prefix + self._text_of(field)
            return text[:field.max_length] if field.max_length else text
        if kind == "json":
            return {}
        if kind == "geo_point":
            return {"lat": Decimal(self.rng.randint(22000, 41000)) / 1000, "lng": Decimal(self.rng.randint(108000, 122000)) / 1000}
        if kind == "resident_id":
            return self.resident_id(birth_date, male)
        if kind == "uscc":
            return self.uscc(prefix)
        if kind == "vin":
            return self.vin(prefix)
        if kind == "plate":
            return self.plate()
        if kind == "mobile":
            return self.mobile()
        if kind == "bank_card":
            return self.bank_card(prefix)
        raise SeedValueError(f"the seeder cannot fill a field of type {kind} ({field.name})")

    def _text_of(self, field: m.Field) -> str:
        if field.pattern:
            return self.matching(field.pattern)
        low = field.min_length or 0
        high = field.max_length or (200 if field.type == "text" else 30)
        text = self.faker.sentence() if field.type == "text" else self.faker.word()
        while len(text) < low:
            text += self.faker.word()
        return text[:high]

    # Identifiers -------------------------------------------------------------

    def resident_id(self, birth_date: datetime.date | None = None, male: bool | None = None) -> str:
        """Return an 18-character resident ID of a person born on birth_date (aged 22 to 60 when not given).

        The 17th digit is odd for a man and even for a woman; `male` chooses it, else it is drawn.
        """
        born = birth_date or self.today - datetime.timedelta(days=self.rng.randint(22 * 365, 60 * 365))
        if male is None:
            sequence = self.rng.randint(1, 999)
        else:
            sequence = self.rng.randint(0 if male else 1, 499) * 2 + (1 if male else 0)
        first = f"{self.rng.choice(AREA_CODES)}{born:%Y%m%d}{sequence:03d}"
        return first + stdnum.cn.ric.calc_check_digit(first + "0")

    def uscc(self, prefix: str = "") -> str:
        """Return a unified social credit code with its check character; a company of Beijing, Shanghai or Tianjin without prefix."""
        start = prefix or "91" + self.rng.choice(AREA_CODES)
        body = start + "".join(self.rng.choice(_USCC_ALPHABET) for _ in range(17 - len(start)))
        return body + stdnum.cn.uscc.calc_check_digit(body)

    def vin(self, prefix: str = "") -> str:
        """Return a 17-character VIN with the check digit in position 9; prefix gives its first (up to 8) characters.

        Without a prefix the manufacturer is one of VIN_MAKERS.
        """
        start = prefix or self.rng.choice(VIN_MAKERS)
        head = start + "".join(self.rng.choice(_VIN_CHARACTERS) for _ in range(8 - len(start)))
        serial = f"{self.rng.choice(_VIN_YEARS)}{self.rng.choice('ABCDEFGHJ')}{self.rng.randint(0, 999999):06d}"
        for check in "0123456789X":
            candidate = head + check + serial
            if Vin(candidate).verify_checksum(check_year=False):
                return candidate
        raise SeedValueError(f"no check digit fits the VIN {head}?{serial}")

    def plate(self) -> str:
        province = self.rng.choice("京沪粤苏浙川鄂鲁" if self.rng.random() < 0.8 else PLATE_PROVINCES)
        tail = "".join(self.rng.choice("0123456789" * 3 + _PLATE_LETTERS) for _ in range(5))
        return province + self.rng.choice(_PLATE_LETTERS) + tail

    def mobile(self) -> str:
        return self.rng.choice(_MOBILE_PREFIXES) + f"{self.rng.randint(0, 99_999_999):08d}"

    def bank_card(self, prefix: str = "") -> str:
        """Return a 19-digit card number with its Luhn check digit, starting with prefix or a large bank's issuer number."""
        start = prefix or self.rng.choice(CARD_PREFIXES)
        first = start + "".join(self.rng.choice(string.digits) for _ in range(18 - len(start)))
        return first + stdnum.luhn.calc_check_digit(first)

    # Patterns ----------------------------------------------------------------

    def matching(self, pattern: str) -> str:
        """Return a text that the regular expression matches in whole."""
        parsed = _REGEX_PARSER.parse(pattern)
        for _ in range(ATTEMPTS):
            text = "".join(self._from_regex(parsed))
            if re.fullmatch(pattern, text):
                return text
        raise SeedValueError(f"no text matching {pattern} could be drawn; give the field a format or choices hint in seed.yaml")

    def _from_regex(self, items: Any) -> list[str]:
        constants = _REGEX_CONSTANTS
        out: list[str] = []
        for opcode, argument in items:
            if opcode == constants.LITERAL:
                out.append(chr(argument))
            elif opcode == constants.ANY:
                out.append(self.rng.choice(string.ascii_letters + string.digits))
            elif opcode == constants.IN:
                out.append(self._from_set(argument))
            elif opcode in (constants.MAX_REPEAT, constants.MIN_REPEAT, getattr(constants, "POSSESSIVE_REPEAT", None)):
                low, high, inner = argument
                if high == constants.MAXREPEAT:
                    high = low + 8
                for _ in range(self.rng.randint(low, min(high, low + 12))):
                    out.extend(self._from_regex(inner))
            elif opcode == constants.SUBPATTERN:
                out.extend(self._from_regex(argument[-1]))
            elif opcode == constants.BRANCH:
                out.extend(self._from_regex(self.rng.choice(argument[1])))
            elif opcode == constants.CATEGORY:
                out.append(self._from_category(argument))
        return out

    def _from_set(self, items: Any) -> str:
        constants = _REGEX_CONSTANTS
        pool: list[str] = []
        negate = False
        for opcode, argument in items:
            if opcode == constants.NEGATE:
                negate = True
            elif opcode == constants.LITERAL:
                pool.append(chr(argument))
            elif opcode == constants.RANGE:
                pool.extend(chr(code) for code in range(argument[0], argument[1] + 1))
            elif opcode == constants.CATEGORY:
                pool.append(self._from_category(argument))
        if negate:
            pool = [character for character in string.ascii_letters + string.digits if character not in pool]
        return self.rng.choice(pool)

    def _from_category(self, category: Any) -> str:
        constants = _REGEX_CONSTANTS
        if category == constants.CATEGORY_DIGIT:
            return self.rng.choice(string.digits)
        if category == constants.CATEGORY_SPACE:
            return " "
        return self.rng.choice(string.ascii_letters + string.digits)


def _numeric_limits(field: m.Field) -> tuple[Decimal, Decimal]:
    """Return the range a number is drawn from: the field's limits, or a plausible span beside the one given."""
    low = field.min
    high = field.max
    if field.type == "percent":
        return low if low is not None else Decimal(0), high if high is not None else Decimal(1)
    span = Decimal(100) if field.type == "integer" else Decimal(100000)
    if low is not None and high is not None:
        return low, high
    if high is not None:
        return (max(Decimal(0), high - span) if high >= 0 else high - span), high
    start = low if low is not None else Decimal(0)
    return start, start + span
