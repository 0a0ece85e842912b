"""Tests of the Chinese identifier checks; valid examples get their check characters from the libraries."""

from __future__ import annotations

import datetime

import pytest
from stdnum import luhn
from stdnum.cn import ric, uscc
from vininfo import Vin

from metamodel import model
from metamodel.identifiers import (
    IDENTIFIER_TYPES,
    IdentifierError,
    check_identifier,
    mask,
    normalize_bank_card,
    normalize_mobile,
    normalize_plate,
    normalize_resident_id,
    normalize_uscc,
    normalize_vin,
)


def resident_id(first_17: str) -> str:
    """Complete 17 digits with the check character that stdnum computes."""
    return first_17 + ric.calc_check_digit(first_17 + "0")


def resident_id_ending_in_x() -> str:
    for order in range(1000):
        number = resident_id(f"11010519900307{order:03d}")
        if number.endswith("X"):
            return number
    raise AssertionError("no order code gives the check character X")


def with_wrong_check_character(number: str) -> str:
    wrong = "0" if number[-1] != "0" else "1"
    return number[:-1] + wrong


def vin_with_valid_check(vin: str) -> str:
    """Replace position 9 by the character for which vininfo confirms the check."""
    for character in "0123456789X":
        candidate = vin[:8] + character + vin[9:]
        if Vin(candidate).verify_checksum(check_year=False):
            return candidate
    raise AssertionError(f"no check character fits {vin}")


def error_of(normalize: object, text: str) -> IdentifierError:
    assert callable(normalize)
    with pytest.raises(IdentifierError) as raised:
        normalize(text)
    return raised.value


VALID_ID = resident_id("11010519491231002")
VALID_USCC = "91110000600037341L"
VALID_VIN = vin_with_valid_check("LSVAU2180N2183294")
VALID_CARD = "622202020011223" + luhn.calc_check_digit("622202020011223")


# Resident ID numbers


def test_resident_id_valid_example() -> None:
    assert ric.is_valid(VALID_ID)
    assert normalize_resident_id(VALID_ID) == VALID_ID


def test_resident_id_lower_case_x_upper_cased() -> None:
    number = resident_id_ending_in_x()
    assert normalize_resident_id(number[:-1] + "x") == number


def test_resident_id_full_width_digits_and_spaces() -> None:
    full_width = "".join(chr(ord(digit) + 0xFEE0) for digit in VALID_ID)
    assert normalize_resident_id(f"　{full_width[:6]} {full_width[6:14]}-{full_width[14:]} ") == VALID_ID


def test_resident_id_bad_checksum() -> None:
    assert error_of(normalize_resident_id, with_wrong_check_character(VALID_ID)).code == "checksum"


def test_checksum_message_hides_check_character() -> None:
    error = error_of(normalize_resident_id, with_wrong_check_character(VALID_ID))
    assert VALID_ID[-1] not in error.message_en
    assert VALID_ID[-1] not in error.message_zh


def test_resident_id_messages_in_both_languages() -> None:
    error = error_of(normalize_resident_id, with_wrong_check_character(VALID_ID))
    assert "re-check" in error.message_en.lower()
    assert "核对" in error.message_zh


def test_resident_id_impossible_birth_date() -> None:
    assert error_of(normalize_resident_id, resident_id("11010519900230001")).code == "birth_date"


def test_resident_id_birth_date_in_future() -> None:
    next_year = datetime.date.today().year + 1
    assert error_of(normalize_resident_id, resident_id(f"110105{next_year}0101001")).code == "birth_date"


def test_resident_id_too_short() -> None:
    assert error_of(normalize_resident_id, VALID_ID[:17]).code == "length"


def test_resident_id_old_fifteen_digits() -> None:
    error = error_of(normalize_resident_id, "110105491231002")
    assert error.code == "length"
    assert "15" in error.message_en


def test_resident_id_letter_inside() -> None:
    assert error_of(normalize_resident_id, "1101051949A231002" + VALID_ID[-1]).code == "characters"


def test_resident_id_unknown_region() -> None:
    assert error_of(normalize_resident_id, resident_id("99999919900101001")).code == "region"


