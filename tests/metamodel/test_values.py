"""Tests of single-value and whole-record checks for every field type."""

from __future__ import annotations

import dataclasses
import datetime
from decimal import Decimal
from typing import Any

import pytest

from metamodel.expressions import parse_expression
from metamodel.model import FIELD_TYPES, Choice, Field, Label, Source
from metamodel.values import ValueProblem, check_row, check_value

SOURCE = Source("entities/test.yaml", 1, 1)
MOBILE = "13812345678"


def field(name: str, type: str, **options: Any) -> Field:
    return Field(name=name, type=type, label=Label(zh_cn=name, en=name), source=SOURCE, **options)


def value_of(type: str, value: Any, **options: Any) -> Any:
    normalized, problems = check_value(field("f", type, **options), value)
    assert problems == []
    return normalized


def codes_of(type: str, value: Any, **options: Any) -> list[str]:
    return [problem.code for problem in check_value(field("f", type, **options), value)[1]]


def problem_of(type: str, value: Any, **options: Any) -> ValueProblem:
    problems = check_value(field("f", type, **options), value)[1]
    assert len(problems) == 1
    return problems[0]


def computed(source: str) -> Any:
    expression, problems = parse_expression(source)
    assert problems == []
    return expression


STATUS_CHOICES = (
    Choice("draft", Label(zh_cn="草稿", en="Draft")),
    Choice("approved", Label(zh_cn="已审批", en="Approved")),
)


# Empty values


@pytest.mark.parametrize("type", FIELD_TYPES)
def test_required_none_for_every_type(type: str) -> None:
    assert codes_of(type, None, required=True) == ["required"]


@pytest.mark.parametrize("type", FIELD_TYPES)
def test_optional_none_for_every_type(type: str) -> None:
    assert codes_of(type, None) == []


def test_required_blank_string() -> None:
    assert codes_of("string", "   ", required=True) == ["required"]


def test_required_empty_list() -> None:
    assert codes_of("multi_reference", [], required=True) == ["required"]


def test_optional_empty_list_is_empty_list() -> None:
    assert value_of("attachments", []) == []


def test_required_boolean_false_accepted() -> None:
    assert value_of("boolean", False, required=True) is False


def test_unknown_field_type_raises() -> None:
    with pytest.raises(ValueError, match="unknown type"):
        check_value(field("f", "colour"), "red")


def test_value_problem_is_frozen() -> None:
    problem = problem_of("integer", "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.code = "other"  # type: ignore[misc]


# Text


def test_string_stripped() -> None:
    assert value_of("string", "  张三  ") == "张三"


def test_text_line_endings() -> None:
    assert value_of("text", "第一行\r\n第二行") == "第一行\n第二行"


def test_string_number_from_yaml_rejected() -> None:
    assert codes_of("string", 1001) == ["type"]


def test_string_too_short() -> None:
    assert codes_of("string", "ab", min_length=3) == ["min_length"]


def test_string_too_long() -> None:
    assert codes_of("string", "abcd", max_length=3) == ["max_length"]


def test_string_length_counts_characters() -> None:
    assert value_of("string", "北京市", max_length=3) == "北京市"


def test_string_pattern_mismatch() -> None:
    assert codes_of("string", "AB-12", pattern=r"[A-Z]{2}\d{2}") == ["pattern"]


def test_string_pattern_must_match_whole_text() -> None:
    assert codes_of("string", "AB12X", pattern=r"[A-Z]{2}\d{2}") == ["pattern"]


def test_pattern_message_replaces_pattern() -> None:
    message = Label("请填写 15 位数字的设备号", "Enter the device number as 15 digits")
    problem = problem_of("string", "86-35", pattern=r"[0-9]{15}", pattern_message=message)

    assert (problem.code, problem.message_zh, problem.message_en) == ("pattern", "请填写 15 位数字的设备号", "Enter the device number as 15 digits")


def test_string_pattern_match() -> None:
    assert value_of("string", "AB12", pattern=r"[A-Z]{2}\d{2}") == "AB12"


# Integers


def test_integer_from_text() -> None:
    assert value_of("integer", " 42 ") == 42


def test_integer_thousands_separators() -> None:
    assert value_of("integer", "1,234") == 1234


def test_integer_whole_float() -> None:
    assert value_of("integer", 3.0) == 3


def test_integer_fraction_rejected() -> None:
    assert codes_of("integer", "3.5") == ["type"]


def test_integer_true_is_not_one() -> None:
    assert codes_of("integer", True) == ["type"]


def test_integer_below_min() -> None:
    assert codes_of("integer", 0, min=Decimal(1)) == ["min"]


def test_integer_above_max() -> None:
    assert codes_of("integer", 11, max=Decimal(10)) == ["max"]


def test_integer_at_max() -> None:
    assert value_of("integer", 10, max=Decimal(10)) == 10


# Decimals, money and percentages


def test_decimal_thousands_separators() -> None:
    assert value_of("decimal", "1,234.50") == Decimal("1234.50")


def test_decimal_without_places_kept() -> None:
    assert value_of("decimal", "1.23456") == Decimal("1.23456")


def test_decimal_places_pad() -> None:
    assert str(value_of("decimal", "1.5", places=3)) == "1.500"


def test_decimal_float_from_yaml() -> None:
    assert value_of("decimal", 0.1) == Decimal("0.1")


def test_decimal_bad_grouping() -> None:
    assert codes_of("decimal", "1,23,4") == ["type"]


def test_decimal_exponent_text_rejected() -> None:
    assert codes_of("decimal", "1e5") == ["type"]


def test_decimal_word_rejected() -> None:
    assert codes_of("decimal", "twelve") == ["type"]


def test_decimal_list_rejected() -> None:
    assert codes_of("decimal", [1]) == ["type"]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), Decimal("NaN"), Decimal("-Infinity")])
