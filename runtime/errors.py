"""Errors the runtime raises to its callers, each with a message in English and Simplified Chinese."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class FieldError:
    """One problem with one field, keyed elsewhere by its path such as `contacts[0].phone`."""

    code: str
    message_en: str
    message_zh: str

    def message(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message_zh


class RecordError(Exception):
    """Base of the errors of record operations; nothing was written when one is raised."""

    message_en: str = "the operation failed"
    message_zh: str = "操作失败"

    def message(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message_zh

    def __str__(self) -> str:
        return self.message_en


class ValidationFailed(RecordError):
    """Raised with every field error of a create or update at once."""

    def __init__(self, entity: str, errors: Mapping[str, list[FieldError]]) -> None:
        self.entity = entity
        self.errors = dict(errors)
        count = sum(len(items) for items in self.errors.values())
        # "_record" marks a problem of the whole record, which names no field.
        self.message_en = f"{count} field error(s) in {entity}: " + "; ".join(
            item.message_en if path == "_record" else f"{path}: {item.message_en}"
            for path, items in self.errors.items() for item in items
        )
        self.message_zh = f"{entity} 有 {count} 处字段错误：" + "；".join(
            item.message_zh if path == "_record" else f"{path}：{item.message_zh}"
            for path, items in self.errors.items() for item in items
        )
        super().__init__(self.message_en)


class NotFound(RecordError):
    """Raised for a record that does not exist, is deleted, or lies outside the actor's data scope."""

    def __init__(self, entity: str, record_id: object) -> None:
        self.entity = entity
        self.record_id = record_id
        self.message_en = f"{entity} {record_id} was not found"
        self.message_zh = f"未找到 {entity} {record_id}"
        super().__init__(self.message_en)


class PermissionDenied(RecordError):
    def __init__(self, entity: str, action: str) -> None:
        self.entity = entity
        self.action = action
        self.message_en = f"You may not {action} {entity} records"
        self.message_zh = f"您没有对 {entity} 执行 {action} 操作的权限"
        super().__init__(self.message_en)


class StaleVersion(RecordError):
    """Raised when an update carries an old version: someone else changed the record in between."""

    def __init__(self, entity: str, record_id: int, expected: int, current: int, by: str | None, at: datetime.datetime | None) -> None:
        self.entity = entity
        self.record_id = record_id
        self.expected = expected
        self.current = current
        self.changed_by = by
        self.changed_at = at
        when = at.strftime("%Y-%m-%d %H:%M:%S") if at else "?"
        who = by or "?"
        self.message_en = (
            f"{entity} {record_id} was changed by {who} at {when} (version {current}) after you opened "
            f"version {expected}; reload it and apply your changes again"
        )
        self.message_zh = (
            f"{entity} {record_id} 在您打开（版本 {expected}）之后已被 {who} 于 {when} 修改（版本 {current}）；"
            "请重新加载后再修改"
        )
        super().__init__(self.message_en)


class ReasonRequired(RecordError):
    def __init__(self, entity: str) -> None:
        self.entity = entity
        self.message_en = f"creating, changing or deleting {entity} records needs a reason; give one"
        self.message_zh = f"新增、修改或删除 {entity} 记录必须填写操作原因"
        super().__init__(self.message_en)


__all__ = [
    "FieldError",
    "NotFound",
    "PermissionDenied",
    "ReasonRequired",
    "RecordError",
    "StaleVersion",
    "ValidationFailed",
]
