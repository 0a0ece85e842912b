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

    def named(self, english: str, chinese: str) -> RecordError:
        """Word the messages with the entity's label, such as the screens and the API show it, instead of its name."""
        self._compose(english, chinese)
        return self

    def _compose(self, english: str, chinese: str) -> None:
        """Set message_en and message_zh, naming the entity as given."""

    def __str__(self) -> str:
        return self.message_en


class ValidationFailed(RecordError):
    """Raised with every field error of a create or update at once."""

    def __init__(self, entity: str, errors: Mapping[str, list[FieldError]]) -> None:
        self.entity = entity
        self.errors = dict(errors)
        self._compose(entity, entity)
        super().__init__(self.message_en)

    def _compose(self, english: str, chinese: str) -> None:
        count = sum(len(items) for items in self.errors.values())
        # "_record" marks a problem of the whole record, which names no field.
        self.message_en = f"{count} field error(s) in {english}: " + "; ".join(
            item.message_en if path == "_record" else f"{path}: {item.message_en}"
            for path, items in self.errors.items() for item in items
        )
        self.message_zh = f"{_cjk(chinese)}有 {count} 处字段错误：" + "；".join(
            item.message_zh if path == "_record" else f"{path}：{item.message_zh}"
            for path, items in self.errors.items() for item in items
        )


class NotFound(RecordError):
    """Raised for a record that does not exist, is deleted, or lies outside the actor's data scope."""

    def __init__(self, entity: str, record_id: object) -> None:
        self.entity = entity
        self.record_id = record_id
        self._compose(entity, entity)
        super().__init__(self.message_en)

    def _compose(self, english: str, chinese: str) -> None:
        self.message_en = f"{english} {self.record_id} was not found"
        self.message_zh = f"未找到{_cjk(chinese, before=True).rstrip()} {self.record_id}"



class PermissionDenied(RecordError):
    def __init__(self, entity: str, action: str) -> None:
        self.entity = entity
        self.action = action
        self._compose(entity, entity)
        super().__init__(self.message_en)

    def _compose(self, english: str, chinese: str) -> None:
        self.message_en = f"You may not {self.action} {english} records"
        self.message_zh = f"您没有对{_cjk(chinese, before=True)}执行 {self.action} 操作的权限"



class StaleVersion(RecordError):
    """Raised when an update carries an old version: someone else changed the record in between."""

    def __init__(self, entity: str, record_id: int, expected: int, current: int, by: str | None, at: datetime.datetime | None) -> None:
        self.entity = entity
        self.record_id = record_id
        self.expected = expected
        self.current = current
        self.changed_by = by
        self.changed_at = at
        self._compose(entity, entity)
        super().__init__(self.message_en)

    def _compose(self, english: str, chinese: str) -> None:
        when = self.changed_at.strftime("%Y-%m-%d %H:%M:%S") if self.changed_at else "?"
        who = self.changed_by or "?"
        self.message_en = (
            f"{english} {self.record_id} was changed by {who} at {when} (version {self.current}) after you opened "
            f"version {self.expected}; reload it and apply your changes again"
        )
        self.message_zh = (
            f"{chinese} {self.record_id} 在您打开（版本 {self.expected}）之后已被 {who} 于 {when} 修改（版本 {self.current}）；"
            "请重新加载后再修改"
        )


class ReasonRequired(RecordError):
    def __init__(self, entity: str) -> None:
        self.entity = entity
        self._compose(entity, entity)
        super().__init__(self.message_en)

    def _compose(self, english: str, chinese: str) -> None:
        self.message_en = f"creating, changing or deleting {english} records needs a reason; give one"
        self.message_zh = f"新增、修改或删除{_cjk(chinese, before=True)}记录必须填写操作原因"



def _cjk(name: str, *, before: bool = False) -> str:
    """Return a name for Chinese text: a name in Latin letters set off by spaces, a Chinese label as it is."""
    if not name.isascii():
        return name
    return f" {name} " if before else f"{name} "


__all__ = [
    "FieldError",
    "NotFound",
    "PermissionDenied",
    "ReasonRequired",
    "RecordError",
    "StaleVersion",
    "ValidationFailed",
]