def test_decimal_non_finite_number(value: Any) -> None:
    assert codes_of("decimal", value) == ["not_finite"]


@pytest.mark.parametrize("text", ["NaN", "nan", "Infinity", "-inf", "sNaN"])
def test_decimal_non_finite_text(text: str) -> None:
    assert codes_of("decimal", text) == ["not_finite"]


def test_decimal_true_is_not_one() -> None:
    assert codes_of("decimal", True) == ["type"]


def test_money_default_two_places() -> None:
    assert str(value_of("money", "1,234.5")) == "1234.50"


def test_money_full_width_digits_and_comma() -> None:
    assert value_of("money", "１，２３４．５０") == Decimal("1234.50")


def test_money_yen_sign() -> None:
    assert value_of("money", "￥1,000") == Decimal("1000.00")


def test_money_float_stays_exact() -> None:
    assert str(value_of("money", 0.1)) == "0.10"


def test_money_integer_from_yaml() -> None:
    assert str(value_of("money", 5)) == "5.00"


def test_money_returns_decimal() -> None:
    assert isinstance(value_of("money", 5), Decimal)


def test_money_too_many_places() -> None:
    assert codes_of("money", "1.005") == ["places"]


def test_money_places_message_names_maximum() -> None:
    assert "2" in problem_of("money", "1.005").message_en


def test_money_extra_places_rounded_half_up() -> None:
    assert check_value(field("f", "money"), "1.005")[0] == Decimal("1.01")


def test_money_trailing_zeros_accepted() -> None:
    assert str(value_of("money", "1.500")) == "1.50"


def test_money_field_places_zero() -> None:
    assert codes_of("money", "10.5", places=0) == ["places"]


def test_money_true_is_not_one() -> None:
    assert codes_of("money", True) == ["type"]


def test_money_negative_zero() -> None:
    assert str(value_of("money", "-0")) == "0.00"


def test_money_above_max() -> None:
    assert codes_of("money", "100.01", max=Decimal(100)) == ["max"]


def test_money_huge_value_rejected() -> None:
    assert codes_of("money", 1e300) == ["digits"]


def test_money_largest_stored_value() -> None:
    assert value_of("money", "9999999999999999.99") == Decimal("9999999999999999.99")
    assert codes_of("money", "10000000000000000") == ["digits"]


def test_percent() -> None:
    assert value_of("percent", "12.5") == Decimal("12.5")


def test_percent_not_finite() -> None:
    assert codes_of("percent", "Infinity") == ["not_finite"]


# Booleans


@pytest.mark.parametrize("value", [True, "true", "Yes", "是", "on", "1", 1])
def test_boolean_true(value: Any) -> None:
    assert value_of("boolean", value) is True


@pytest.mark.parametrize("value", [False, "false", "NO", "否", "off", "0", 0])
def test_boolean_false(value: Any) -> None:
    assert value_of("boolean", value) is False


@pytest.mark.parametrize("value", [2, "maybe", 1.0])
def test_boolean_rejected(value: Any) -> None:
    assert codes_of("boolean", value) == ["type"]


# Dates and times