def test_resident_id_region_created_after_birth_year() -> None:
    number = resident_id("44030519500101001")  # Nanshan district, created in 1990
    assert normalize_resident_id(number) == number


def test_resident_id_residence_permit_for_taiwan() -> None:
    number = resident_id("83000019800101001")
    assert normalize_resident_id(number) == number


def test_resident_id_empty() -> None:
    assert error_of(normalize_resident_id, "  ").code == "empty"


# Unified social credit codes


def test_uscc_valid_example() -> None:
    assert normalize_uscc(VALID_USCC) == VALID_USCC


def test_uscc_lower_case_and_spaces() -> None:
    assert normalize_uscc(" 9111 0000 6000 3734 1l ") == VALID_USCC


def test_uscc_letter_registration_authority() -> None:
    first_17 = "Y1110000MA01234DX"
    code = first_17 + uscc.calc_check_digit(first_17)
    assert normalize_uscc(code) == code


def test_uscc_bad_checksum() -> None:
    assert error_of(normalize_uscc, VALID_USCC[:17] + "M").code == "checksum"


def test_uscc_wrong_length() -> None:
    assert error_of(normalize_uscc, VALID_USCC[:16]).code == "length"


def test_uscc_letter_o_rejected() -> None:
    assert error_of(normalize_uscc, "91110000600O37341L").code == "characters"


def test_uscc_region_code_not_digits() -> None:
    assert error_of(normalize_uscc, "9111A000600037341L").code == "format"


# Vehicle identification numbers


def test_vin_valid_example() -> None:
    assert normalize_vin(VALID_VIN) == VALID_VIN


def test_vin_north_american_example() -> None:
    assert normalize_vin("1M8GDM9AXKP042788") == "1M8GDM9AXKP042788"


def test_vin_lower_case_upper_cased() -> None:
    assert normalize_vin(VALID_VIN.lower()) == VALID_VIN


def test_vin_bad_checksum() -> None:
    wrong = "1" if VALID_VIN[8] != "1" else "2"
    assert error_of(normalize_vin, VALID_VIN[:8] + wrong + VALID_VIN[9:]).code == "checksum"


@pytest.mark.parametrize("letter", ["I", "O", "Q"])
def test_vin_letters_i_o_q_rejected(letter: str) -> None:
    assert error_of(normalize_vin, VALID_VIN[:12] + letter + VALID_VIN[13:]).code == "characters"


def test_vin_wrong_length() -> None:
    assert error_of(normalize_vin, VALID_VIN[:16]).code == "length"


# Licence plates


def test_plate_ordinary() -> None:
    assert normalize_plate("京A12345") == "京A12345"


def test_plate_with_letters_in_sequence() -> None:
    assert normalize_plate("沪B9Q8K7") == "沪B9Q8K7"


def test_plate_separators_and_lower_case() -> None:
    assert normalize_plate(" 粤b·a1234 ") == "粤BA1234"


def test_plate_full_width_characters() -> None:
    assert normalize_plate("京Ａ１２３４５") == "京A12345"


def test_plate_new_energy_small_vehicle() -> None:
    assert normalize_plate("粤BD12345") == "粤BD12345"


def test_plate_new_energy_large_vehicle() -> None:
    assert normalize_plate("沪A12345F") == "沪A12345F"


def test_plate_eight_characters_without_d_or_f() -> None:
    assert error_of(normalize_plate, "京AA12345").code == "format"


def test_plate_unknown_province() -> None:
    assert error_of(normalize_plate, "港A12345").code == "province"


def test_plate_letter_o_in_sequence() -> None:
    assert error_of(normalize_plate, "京A1234O").code == "characters"


def test_plate_issuing_office_letter_i() -> None:
    assert error_of(normalize_plate, "京I12345").code == "format"


def test_plate_issuing_office_digit() -> None:
    assert error_of(normalize_plate, "京112345").code == "format"


def test_plate_too_short() -> None:
    assert error_of(normalize_plate, "京A1234").code == "length"


@pytest.mark.parametrize("plate", ["粤A1234学", "京A0001警", "沪A1234挂", "粤Z1234港", "粤Z1234澳"])
def test_plate_special_rejected(plate: str) -> None:
    assert error_of(normalize_plate, plate).code == "special"


