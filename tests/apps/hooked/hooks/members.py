"""Hooks of the hooks example: they compute a member's level, refuse a reserved name, log a welcome and freeze a member."""

from __future__ import annotations

from typing import Any

from runtime.hooks import HookContext, HookError, hook

RESERVED_NAMES = frozenset({"管理员", "admin"})


@hook("hooked.level_from_points")
def level_from_points(context: HookContext) -> int:
    return 1 + int(context.record.get("points") or 0) // 1000


@hook("hooked.refuse_reserved_name")
def refuse_reserved_name(context: HookContext) -> None:
    if str(context.record.get("name") or "").strip().lower() in RESERVED_NAMES:
        raise HookError("This name is reserved; choose another", "该姓名为保留名称，请换一个", field="name")


@hook("hooked.log_welcome")
def log_welcome(context: HookContext) -> None:
    assert context.records is not None
    if context.event == "after_save" and context.record.get("version") == 1:
        context.records.create("welcome", {"text": f"欢迎 {context.record['name']}"})


@hook("hooked.freeze")
def freeze(context: HookContext) -> dict[str, Any]:
    if context.record.get("frozen"):
        raise HookError("The member is frozen already", "该会员已被冻结")
    return {"frozen": True, "note": f"由 {context.actor.name} 冻结"}


@hook("hooked.keep_marked")
def keep_marked(context: HookContext) -> None:
    if context.record.get("note") == "keep":
        raise HookError("A member whose note is keep cannot be deleted", "备注为 keep 的会员不能删除")