def test_date_iso_text() -> None:
    assert value_of("date", "2024-03-15") == datetime.date(2024, 3, 15)


def test_date_slashes() -> None:
    assert value_of("date", "2024/3/5") == datetime.date(2024, 3, 5)


def test_date_chinese() -> None:
    assert value_of("date", "2024年3月5日") == datetime.date(2024, 3, 5)


def test_date_full_width_digits() -> None:
    assert value_of("date", "２０２４-０３-１５") == datetime.date(2024, 3, 15)


def test_date_object_from_yaml() -> None:
    assert value_of("date", datetime.date(2024, 3, 15)) == datetime.date(2024, 3, 15)


def test_date_with_time_rejected() -> None:
    assert codes_of("date", datetime.datetime(2024, 3, 15, 9, 30)) == ["type"]


def test_date_does_not_exist() -> None:
    assert codes_of("date", "2024-02-30") == ["type"]


def test_date_day_first_rejected() -> None:
    assert codes_of("date", "15/03/2024") == ["type"]


def test_date_mixed_separators_rejected() -> None:
    assert codes_of("date", "2024-03/15") == ["type"]


def test_datetime_iso_text() -> None:
    assert value_of("datetime", "2024-03-15T09:30:00") == datetime.datetime(2024, 3, 15, 9, 30)


def test_datetime_space_separator() -> None:
    assert value_of("datetime", "2024-03-15 09:30") == datetime.datetime(2024, 3, 15, 9, 30)


def test_datetime_keeps_offset() -> None:
    offset = value_of("datetime", "2024-03-15T09:30:00+08:00").utcoffset()
    assert offset == datetime.timedelta(hours=8)


def test_datetime_object_from_yaml() -> None:
    moment = datetime.datetime(2024, 3, 15, 9, 30)
    assert value_of("datetime", moment) == moment


def test_datetime_date_only_rejected() -> None:
    assert codes_of("datetime", "2024-03-15") == ["type"]


def test_datetime_bad_month() -> None:
    assert codes_of("datetime", "2024-13-01 10:00") == ["type"]


# Choices


def test_enum_value() -> None:
    assert value_of("enum", "draft", choices=STATUS_CHOICES) == "draft"


def test_enum_chinese_label() -> None:
    assert value_of("enum", "已审批", choices=STATUS_CHOICES) == "approved"


def test_enum_integer_from_yaml() -> None:
    levels = (Choice("1", Label(zh_cn="一级", en="Level 1")),)
    assert value_of("enum", 1, choices=levels) == "1"


def test_enum_mismatch() -> None:
    assert codes_of("enum", "deleted", choices=STATUS_CHOICES) == ["choice"]


def test_enum_message_lists_allowed_values() -> None:
    problem = problem_of("enum", "deleted", choices=STATUS_CHOICES)
    assert problem.message_en.endswith("choose one of: Draft (draft), Approved (approved).")
    assert problem.expected == "draft, approved"


def test_enum_chinese_message_lists_values() -> None:
    assert problem_of("enum", "deleted", choices=STATUS_CHOICES).message_zh.endswith("请从以下值中选择：草稿（draft）、已审批（approved）。")


def test_enum_boolean_rejected() -> None:
    assert codes_of("enum", True, choices=STATUS_CHOICES) == ["choice"]


# References


def test_reference_key() -> None:
    assert value_of("reference", " CUST-001 ") == "CUST-001"


def test_reference_integer_key() -> None:
    assert value_of("reference", 12) == "12"


def test_reference_boolean_rejected() -> None:
    assert codes_of("reference", True) == ["type"]


def test_multi_reference_list_deduplicated() -> None:
    assert value_of("multi_reference", ["a", "b", "a"]) == ["a", "b"]


def test_multi_reference_comma_text() -> None:
    assert value_of("multi_reference", "a, b，c") == ["a", "b", "c"]


def test_multi_reference_only_commas_required() -> None:
    assert codes_of("multi_reference", " , ", required=True) == ["required"]


def test_multi_reference_bad_item() -> None:
    assert codes_of("multi_reference", ["a", None]) == ["type"]


def test_multi_reference_mapping_rejected() -> None:
    assert codes_of("multi_reference", {"a": 1}) == ["type"]


# Attachments


def test_attachment_file_name() -> None:
    assert value_of("attachment", "scan.pdf") == "scan.pdf"


def test_attachment_number_rejected() -> None:
    assert codes_of("attachment", 12) == ["type"]


