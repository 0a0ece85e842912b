"""Entity event hooks: they change values before the check, write other records in the same transaction, and stop it all."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path
from typing import Any, Mapping

import pytest
from sqlalchemy import ColumnElement, Engine, Table, func, select

from runtime.access import Actor, FieldAccess, SystemAccess
from runtime.errors import NotFound, ValidationFailed
from runtime.hooks import HookContext, HookError, hook
from runtime.records import RecordService
from tests.runtime.conftest import ACTOR, SHOP_APP, ShopRuntime, write_app

HOOKED_FILES = {
    "entities/category.yaml": """
        name: category
        label: {zh-CN: 类别, en: Category}
        fields:
          - {name: code, type: string, label: {zh-CN: 编码, en: Code}, required: true, unique: true, length: {max: 20}}
          - {name: name, type: string, label: {zh-CN: 名称, en: Name}, required: true, searchable: true}
          - {name: size, type: enum, label: {zh-CN: 规模, en: Size},
             choices: [{value: small, label: {zh-CN: 小, en: Small}}, {value: large, label: {zh-CN: 大, en: Large}}]}
          - {name: slug, type: string, label: {zh-CN: 标识, en: Slug}, computed_by: tests_hooks.slug}
        hooks:
          before_validate: [tests_hooks.upper_code]
          before_save: [tests_hooks.size_from_name]
          after_save: [tests_hooks.write_note]
          after_delete: [tests_hooks.note_deleted]
    """,
    "entities/note.yaml": """
        name: note
        label: {zh-CN: 备注, en: Note}
        fields:
          - {name: text, type: string, label: {zh-CN: 内容, en: Text}, required: true, length: {max: 200}}
    """,
}

#: What the hooks should do in the running test: "ok", or how to fail.
behaviour: dict[str, str] = {"after_save": "ok"}


@hook("tests_hooks.upper_code")
def upper_code(context: HookContext) -> Mapping[str, Any] | None:
    code = context.record.get("code")
    return {"code": code.upper()} if isinstance(code, str) else None


@hook("tests_hooks.size_from_name")
def size_from_name(context: HookContext) -> Mapping[str, Any]:
    return {"size": "large" if len(str(context.record.get("name") or "")) > 4 else "small"}


@hook("tests_hooks.slug")
def slug(context: HookContext) -> str:
    return f"{str(context.record['code']).lower()}-{context.record['size']}"


@hook("tests_hooks.write_note")
def write_note(context: HookContext) -> None:
    assert context.records is not None
    mode = behaviour["after_save"]
    if mode == "stop":
        raise HookError("This code is reserved", "该编码已被保留", field="code")
    if mode == "crash":
        raise RuntimeError("the pricing service answered nonsense")
    context.records.create("note", {"text": f"saved {context.record['code']}" if mode == "ok" else ""})


@hook("tests_hooks.note_deleted")
def note_deleted(context: HookContext) -> None:
    assert context.records is not None
    context.records.create("note", {"text": f"deleted {context.record['code']}"})


@pytest.fixture
def hooked(tmp_path: Path, engine: Engine) -> ShopRuntime:
    behaviour["after_save"] = "ok"
    root = write_app(tmp_path / "shop", {**SHOP_APP, **HOOKED_FILES})
    return ShopRuntime(root, engine, tmp_path)


def notes(shop: ShopRuntime) -> list[str]:
    table = shop.schema.entities["note"].table
    with shop.engine.connect() as connection:
        return [str(text) for text in connection.scalars(select(table.c.text).order_by(table.c.id))]


def rows(shop: ShopRuntime, entity: str) -> int:
    table = shop.schema.entities[entity].table
    with shop.engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(table)) or 0)


def test_hooks_shape_and_follow_a_create(hooked: ShopRuntime) -> None:
    created = hooked.records.create(ACTOR, "category", {"code": "tools", "name": "电动工具类"})
    assert created["code"] == "TOOLS"
    assert created["size"] == "large"
    assert created["slug"] == "tools-large"
    assert notes(hooked) == ["saved TOOLS"]
    audit = hooked.schema.audit
    with hooked.engine.connect() as connection:
        entries = connection.execute(select(audit.c.action, audit.c.entity, audit.c.actor).order_by(audit.c.id)).all()
    assert [tuple(entry) for entry in entries] == [("create", "category", "u1"), ("create", "note", "u1")]


def test_hooks_run_on_update_and_delete(hooked: ShopRuntime) -> None:
    created = hooked.records.create(ACTOR, "category", {"code": "a1", "name": "书"})
    assert created["size"] == "small"
    updated = hooked.records.update(ACTOR, "category", created["id"], {"name": "图书与音像"}, version=created["version"])
    assert updated["size"] == "large"
    hooked.records.delete(ACTOR, "category", created["id"], version=updated["version"])
    assert notes(hooked) == ["saved A1", "saved A1", "deleted A1"]


def test_hook_error_message_and_nothing_stored(hooked: ShopRuntime) -> None:
    behaviour["after_save"] = "stop"
    with pytest.raises(ValidationFailed) as stopped:
        hooked.records.create(ACTOR, "category", {"code": "x", "name": "杂项"})
    (error,) = stopped.value.errors["code"]
    assert (error.code, error.message_zh, error.message_en) == ("hook.stopped", "该编码已被保留", "This code is reserved")
    assert rows(hooked, "category") == 0
    assert rows(hooked, "note") == 0


def test_hook_crash_logged_with_record(hooked: ShopRuntime, caplog: pytest.LogCaptureFixture) -> None:
    behaviour["after_save"] = "crash"
    with caplog.at_level(logging.ERROR), pytest.raises(ValidationFailed) as failed:
        hooked.records.create(ACTOR, "category", {"code": "x", "name": "杂项"})
    (error,) = failed.value.errors["_record"]
    assert error.code == "hook.failed"
    assert "tests_hooks.write_note" in error.message_zh
    assert "nonsense" not in error.message_zh
    assert any("hook tests_hooks.write_note failed on category" in record.getMessage() and record.exc_info
               for record in caplog.records)
    assert rows(hooked, "category") == 0
    assert hooked.records.create(ACTOR, "note", {"text": "after the failure"})["id"] >= 1


def test_rejected_inner_call_rolls_back(hooked: ShopRuntime) -> None:
    behaviour["after_save"] = "empty note"
    with pytest.raises(ValidationFailed) as failed:
        hooked.records.create(ACTOR, "category", {"code": "x", "name": "杂项"})
    (error,) = failed.value.errors["_record"]
    assert error.code == "hook.rejected"
    assert "text" in error.message_en
    assert rows(hooked, "category") == 0
    assert rows(hooked, "note") == 0


def test_unregistered_hook_stops_save(tmp_path: Path, engine: Engine) -> None:
    files = {**SHOP_APP, **HOOKED_FILES}
    files["entities/note.yaml"] = HOOKED_FILES["entities/note.yaml"].rstrip(" ") + "        hooks: {before_save: [tests_hooks.nowhere]}\n"
    shop = ShopRuntime(write_app(tmp_path / "shop", files), engine, tmp_path)
    with pytest.raises(ValidationFailed) as failed:
        shop.records.create(ACTOR, "note", {"text": "hello"})
    (error,) = failed.value.errors["_record"]
    assert error.code == "hook.missing"
    assert "tests_hooks.nowhere" in error.message_en
    assert rows(shop, "note") == 0


def test_batch_create_runs_hooks(hooked: ShopRuntime) -> None:
    ids = hooked.records.create_many(ACTOR, "category", [{"code": "b1", "name": "甲"}, {"code": "b2", "name": "乙乙乙乙乙"}])
    sizes = [hooked.records.get(ACTOR, "category", record_id)["size"] for record_id in ids]
    assert sizes == ["small", "large"]
    assert notes(hooked) == ["saved B1", "saved B2"]


def test_hook_computed_field_overrides_input(hooked: ShopRuntime) -> None:
    # Users may not type it (read-only); even the system's own input is replaced by the hook's value.
    assert hooked.model.entities["category"].fields["slug"].read_only
    created = hooked.records.create(ACTOR, "category", {"code": "c1", "name": "书", "slug": "mine"})
    updated = hooked.records.update(ACTOR, "category", created["id"], {"name": "图书与音像"}, version=created["version"])
    assert (created["slug"], updated["slug"]) == ("c1-small", "c1-large")


class OwnRowsMasked(SystemAccess):
    """A user who reads only the records they created, with masked fields masked."""

    def scope(self, actor: Actor, entity: str, table: Table, action: str = "read") -> ColumnElement[bool] | None:
        return table.c.created_by == actor.id

    def fields(self, actor: Actor, entity: str) -> FieldAccess:
        return FieldAccess()


#: What the checking hook read, as the acting user and as the system.
seen: dict[str, Any] = {}


@hook("tests_hooks.check_supplier")
def check_supplier(context: HookContext) -> None:
    assert context.records is not None
    # Products named "<name> <id>" are checked against the product with that id.
    words = str(context.record["name"]).split()
    if len(words) < 2:
        return
    other = int(words[-1])
    try:
        context.records.get("product", other)
    except NotFound:
        seen["as_user"] = "not found"
    seen["as_system"] = context.records.as_system("compare suppliers").get("product", other)["supplier_phone"]
    seen["own"] = context.records.get("product", context.record["id"])["supplier_phone"]


def test_hook_reads_as_the_system_only_when_asking(tmp_path: Path, engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    checked = textwrap.dedent(SHOP_APP["entities/product.yaml"]).rstrip() + "\nhooks:\n  after_save: [tests_hooks.check_supplier]\n"
    root = write_app(tmp_path / "shop", {**SHOP_APP, "entities/product.yaml": checked})
    shop = ShopRuntime(root, engine, tmp_path)
    other = shop.records.create(Actor("someone", roles=("system",)), "product",
                                {"name": "龙井", "price": 10, "supplier_phone": "13800138000"})
    user = RecordService(shop.model, shop.schema, engine, access=OwnRowsMasked(), keys=shop.keys)
    caplog.set_level(logging.INFO, logger="runtime.hook_records")

    user.create(Actor("clerk", roles=("clerk",)), "product", {"name": f"碧螺春 {other['id']}", "price": 12,
                                                            "supplier_phone": "13900139000"})

    assert seen == {"as_user": "not found", "as_system": "13800138000", "own": "139****9000"}
    assert any("hook of clerk reads as the system: compare suppliers" in record.getMessage() for record in caplog.records)


@hook("tests_hooks.log_note_for_unit")
def log_note_for_unit(context: HookContext) -> None:
    assert context.records is not None
    # A record the hook creates for the saved record's unit, which the acting user may not create.
    context.records.as_system("note of a saved product", org_unit=context.record.get("org_unit")).create(
        "note", {"text": f"{context.records.model.entities[context.entity].label.en} saved: {context.record['name']}"})


def test_hook_creates_as_the_system_in_a_unit(tmp_path: Path, engine: Engine) -> None:
    logged = textwrap.dedent(SHOP_APP["entities/product.yaml"]).rstrip() + "\nhooks:\n  after_save: [tests_hooks.log_note_for_unit]\n"
    files = {**SHOP_APP, **HOOKED_FILES, "entities/product.yaml": logged}
    shop = ShopRuntime(write_app(tmp_path / "shop", files), engine, tmp_path)

    created = shop.records.create(Actor("clerk", roles=("system",), org_unit="east"), "product", {"name": "龙井", "price": 10})

    assert created["org_unit"] == "east"
    with engine.connect() as connection:
        table = shop.schema.entities["note"].table
        owned = connection.execute(select(table.c.text, table.c.org_unit, table.c.created_by)).all()
    assert [tuple(row) for row in owned] == [(f"{shop.model.entities['product'].label.en} saved: 龙井", "east", "system")]
