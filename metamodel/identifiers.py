"""Normalization and checks for Chinese identifiers, shared by the runtime and the forms.

Each `normalize_<type>` function takes text as people type it (full-width characters,
spaces, hyphens, lower case), returns the canonical form and raises `IdentifierError`
when the identifier is invalid. Check characters are computed by python-stdnum
(resident ID, USCC, Luhn) and vininfo (VIN), never here.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Callable, Mapping

from stdnum import luhn, numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumValidationError
from vininfo import Vin
from vininfo.exceptions import ValidationError as VinValidationError

#: Abbreviations of the 31 mainland provinces, autonomous regions and municipalities.
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

#: Final characters of special plates (learner, police, trailer, Hong Kong, Macau,
#: embassy, consulate); `normalize_plate` rejects these plates.
SPECIAL_PLATE_SUFFIXES = "学警挂港澳使领"

_PLATE_LETTERS = frozenset("ABCDEFGHJKLMNPQRSTUVWXYZ")
_PLATE_CHARACTERS = _PLATE_LETTERS | frozenset("0123456789")

# The code alphabet, as in stdnum.cn.uscc: digits and upper-case letters except I, O, Z, S and V.
_USCC_ALPHABET = frozenset("0123456789ABCDEFGHJKLMNPQRTUWXY")

# Region codes of residence permits for residents of Hong Kong, Macau and Taiwan.
# They follow the resident ID format, but stdnum's region table lacks 830000.
_PERMIT_REGIONS = frozenset({"810000", "820000", "830000"})

# Whitespace, hyphens and dashes, middle dots and zero-width characters that people
# type or paste between groups of characters.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u00b7\u2022\u30fb\u200b-\u200d\u2060\ufeff]+")

_MOBILE = re.compile(r"1[3-9]\d{9}")

# China has no daylight saving time, so a fixed offset gives the local date.
_CHINA_TIME = datetime.timezone(datetime.timedelta(hours=8))


class IdentifierError(ValueError):
    """An invalid identifier, with a stable `code` and messages in English and Chinese."""

    def __init__(self, code: str, message_en: str, message_zh: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_en = message_en
        self.message_zh = message_zh


def compact(text: str) -> str:
    """Convert full-width characters to half-width, drop separators and upper-case letters."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()


def _reject_empty(number: str, name_en: str, name_zh: str) -> None:
    if not number:
        raise IdentifierError("empty", f"The {name_en} is empty; enter it.", f"{name_zh}为空，请填写。")


def normalize_resident_id(text: str) -> str:
    """Check an 18-character resident ID number, including its birth date and region code.

    The region code only has to exist in stdnum's table in some period, not in the
    birth year, because a number issued after a county was created may carry an
    earlier birth date.
    """
    number = compact(text)
    _reject_empty(number, "resident ID number", "身份证号码")
    if len(number) == 15 and number.isdigit():
        raise IdentifierError(
            "length",
            "The resident ID number has 15 digits, the old format that is no longer valid; "
            "enter the 18-character number from the current ID card.",
            "身份证号码为 15 位，这是已停用的旧号码；请填写现行身份证上的 18 位号码。",
        )
    if len(number) != 18:
        raise IdentifierError(
            "length",
            f"The resident ID number has {len(number)} characters, but it must have 18; "
            "check for missing or extra digits.",
            f"身份证号码有 {len(number)} 位，应为 18 位；请检查是否漏填或多填。",
        )
    if not (number[:17].isascii() and number[:17].isdigit() and number[17] in "0123456789X"):
        raise IdentifierError(
            "characters",
            "The resident ID number may contain only digits, with X allowed as the last character.",
            "身份证号码只能由数字组成，最后一位可以是 X。",
        )

    try:
        birth_date = ric.get_birth_date(number)
    except StdnumValidationError:
        raise IdentifierError(
            "birth_date",
            f"The birth date {number[6:14]} in the resident ID number is not a valid date; "
            "check digits 7 to 14.",
            f"身份证号码中的出生日期 {number[6:14]} 不是有效日期；请核对第 7 至 14 位。",
        ) from None
    if birth_date > datetime.datetime.now(_CHINA_TIME).date():
        raise IdentifierError(
            "birth_date",
            f"The birth date {number[6:14]} in the resident ID number is in the future; "
            "check digits 7 to 14.",
            f"身份证号码中的出生日期 {number[6:14]} 晚于今天；请核对第 7 至 14 位。",
        )

    if number[17] != ric.calc_check_digit(number):
        raise IdentifierError(
            "checksum",
            "The resident ID number is invalid: its check character does not match the other digits. "
            "Re-check the number against the ID card.",
            "身份证号码无效：校验位与其他数字不符。请对照身份证重新核对号码。",
        )

    if not _region_known(number[:6]):
        raise IdentifierError(
            "region",
            f"The region code {number[:6]} (first six digits) of the resident ID number does not exist; "
            "re-check the number against the ID card.",
            f"身份证号码的地区码 {number[:6]}（前 6 位）不存在；请对照身份证重新核对号码。",
        )
    return number