# Mobile numbers


def test_mobile_plain() -> None:
    assert normalize_mobile("13812345678") == "13812345678"


def test_mobile_plus_86_with_spaces() -> None:
    assert normalize_mobile("+86 138 1234 5678") == "13812345678"


def test_mobile_86_prefix() -> None:
    assert normalize_mobile("8613812345678") == "13812345678"


def test_mobile_0086_prefix() -> None:
    assert normalize_mobile("0086-138-1234-5678") == "13812345678"


def test_mobile_full_width_digits() -> None:
    assert normalize_mobile("１３８１２３４５６７８") == "13812345678"


def test_mobile_second_digit_too_low() -> None:
    assert error_of(normalize_mobile, "12812345678").code == "format"


def test_mobile_too_short() -> None:
    assert error_of(normalize_mobile, "1381234567").code == "length"


def test_mobile_letter() -> None:
    assert error_of(normalize_mobile, "1381234567a").code == "characters"


# Bank card numbers


def test_bank_card_valid() -> None:
    assert normalize_bank_card(VALID_CARD) == VALID_CARD


def test_bank_card_groups_of_four() -> None:
    grouped = " ".join(VALID_CARD[index : index + 4] for index in range(0, len(VALID_CARD), 4))
    assert normalize_bank_card(grouped) == VALID_CARD


def test_bank_card_twelve_digits() -> None:
    number = "12345678901" + luhn.calc_check_digit("12345678901")
    assert normalize_bank_card(number) == number


def test_bank_card_bad_checksum() -> None:
    assert error_of(normalize_bank_card, with_wrong_check_character(VALID_CARD)).code == "checksum"


def test_bank_card_too_short() -> None:
    number = "1234567890" + luhn.calc_check_digit("1234567890")
    assert error_of(normalize_bank_card, number).code == "length"


def test_bank_card_too_long() -> None:
    number = "1" * 19 + luhn.calc_check_digit("1" * 19)
    assert error_of(normalize_bank_card, number).code == "length"


def test_bank_card_letter() -> None:
    assert error_of(normalize_bank_card, VALID_CARD[:-1] + "A").code == "characters"


# Dispatch


def test_identifier_types_match_model() -> None:
    assert IDENTIFIER_TYPES == model.IDENTIFIER_TYPES


def test_check_identifier_dispatches() -> None:
    assert check_identifier("mobile", "+8613812345678") == "13812345678"


def test_check_identifier_raises_identifier_error() -> None:
    with pytest.raises(IdentifierError):
        check_identifier("vin", "123")


def test_check_identifier_unknown_type() -> None:
    with pytest.raises(ValueError, match="not an identifier type"):
        check_identifier("string", "abc")


def test_identifier_error_is_value_error() -> None:
    assert isinstance(error_of(normalize_mobile, "1"), ValueError)


# Masks


def test_mask_resident_id() -> None:
    assert mask("resident_id", "11010519491231002X") == "110***********002X"


def test_mask_resident_id_normalizes_first() -> None:
    assert mask("resident_id", "110105 19491231 002x") == "110***********002X"


def test_mask_mobile() -> None:
    assert mask("mobile", "13812345678") == "138****5678"


def test_mask_mobile_strips_prefix() -> None:
    assert mask("mobile", "+86 138 1234 5678") == "138****5678"


def test_mask_bank_card() -> None:
    assert mask("bank_card", VALID_CARD) == "**** **** **** " + VALID_CARD[-4:]


def test_mask_vin() -> None:
    assert mask("vin", VALID_VIN) == VALID_VIN[:2] + "*" * 13 + VALID_VIN[-2:]


def test_mask_plate() -> None:
    assert mask("plate", "京A12345") == "京A***45"


def test_mask_other_type() -> None:
    assert mask("string", " 张三丰先生 ") == "张三*先生"


def test_mask_short_value() -> None:
    assert mask("string", "张三") == "**"


def test_mask_invalid_identifier_as_typed() -> None:
    assert mask("mobile", "138 1234 567") == "138***4567"
