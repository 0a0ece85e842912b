"""Finding the records that reference cells name: by a unique field of the target, or by its title.

Lookups go through the record service's list with the acting user, so a cell can name only
records that user may read. A value that names no record, or several records by title, is
a problem of that cell. Results are cached per import, since a file names the same records often.
"""

from __future__ import annotations

import re
from typing import Any

from metamodel import model as m
from runtime.access import Actor
from runtime.errors import PermissionDenied, ValidationFailed
from runtime.imports_values import CellProblem
from runtime.record_query import Condition, ListQuery
from runtime.records import RecordService

#: Separators between the records a multi-reference cell names.
_SEPARATORS = re.compile(r"[,，、;；\n]+")

#: Types of unique target fields a cell may name a record by.
_KEY_TYPES = m.TEXT_TYPES | m.IDENTIFIER_TYPES | {"integer"}


class ReferenceFinder:
    def __init__(self, service: RecordService, actor: Actor) -> None:
        self.service = service
        self.actor = actor
        self._found: dict[tuple[str, str], int] = {}

    def ids(self, field: m.Field, cell: Any) -> int | list[int]:
        """Return the id a reference cell names, or the ids of a multi-reference cell; raise CellProblem otherwise."""
        text = str(cell).strip()
        if field.type == "multi_reference":
            return [self._id(field, part.strip()) for part in _SEPARATORS.split(text) if part.strip()]
        return self._id(field, text)

    def _id(self, field: m.Field, text: str) -> int:
        target_name = str(field.entity)
        key = (target_name, text)
        if key in self._found:
            return self._found[key]
        target = self.service.model.entities[target_name]
        for name in _key_fields(target):
            matches = self._matches(target_name, name, text)
            if len(matches) == 1:
                self._found[key] = matches[0]
                return matches[0]
            if len(matches) > 1:
                raise CellProblem(
                    "import.reference_ambiguous",
                    f"{len(matches)} {target.label.en} records are named \"{text}\"; enter a value that names one of them, "
                    f"such as its {_unique_labels(target, 'en')}",
                    f"有 {len(matches)} 条{target.label.zh_cn}名为“{text}”；请填写能唯一确定记录的值，例如{_unique_labels(target, 'zh-CN')}",
                )
        raise CellProblem(
            "import.reference_missing",
            f"no {target.label.en} \"{text}\" was found among the records you may read; enter its {_key_labels(target, 'en')}",
            f"在您可查看的{target.label.zh_cn}中找不到“{text}”；请填写其{_key_labels(target, 'zh-CN')}",
        )

    def _matches(self, entity: str, name: str, text: str) -> list[int]:
        query = ListQuery(where=Condition(name, "eq", text), limit=2, fields=(name,))
        try:
            page = self.service.list(self.actor, entity, query)
        except ValidationFailed:
            # The text cannot be a value of this field (a word for a number field): no record has it.
            return []
        except PermissionDenied as denied:
            target = self.service.model.entities[entity]
            raise CellProblem("import.reference_denied", f"you may not read {target.label.en} records, so none can be chosen",
                              f"您无权查看{target.label.zh_cn}，无法选择") from denied
        return [int(row["id"]) for row in page.rows]


def _key_fields(target: m.Entity) -> list[str]:
    """Return the fields that name a target record: its unique fields first, then its title field."""
    names = [name for name, field in target.fields.items() if field.unique and field.type in _KEY_TYPES]
    if target.title and target.title in target.fields and target.title not in names:
        names.append(target.title)
    return names


def _unique_labels(target: m.Entity, lang: str) -> str:
    fields = [target.fields[name] for name, field in target.fields.items() if field.unique and field.type in _KEY_TYPES]
    if not fields:
        return "title" if lang == "en" else "标题"
    return (" or " if lang == "en" else "或").join(field.label.get(lang) for field in fields)


def _key_labels(target: m.Entity, lang: str) -> str:
    return (" or " if lang == "en" else "或").join(target.fields[name].label.get(lang) for name in _key_fields(target)) or "id"