def test_attachments_single_name() -> None:
    assert value_of("attachments", "scan.pdf") == ["scan.pdf"]


def test_attachments_list() -> None:
    assert value_of("attachments", ["a.pdf", "b.jpg"]) == ["a.pdf", "b.jpg"]


def test_attachments_bad_item() -> None:
    assert codes_of("attachments", ["a.pdf", 3]) == ["type"]


# JSON


def test_json_mapping() -> None:
    assert value_of("json", {"a": [1, 2]}) == {"a": [1, 2]}


def test_json_text_object() -> None:
    assert value_of("json", '{"a": 1}') == {"a": 1}


def test_json_text_array() -> None:
    assert value_of("json", "[1, 2]") == [1, 2]


def test_json_syntax_error() -> None:
    assert codes_of("json", '{"a": ') == ["type"]


def test_json_scalar_rejected() -> None:
    assert codes_of("json", "3") == ["type"]


def test_json_nan_text_rejected() -> None:
    assert codes_of("json", '{"a": NaN}') == ["type"]


def test_json_nan_float_rejected() -> None:
    assert codes_of("json", {"a": float("nan")}) == ["type"]


def test_json_date_rejected() -> None:
    assert codes_of("json", {"day": datetime.date(2024, 1, 1)}) == ["type"]


# Geographic points


def test_geo_point_mapping() -> None:
    assert value_of("geo_point", {"lat": 39.9, "lng": 116.4}) == {"lat": Decimal("39.9"), "lng": Decimal("116.4")}


def test_geo_point_list_is_longitude_first() -> None:
    assert value_of("geo_point", [116.4, 39.9]) == {"lat": Decimal("39.9"), "lng": Decimal("116.4")}


def test_geo_point_text() -> None:
    assert value_of("geo_point", "116.4, 39.9") == {"lat": Decimal("39.9"), "lng": Decimal("116.4")}


def test_geo_point_swapped_order() -> None:
    assert codes_of("geo_point", [39.9, 116.4]) == ["max"]


def test_geo_point_longitude_below_range() -> None:
    assert codes_of("geo_point", {"lat": 0, "lng": -180.5}) == ["min"]


def test_geo_point_missing_longitude() -> None:
    assert codes_of("geo_point", {"lat": 39.9}) == ["type"]


def test_geo_point_boolean_coordinate() -> None:
    assert codes_of("geo_point", {"lat": True, "lng": 116.4}) == ["type"]


def test_geo_point_nan() -> None:
    assert codes_of("geo_point", {"lat": float("nan"), "lng": 116.4}) == ["not_finite"]


def test_geo_point_text_without_comma() -> None:
    assert codes_of("geo_point", "116.4") == ["type"]


# Identifiers


def test_mobile_with_prefix() -> None:
    assert value_of("mobile", "+86 138 1234 5678") == MOBILE


def test_mobile_integer_from_yaml() -> None:
    assert value_of("mobile", 13812345678) == MOBILE


def test_mobile_invalid_code() -> None:
    assert codes_of("mobile", "12812345678") == ["format"]


def test_mobile_boolean_rejected() -> None:
    assert codes_of("mobile", True) == ["type"]


def test_resident_id_problem_found_is_masked() -> None:
    assert problem_of("resident_id", "110105194912310021").found == "110***********0021"


def test_resident_id_problem_code() -> None:
    assert codes_of("resident_id", "110105194912310021") == ["checksum"]


def test_plate_normalized() -> None:
    assert value_of("plate", "粤b·d12345") == "粤BD12345"


# Whole records


CUSTOMER_FIELDS = {
    "name": field("name", "string", required=True),
    "credit_limit": field("credit_limit", "money", default=0),
    "level": field("level", "enum", choices=STATUS_CHOICES),
    "total": field("total", "money", computed=computed("credit_limit * 2"), required=True),
    "created_on": field("created_on", "date", read_only=True, required=True, default=datetime.date(2024, 1, 1)),
    "contacts": field(
        "contacts",
        "child",
        fields=(
            field("person", "string", required=True),
            field("phone", "mobile"),
            field(
                "addresses",
                "child",
                fields=(field("city", "string", required=True),),
            ),
        ),
    ),
}


def test_row_valid() -> None:
    assert check_row(CUSTOMER_FIELDS, {"name": "华为"})[1] == {}


def test_row_default_applied() -> None:
    assert check_row(CUSTOMER_FIELDS, {"name": "华为"})[0]["credit_limit"] == Decimal("0.00")