def _region_known(code: str) -> bool:
    if code in _PERMIT_REGIONS:
        return True
    properties: dict[str, str] = {}
    for _part, part_properties in numdb.get("cn/loc").info(code):
        properties.update(part_properties)
    return bool(properties.get("county"))


def normalize_uscc(text: str) -> str:
    """Check an 18-character unified social credit code.

    stdnum's own `validate` requires digits in the first eight places, but the first
    place, the registration authority, may be a letter (Y for "other authorities"),
    so only the region code (characters 3 to 8) must be digits here.
    """
    number = compact(text)
    _reject_empty(number, "unified social credit code", "统一社会信用代码")
    if len(number) != 18:
        raise IdentifierError(
            "length",
            f"The unified social credit code has {len(number)} characters, but it must have 18; "
            "check for missing or extra characters.",
            f"统一社会信用代码有 {len(number)} 位，应为 18 位；请检查是否漏填或多填。",
        )
    if not set(number) <= _USCC_ALPHABET:
        raise IdentifierError(
            "characters",
            "The unified social credit code may contain only digits and the letters A to Y "
            "except I, O, S and V; check for the letter O written in place of the digit 0.",
            "统一社会信用代码只能包含数字和除 I、O、S、V、Z 以外的大写字母；请检查是否把数字 0 写成了字母 O。",
        )
    if not number[2:8].isdigit():
        raise IdentifierError(
            "format",
            "Characters 3 to 8 of the unified social credit code are the region code and must be digits.",
            "统一社会信用代码的第 3 至 8 位是地区码，必须是数字。",
        )
    if number[17] != uscc.calc_check_digit(number):
        raise IdentifierError(
            "checksum",
            "The unified social credit code is invalid: its check character does not match the other "
            "characters. Re-check the code against the business licence.",
            "统一社会信用代码无效：校验位与其他字符不符。请对照营业执照重新核对。",
        )
    return number


def normalize_vin(text: str) -> str:
    """Check a 17-character vehicle identification number.

    Vehicles sold in China carry a check character in position 9, so a VIN whose
    check character vininfo cannot confirm is rejected. The model year is not checked.
    """
    number = compact(text)
    _reject_empty(number, "VIN", "车架号（VIN）")
    if len(number) != 17:
        raise IdentifierError(
            "length",
            f"The VIN has {len(number)} characters, but it must have 17; check for missing or extra characters.",
            f"车架号（VIN）有 {len(number)} 位，应为 17 位；请检查是否漏填或多填。",
        )
    try:
        vin = Vin(number)
    except VinValidationError:
        raise IdentifierError(
            "characters",
            "The VIN may contain only digits and letters, and never the letters I, O or Q; "
            "check for the digits 1 and 0 typed as letters.",
            "车架号（VIN）只能包含数字和字母，且不含字母 I、O、Q；请检查是否把数字 1、0 写成了字母。",
        ) from None
    if not vin.verify_checksum(check_year=False):
        raise IdentifierError(
            "checksum",
            "The VIN is invalid: its check character (position 9) does not match the other characters. "
            "Re-check the VIN against the vehicle licence.",
            "车架号（VIN）无效：第 9 位校验位与其他字符不符。请对照行驶证重新核对。",
        )
    return number


def normalize_plate(text: str) -> str:
    """Check a mainland licence plate number and return it without separators.

    Accepted: a province abbreviation, a letter for the issuing office (not I or O),
    then five characters for ordinary plates or six for new-energy plates, from digits
    and letters other than I and O. In a new-energy plate the first or the last of
    the six is D or F. Special plates (learner, police, trailer, Hong Kong, Macau,
    embassy and consulate) are rejected.
    """
    plate = compact(text)
    _reject_empty(plate, "licence plate number", "车牌号")
    if plate[-1] in SPECIAL_PLATE_SUFFIXES:
        raise IdentifierError(
            "special",
            f"Special plates ending in {plate[-1]} are not accepted here; "
            "enter an ordinary or new-energy plate number.",
            f"此处不接受以“{plate[-1]}”结尾的特种车牌；请填写普通车牌或新能源车牌。",
        )
    if len(plate) not in (7, 8):
        raise IdentifierError(
            "length",
            f"The licence plate number has {len(plate)} characters, but it must have 7 "
            "(8 for new-energy plates), such as 京A12345.",
            f"车牌号有 {len(plate)} 个字符，应为 7 个（新能源车牌为 8 个），例如 京A12345。",
        )
    if plate[0] not in PLATE_PROVINCES:
        raise IdentifierError(
            "province",
            "The licence plate number must start with a province abbreviation, such as 京, 沪 or 粤.",
            "车牌号必须以省份简称开头，例如 京、沪、粤。",
        )
    if plate[1] not in _PLATE_LETTERS:
        raise IdentifierError(
            "format",
            "The second character of the licence plate number must be a letter other than I and O.",
            "车牌号的第 2 个字符必须是字母（不含 I 和 O）。",
        )
    if not set(plate[2:]) <= _PLATE_CHARACTERS:
        raise IdentifierError(
            "characters",
            "After the first two characters a licence plate number contains only digits and letters, "
            "never I or O; check for the digits 1 and 0 typed as letters.",
            "车牌号前两位之后只能是数字和字母，且不含 I 和 O；请检查是否把数字 1、0 写成了字母。",
        )
    if len(plate) == 8 and plate[2] not in "DF" and plate[7] not in "DF":
        raise IdentifierError(
            "format",
            "An 8-character licence plate number is a new-energy plate, so its third or last "
            "character must be D or F.",
            "8 位车牌号是新能源车牌，第 3 位或最后一位必须是 D 或 F。",
        )
    return plate


