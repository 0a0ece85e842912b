"""The problems that value checks report, with their messages in English and Simplified Chinese."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

@dataclass(frozen=True)
class ValueProblem:
    """One reason why a value cannot be stored."""

    code: str
    message_en: str
    message_zh: str
    #: The offending input as text, masked for identifiers and masked fields.
    found: str | None = None
    #: What would have been accepted, such as "<= 100" or the allowed choices.
    expected: str | None = None
    #: Place inside a child table value, such as "[0].phone", or empty for the value itself.
    path: str = ""


Result = tuple[Any, list[ValueProblem]]

_OUT_OF_RANGE_COORDINATE = (
    "The {name_en} {number} is outside -{limit} to {limit}; check that latitude and longitude are not swapped.",
    "{name_zh} {number} 超出 -{limit} 至 {limit} 的范围；请检查经纬度是否写反。",
)

# Message templates in English and Chinese. The part of a key before the first dot
# is the problem code, so "type.date" gives a problem with code "type".
_MESSAGES: dict[str, tuple[str, str]] = {
    "required": ("This field is required; enter a value.", "此项为必填项，请填写。"),
    "computed": ("This field is computed and cannot be set; remove the value.", "该字段由系统计算，不能填写；请删除该值。"),
    "unknown_field": (
        "Unknown field {key!r}; remove it or use one of the declared fields.",
        "未知字段 {key!r}；请删除，或改用已声明的字段。",
    ),
    "unknown_field.similar": ("Unknown field {key!r}; did you mean {match!r}?", "未知字段 {key!r}；是否应为 {match!r}？"),
    "min_length": (
        "The text has {length} characters, fewer than the minimum of {limit}.",
        "文本只有 {length} 个字符，少于最少 {limit} 个。",
    ),
    "max_length": (
        "The text has {length} characters, more than the maximum of {limit}; shorten it.",
        "文本有 {length} 个字符，超过最多 {limit} 个；请删减。",
    ),
    "pattern": ("The text does not have the required format (pattern {pattern}).", "文本格式不符合要求（格式 {pattern}）。"),
    "min": ("The value is less than the minimum {limit}.", "数值小于最小值 {limit}。"),
    "max": ("The value is greater than the maximum {limit}.", "数值大于最大值 {limit}。"),
    "min.coordinate": _OUT_OF_RANGE_COORDINATE,
    "max.coordinate": _OUT_OF_RANGE_COORDINATE,
    "places": (
        "The value has too many decimal places; at most {places} are allowed.",
        "小数位数过多；最多允许 {places} 位。",
    ),
    "digits": (
        "The value is too large: at most {digits} digits are allowed before the decimal point.",
        "数值过大：小数点前最多允许 {digits} 位数字。",
    ),
    "not_finite": ("NaN and infinity are not allowed; enter a finite number.", "不允许 NaN 或无穷大；请输入有限的数字。"),
    "choice": (
        "This is not one of the allowed values; choose one of: {allowed_en}.",
        "该值不在可选范围内；请从以下值中选择：{allowed_zh}。",
    ),
    "type.text": ("This field takes text; write the value in quotes.", "此项应为文本；请给值加上引号。"),
    "type.boolean_number": ("true and false are not numbers; enter a number.", "true 和 false 不是数字；请输入数字。"),
    "type.number": (
        "This is not a number; enter digits with an optional decimal point, such as 1,234.50.",
        "这不是数字；请输入数字，可带小数点，例如 1,234.50。",
    ),
    "type.integer": ("Enter a whole number, without decimals.", "请输入整数，不能带小数。"),
    "type.boolean": ("Enter yes or no (true or false).", "请填写“是”或“否”（true 或 false）。"),
    "type.date": (
        "Enter a date as YYYY-MM-DD, such as 2024-03-15.",
        "请按 YYYY-MM-DD 格式输入日期，例如 2024-03-15。",
    ),
    "type.date_with_time": ("Enter a date without a time.", "请输入日期，不带时间。"),
    "type.no_such_date": ("This date does not exist; check the month and day.", "该日期不存在；请核对月份和日期。"),
    "type.datetime": (
        "Enter a date and time as YYYY-MM-DD HH:MM, such as 2024-03-15 09:30.",
        "请按 YYYY-MM-DD HH:MM 格式输入日期和时间，例如 2024-03-15 09:30。",
    ),
    "type.reference": ("Enter the key of a record.", "请填写记录的键值。"),
    "type.references": ("Enter a list of record keys.", "请填写记录键值的列表。"),
    "type.rows": ("Enter a list of rows.", "请填写行的列表。"),
    "type.row": ("Each row must be a mapping of field names to values.", "每一行都必须是字段名到值的映射。"),
    "type.file": ("Enter a file name.", "请填写文件名。"),
    "type.files": ("Enter a list of file names.", "请填写文件名的列表。"),
    "type.json_syntax": ("This is not valid JSON; check the brackets and quotes.", "这不是有效的 JSON；请检查括号和引号。"),
    "type.json": ("Enter a JSON object or array.", "请输入 JSON 对象或数组。"),
    "type.json_content": (
        "The value contains items that JSON cannot store, such as dates or NaN; write them as text.",
        "该值包含 JSON 无法保存的内容（如日期或 NaN）；请改写为文本。",
    ),
    "type.point": (
        'Enter a point as {{"lat": …, "lng": …}} or as "longitude,latitude".',
        '请按 {{"lat": …, "lng": …}} 或“经度,纬度”的格式填写坐标。',
    ),
    "type.identifier": ("Enter the number as text.", "请以文本形式填写号码。"),
}


def problem(
    message_key: str, /, *, found: str | None = None, expected: str | None = None, **params: Any
) -> ValueProblem:
    english, chinese = _MESSAGES[message_key]
    code = message_key.split(".", 1)[0]
    return ValueProblem(code, english.format(**params), chinese.format(**params), found, expected)