def test_row_read_only_default_applied() -> None:
    assert check_row(CUSTOMER_FIELDS, {"name": "华为"})[0]["created_on"] == datetime.date(2024, 1, 1)


def test_row_optional_absent_stays_absent() -> None:
    assert "level" not in check_row(CUSTOMER_FIELDS, {"name": "华为"})[0]


def test_row_computed_not_required() -> None:
    assert "total" not in check_row(CUSTOMER_FIELDS, {"name": "华为"})[1]


def test_row_computed_value_rejected() -> None:
    problems = check_row(CUSTOMER_FIELDS, {"name": "华为", "total": 5})[1]
    assert [problem.code for problem in problems["total"]] == ["computed"]


def test_row_required_missing() -> None:
    problems = check_row(CUSTOMER_FIELDS, {})[1]
    assert [problem.code for problem in problems["name"]] == ["required"]


def test_row_value_normalized() -> None:
    assert check_row(CUSTOMER_FIELDS, {"name": "华为", "credit_limit": "1,000"})[0]["credit_limit"] == Decimal("1000.00")


def test_row_unknown_field_code() -> None:
    problems = check_row(CUSTOMER_FIELDS, {"name": "华为", "nmae": "x"})[1]
    assert [problem.code for problem in problems["nmae"]] == ["unknown_field"]


def test_row_unknown_field_suggestion() -> None:
    problem = check_row(CUSTOMER_FIELDS, {"name": "华为", "credit_limt": 1})[1]["credit_limt"][0]
    assert problem.expected == "credit_limit"


def test_row_unknown_field_suggestion_in_message() -> None:
    problem = check_row(CUSTOMER_FIELDS, {"name": "华为", "credit_limt": 1})[1]["credit_limt"][0]
    assert "did you mean 'credit_limit'" in problem.message_en


def test_row_unknown_field_without_suggestion() -> None:
    problem = check_row(CUSTOMER_FIELDS, {"name": "华为", "zzz": 1})[1]["zzz"][0]
    assert problem.expected is None


def test_row_unknown_field_not_in_result() -> None:
    assert "nmae" not in check_row(CUSTOMER_FIELDS, {"name": "华为", "nmae": "x"})[0]


def test_child_rows_normalized() -> None:
    row = {"name": "华为", "contacts": [{"person": "张三", "phone": "+86 138 1234 5678"}]}
    assert check_row(CUSTOMER_FIELDS, row)[0]["contacts"] == [{"person": "张三", "phone": MOBILE}]


def test_child_problem_key() -> None:
    row = {"name": "华为", "contacts": [{"person": "张三"}, {"person": "李四", "phone": "123"}]}
    assert list(check_row(CUSTOMER_FIELDS, row)[1]) == ["contacts[1].phone"]


def test_child_problem_path() -> None:
    row = {"name": "华为", "contacts": [{"person": "张三", "phone": "123"}]}
    assert check_row(CUSTOMER_FIELDS, row)[1]["contacts[0].phone"][0].path == "[0].phone"


def test_child_required_missing_key() -> None:
    row = {"name": "华为", "contacts": [{}]}
    assert [problem.code for problem in check_row(CUSTOMER_FIELDS, row)[1]["contacts[0].person"]] == ["required"]


def test_child_unknown_field_key() -> None:
    row = {"name": "华为", "contacts": [{"person": "张三", "phnoe": MOBILE}]}
    assert list(check_row(CUSTOMER_FIELDS, row)[1]) == ["contacts[0].phnoe"]


def test_grandchild_problem_key() -> None:
    row = {"name": "华为", "contacts": [{"person": "张三", "addresses": [{"city": "深圳"}, {}]}]}
    assert list(check_row(CUSTOMER_FIELDS, row)[1]) == ["contacts[0].addresses[1].city"]


def test_child_not_a_list() -> None:
    problems = check_row(CUSTOMER_FIELDS, {"name": "华为", "contacts": "张三"})[1]
    assert [problem.code for problem in problems["contacts"]] == ["type"]


def test_child_row_not_a_mapping() -> None:
    problems = check_row(CUSTOMER_FIELDS, {"name": "华为", "contacts": ["张三"]})[1]
    assert [problem.code for problem in problems["contacts[0]"]] == ["type"]


def test_check_value_child_reports_paths() -> None:
    problems = check_value(CUSTOMER_FIELDS["contacts"], [{"person": ""}])[1]
    assert [problem.path for problem in problems] == ["[0].person"]