def normalize_mobile(text: str) -> str:
    """Check a mainland mobile number and return its 11 digits without a +86 prefix."""
    number = compact(text)
    _reject_empty(number, "mobile number", "手机号码")
    if number.startswith("+86"):
        number = number[3:]
    elif number.startswith("0086") and len(number) == 15:
        number = number[4:]
    elif number.startswith("86") and len(number) == 13:
        number = number[2:]
    if not (number.isascii() and number.isdigit()):
        raise IdentifierError(
            "characters",
            "The mobile number may contain only digits, with an optional +86 prefix.",
            "手机号码只能包含数字，可带 +86 前缀。",
        )
    if len(number) != 11:
        raise IdentifierError(
            "length",
            f"The mobile number has {len(number)} digits, but it must have 11; check for missing or extra digits.",
            f"手机号码有 {len(number)} 位，应为 11 位；请检查是否漏填或多填。",
        )
    if not _MOBILE.fullmatch(number):
        raise IdentifierError(
            "format",
            "The mobile number must start with 13 to 19; enter a mainland China mobile number.",
            "手机号码必须以 13 至 19 开头；请填写中国大陆手机号码。",
        )
    return number


def normalize_bank_card(text: str) -> str:
    """Check a bank card number of 12 to 19 digits with a Luhn check digit."""
    number = compact(text)
    _reject_empty(number, "bank card number", "银行卡号")
    if not (number.isascii() and number.isdigit()):
        raise IdentifierError(
            "characters",
            "The bank card number may contain only digits.",
            "银行卡号只能包含数字。",
        )
    if not 12 <= len(number) <= 19:
        raise IdentifierError(
            "length",
            f"The bank card number has {len(number)} digits, but it must have 12 to 19; "
            "check for missing or extra digits.",
            f"银行卡号有 {len(number)} 位，应为 12 至 19 位；请检查是否漏填或多填。",
        )
    if not luhn.is_valid(number):
        raise IdentifierError(
            "checksum",
            "The bank card number is invalid: its check digit does not match the other digits. "
            "Re-check the number against the card.",
            "银行卡号无效：校验位与其他数字不符。请对照银行卡重新核对。",
        )
    return number


_NORMALIZERS: Mapping[str, Callable[[str], str]] = {
    "resident_id": normalize_resident_id,
    "uscc": normalize_uscc,
    "vin": normalize_vin,
    "plate": normalize_plate,
    "mobile": normalize_mobile,
    "bank_card": normalize_bank_card,
}

#: Field types that `check_identifier` accepts; equal to `model.IDENTIFIER_TYPES`.
IDENTIFIER_TYPES = frozenset(_NORMALIZERS)


def check_identifier(field_type: str, value: str) -> str:
    """Normalize and check `value` as an identifier of `field_type`.

    Raises IdentifierError for an invalid value and ValueError for a field type
    that is not an identifier type.
    """
    normalizer = _NORMALIZERS.get(field_type)
    if normalizer is None:
        raise ValueError(f"{field_type!r} is not an identifier type; expected one of {sorted(_NORMALIZERS)}")
    return normalizer(value)


def mask(field_type: str, value: str) -> str:
    """Return the value for display with most characters replaced by asterisks.

    Identifiers are normalized first, and an invalid one is masked as typed without
    separators. Values too short to keep both ends hidden become all asterisks.
    """
    if field_type in _NORMALIZERS:
        try:
            text = check_identifier(field_type, value)
        except IdentifierError:
            text = compact(value)
    else:
        text = value.strip()

    if field_type == "resident_id":
        return _keep_ends(text, 3, 4)
    if field_type == "mobile":
        return _keep_ends(text, 3, 4)
    if field_type == "bank_card":
        if len(text) <= 8:
            return "*" * len(text)
        # A fixed-width mask keeps the card's length hidden too.
        return "**** **** **** " + text[-4:]
    return _keep_ends(text, 2, 2)


def _keep_ends(text: str, head: int, tail: int) -> str:
    hidden = len(text) - head - tail
    if hidden < 1:
        return "*" * len(text)
    return text[:head] + "*" * hidden + text[len(text) - tail :]
