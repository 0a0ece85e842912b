"""The columns of an import: which fields a user may import, and which field each header of a file names.

A header names a field by its Chinese label, its English label or its name, with or without
the "*" that the template puts after required fields. Computed fields, fields a hook computes,
read-only fields, fields hidden from the user or read-only for the user, and types that a
cell cannot hold (child tables, files, JSON, map points) cannot be imported.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from metamodel import model as m
from runtime.access import FieldAccess

#: Field types whose values do not fit in one cell.
NOT_IMPORTABLE_TYPES = frozenset({"child", "attachment", "attachments", "json", "geo_point"})

#: Headers of the reason column that error files add; a file corrected from an error file may keep it.
REASON_HEADERS = ("错误原因", "Reason")


class ImportProblem(Exception):
    """A problem of an import as a whole, with its message in English and Chinese."""

    def __init__(self, message_en: str, message_zh: str) -> None:
        super().__init__(message_en)
        self.message_en = message_en
        self.message_zh = message_zh

    def message(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message_zh


class ImportFileError(ImportProblem):
    """A problem of the whole file (its encoding, its format or its columns); no row is checked."""


@dataclass(frozen=True)
class ImportColumn:
    """A column of the file: its position, its header as written and the field it fills."""

    index: int
    header: str
    field: m.Field


def importable_fields(entity: m.Entity, access: FieldAccess) -> list[m.Field]:
    """Return the fields a user with `access` may fill from a file, in the entity's order."""
    return [field for field in entity.fields.values() if _blocked(field, access) is None]


def required_without_default(field: m.Field) -> bool:
    return field.required and field.default is None


def _blocked(field: m.Field, access: FieldAccess) -> tuple[str, str] | None:
    """Return why a field cannot be imported, in English and Chinese, or None when it can."""
    if field.name in access.hidden:
        return "you may not fill it in", "您无权填写该列"
    if field.computed is not None or field.computed_by is not None:
        return "it is computed by the system", "该列由系统计算"
    if (field.read_only and not access.writes_read_only) or field.name in access.read_only:
        return "it is read-only for you", "该列对您只读"
    if field.type in NOT_IMPORTABLE_TYPES:
        return "its values cannot be given in a spreadsheet cell", "该列的值无法在表格单元格中填写"
    return None


def normalized_header(text: str) -> str:
    """Return a header as matched: NFKC-normalized, without spaces, a trailing "*" and letter case."""
    text = unicodedata.normalize("NFKC", text).strip().rstrip("*").strip()
    return "".join(text.split()).casefold()


def match_columns(entity: m.Entity, access: FieldAccess, headers: list[str]) -> list[ImportColumn]:
    """Return the column of each header, or raise ImportFileError naming every header that does not fit."""
    names: dict[str, list[m.Field]] = {}
    for field in entity.fields.values():
        for key in {normalized_header(field.name), normalized_header(field.label.zh_cn), normalized_header(field.label.en)}:
            names.setdefault(key, []).append(field)
    reasons = {normalized_header(header) for header in REASON_HEADERS}

    columns: list[ImportColumn] = []
    problems_en: list[str] = []
    problems_zh: list[str] = []
    seen: dict[str, str] = {}
    for index, header in enumerate(headers):
        key = normalized_header(header)
        if not key or key in reasons:
            continue
        letter = column_letter(index)
        fields = names.get(key, [])
        if not fields:
            problems_en.append(f"column {letter} \"{header}\" is not a field of {entity.label.en}")
            problems_zh.append(f"第 {letter} 列“{header}”不是{entity.label.zh_cn}的字段")
            continue
        if len({field.name for field in fields}) > 1:
            listed = ", ".join(field.name for field in fields)
            problems_en.append(f"column {letter} \"{header}\" fits several fields ({listed}); use the field name as the header")
            problems_zh.append(f"第 {letter} 列“{header}”对应多个字段（{listed}）；请用字段名作为列标题")
            continue
        field = fields[0]
        blocked = _blocked(field, access)
        if blocked is not None:
            problems_en.append(f"column {letter} \"{header}\" cannot be imported because {blocked[0]}; remove the column")
            problems_zh.append(f"第 {letter} 列“{header}”不能导入，因为{blocked[1]}；请删除该列")
            continue
        if field.name in seen:
            problems_en.append(f"columns {seen[field.name]} and {letter} both fill \"{field.label.en}\"; keep one of them")
            problems_zh.append(f"第 {seen[field.name]} 列和第 {letter} 列都对应“{field.label.zh_cn}”；请只保留一列")
            continue
        seen[field.name] = letter
        columns.append(ImportColumn(index, header, field))

    for field in importable_fields(entity, access):
        if required_without_default(field) and field.name not in seen:
            problems_en.append(f"the required column \"{field.label.en}\" is missing")
            problems_zh.append(f"缺少必填列“{field.label.zh_cn}”")
    if problems_en:
        raise ImportFileError(
            "The columns of the file do not fit: " + "; ".join(problems_en) + ". Download the template to see the expected columns.",
            "文件的列不符合要求：" + "；".join(problems_zh) + "。请下载导入模板查看应有的列。",
        )
    return columns


def column_letter(index: int) -> str:
    """Return the spreadsheet letter of a zero-based column index: A, B, ..., Z, AA, ..."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters
