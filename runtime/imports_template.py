"""The import template of an entity: an Excel file with one column per field the user may import.

Headers are the fields' labels in the user's language, with " *" after required ones. Each
header has a note on the value's format. Enum and yes/no columns offer their values as a
dropdown. Text and identifier columns are formatted as text, so Excel keeps every digit of an
ID number typed into them. A second sheet lists every column with its rules.
"""

from __future__ import annotations

import io
from typing import Any

import xlsxwriter

from metamodel import model as m
from runtime.imports_columns import required_without_default
from runtime.spreadsheets import sheet_title

#: Rows of the data sheet that carry the dropdowns and column formats (Excel's limit).
_LAST_ROW = 1_048_575
_CHOICES_SHEET = "choices"


def _pick(lang: str, en: str, zh: str) -> str:
    return en if lang == "en" else zh


def header_of(field: m.Field, lang: str) -> str:
    """Return a field's header in the template: its label, with " *" when it is required."""
    return field.label.get(lang) + (" *" if required_without_default(field) else "")


def format_hint(model: m.AppModel, field: m.Field, lang: str) -> str:
    """Return what a cell of the field holds, in words, for the header's note and the instructions sheet."""
    kind = field.type
    if kind in ("date",):
        hint = _pick(lang, "A date, such as 2024-03-05, 2024/3/5 or 2024年3月5日.", "日期，例如 2024-03-05、2024/3/5 或 2024年3月5日。")
    elif kind == "datetime":
        hint = _pick(lang, "A date and time, such as 2024-03-05 14:30.", "日期和时间，例如 2024-03-05 14:30。")
    elif kind in ("money", "decimal", "percent"):
        places = m.decimal_places(field)
        hint = _pick(lang, f"A number with up to {places} decimals; 1,234.50 is accepted.", f"数字，最多 {places} 位小数；可写作 1,234.50。")
    elif kind == "integer":
        hint = _pick(lang, "A whole number.", "整数。")
    elif kind == "boolean":
        hint = _pick(lang, "Yes or No.", "是 或 否。")
    elif kind == "enum":
        hint = _pick(lang, "One of the values in the dropdown.", "从下拉列表中选择一项。")
    elif kind in m.REFERENCE_TYPES:
        target = model.entities[str(field.entity)]
        keys = [spec.label.get(lang) for spec in target.fields.values() if spec.unique]
        if target.title and target.title in target.fields and target.fields[target.title].label.get(lang) not in keys:
            keys.append(target.fields[target.title].label.get(lang))
        listed = _pick(lang, " or ", "或").join(keys) or "id"
        hint = _pick(lang, f"The {target.label.en.lower()}'s {listed}.", f"{target.label.zh_cn}的{listed}。")
        if kind == "multi_reference":
            hint += _pick(lang, " Separate several with commas.", "多个之间用逗号分隔。")
    elif kind in m.IDENTIFIER_TYPES:
        hint = _pick(lang, "Text; keep the column formatted as text so that Excel keeps every digit.",
                     "文本；请保持该列为文本格式，以免 Excel 丢失数字位。")
    else:
        hint = _pick(lang, "Text.", "文本。")
    if field.max_length is not None and kind in m.TEXT_TYPES:
        hint += _pick(lang, f" At most {field.max_length} characters.", f"最多 {field.max_length} 个字。")
    if field.min is not None:
        hint += _pick(lang, f" At least {field.min}.", f"不小于 {field.min}。")
    if field.max is not None:
        hint += _pick(lang, f" At most {field.max}.", f"不大于 {field.max}。")
    if field.unique:
        hint += _pick(lang, " Each record has its own value; rows whose value is stored already are skipped.",
                      "每条记录的值不能相同；值已存在的行会被跳过。")
    if field.help is not None:
        hint += " " + field.help.get(lang)
    return hint


def template_bytes(model: m.AppModel, entity: m.Entity, fields: list[m.Field], lang: str) -> bytes:
    """Return the template of an entity for the given importable fields (runtime.imports_columns.importable_fields)."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                            "strings_to_urls": False})
    formats = {
        "header": workbook.add_format({"bold": True, "bg_color": "#EEF2F7", "border": 1}),
        "required": workbook.add_format({"bold": True, "bg_color": "#EEF2F7", "border": 1, "font_color": "#B42318"}),
        "text": workbook.add_format({"num_format": "@"}),
        "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
        "wrap": workbook.add_format({"text_wrap": True, "valign": "top"}),
    }
    data = workbook.add_worksheet(sheet_title(entity.label.get(lang)))
    choices = workbook.add_worksheet(_CHOICES_SHEET)
    instructions = workbook.add_worksheet(_pick(lang, "Instructions", "填写说明"))

    choice_column = 0
    for column, field in enumerate(fields):
        header = header_of(field, lang)
        data.write_string(0, column, header, formats["required" if required_without_default(field) else "header"])
        data.write_comment(0, column, format_hint(model, field, lang), {"x_scale": 2, "y_scale": 1.5})
        data.set_column(column, column, max(12, min(40, len(header) * 2 + 2)), _column_format(field, formats))
        values = _dropdown_values(field, lang)
        if values:
            for row, value in enumerate(values):
                choices.write_string(row, choice_column, value)
            letter = xlsxwriter.utility.xl_col_to_name(choice_column)
            data.data_validation(1, column, _LAST_ROW, column, {
                "validate": "list", "source": f"={_CHOICES_SHEET}!${letter}$1:${letter}${len(values)}",
                "error_title": _pick(lang, "Not a value of the list", "不是可选值"),
                "error_message": _pick(lang, "Choose a value from the dropdown.", "请从下拉列表中选择。"),
            })
            choice_column += 1
    data.freeze_panes(1, 0)
    choices.hide()

    heads = (_pick(lang, "Column", "列"), _pick(lang, "Required", "必填"), _pick(lang, "How to fill it in", "填写要求"),
             _pick(lang, "Values", "可选值"))
    for column, text in enumerate(heads):
        instructions.write_string(0, column, text, formats["header"])
    for row, field in enumerate(fields, start=1):
        instructions.write_string(row, 0, field.label.get(lang))
        instructions.write_string(row, 1, _pick(lang, "yes", "是") if required_without_default(field) else "")
        instructions.write_string(row, 2, format_hint(model, field, lang), formats["wrap"])
        instructions.write_string(row, 3, _pick(lang, ", ", "、").join(_dropdown_values(field, lang)), formats["wrap"])
    instructions.set_column(0, 0, 20)
    instructions.set_column(1, 1, 8)
    instructions.set_column(2, 3, 60)
    note_row = len(fields) + 2
    instructions.write_string(note_row, 0, _pick(
        lang, "Fill in one record per row on the first sheet, below the headers. Columns may be left out unless marked *.",
        "请在第一个工作表的标题行下方每行填写一条记录。除标有 * 的列外，其他列可以删除。"))
    workbook.close()
    return buffer.getvalue()


def _column_format(field: m.Field, formats: dict[str, Any]) -> Any:
    if field.type in m.IDENTIFIER_TYPES or field.type in m.TEXT_TYPES:
        return formats["text"]
    return formats.get(field.type)


def _dropdown_values(field: m.Field, lang: str) -> list[str]:
    if field.type == "enum":
        return [choice.label.get(lang) for choice in field.choices]
    if field.type == "boolean":
        return [_pick(lang, "Yes", "是"), _pick(lang, "No", "否")]
    return []
