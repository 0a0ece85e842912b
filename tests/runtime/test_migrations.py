"""Migration scenarios on a real database: add, rename, type changes, destructive refusal, second run."""

from __future__ import annotations

import textwrap

from sqlalchemy import inspect, text

from runtime.migrate import MigrationRefused, plan
from tests.runtime.conftest import ACTOR, SHOP_APP, ShopRuntime

CATEGORY = textwrap.dedent(SHOP_APP["entities/category.yaml"]).lstrip()


def columns(shop: ShopRuntime, table: str) -> dict[str, str]:
    with shop.engine.connect() as connection:
        return {column["name"]: str(column["type"]) for column in inspect(connection).get_columns(table)}


def test_second_run_applies_nothing(shop: ShopRuntime) -> None:
    assert plan(shop.engine, shop.schema, shop.model).empty
    result = shop.reload()
    assert result.applied is False


def test_new_field_adds_column(shop: ShopRuntime) -> None:
    changed = CATEGORY + "  - {name: sort_order, type: integer, label: {zh-CN: 排序, en: Order}, indexed: true}\n"
    upcoming = plan(shop.engine, shop.schema, shop.model)
    assert upcoming.empty

    result = shop.reload({"entities/category.yaml": changed})

    kinds = [step.kind for step in result.plan.steps]
    assert kinds == ["add_column", "add_index"]
    assert result.plan.steps[0].describe("en") == "add column category.sort_order (BIGINT)"
    assert "sort_order" in columns(shop, "category")
    assert shop.reload().applied is False


def test_new_entity_adds_table(shop: ShopRuntime) -> None:
    result = shop.reload({"entities/supplier.yaml": """
        name: supplier
        label: {zh-CN: 供应商, en: Supplier}
        fields:
          - {name: name, type: string, label: {zh-CN: 名称, en: Name}}
    """})

    assert [step.describe("zh-CN") for step in result.plan.steps] == ["新建表 supplier"]
    assert "supplier" in inspect(shop.engine).get_table_names()


def test_renamed_field_keeps_data(shop: ShopRuntime) -> None:
    shop.records.create(ACTOR, "category", {"code": "TEA", "name": "茶叶"})
    renamed = CATEGORY.replace(
        "{name: name, type: string, label: {zh-CN: 名称, en: Name}, required: true, searchable: true}",
        "{name: title, type: string, label: {zh-CN: 名称, en: Name}, required: true, searchable: true, renamed_from: name}",
    )

    result = shop.reload({"entities/category.yaml": renamed})

    assert [step.kind for step in result.plan.steps] == ["rename_column"]
    assert shop.records.list(ACTOR, "category").rows[0]["title"] == "茶叶"


def test_type_change_blocked_by_stored_data(shop: ShopRuntime) -> None:
    shop.records.create(ACTOR, "category", {"code": "TEA", "name": "茶叶"})
    shop.records.create(ACTOR, "category", {"code": "42", "name": "数字"})
    shop.records.create(ACTOR, "category", {"code": "CUP", "name": "杯具"})
    to_integer = CATEGORY.replace("{name: code, type: string,", "{name: code, type: integer,").replace(", length: {max: 20}", "")

    try:
        shop.reload({"entities/category.yaml": to_integer})
        raise AssertionError("the migration was applied")
    except MigrationRefused as refused:
        assert len(refused.plan.blockers) == 1
        blocker = refused.plan.blockers[0]
        assert (blocker.table, blocker.column, blocker.rows) == ("category", "code", 2)
        assert "2" in blocker.describe("zh-CN")

    assert columns(shop, "category")["code"].startswith("VARCHAR")


def test_type_change_applied_when_data_fits(shop: ShopRuntime) -> None:
    shop.records.create(ACTOR, "category", {"code": "42", "name": "数字"})
    to_integer = CATEGORY.replace("{name: code, type: string,", "{name: code, type: integer,").replace(", length: {max: 20}", "")

    result = shop.reload({"entities/category.yaml": to_integer})

    assert [step.kind for step in result.plan.steps] == ["change_type"]
    assert shop.records.list(ACTOR, "category").rows[0]["code"] == 42


def test_narrowing_needs_permission(shop: ShopRuntime) -> None:
    shop.records.create(ACTOR, "category", {"code": "TEA", "name": "茶叶"})
    narrower = CATEGORY.replace("length: {max: 20}", "length: {max: 5}")

    try:
        shop.reload({"entities/category.yaml": narrower})
        raise AssertionError("the migration was applied")
    except MigrationRefused as refused:
        assert [step.kind for step in refused.plan.destructive] == ["narrow_type"]

    result = shop.reload(allow_destructive=True)
    assert result.backup is not None
    assert (result.backup / "category.jsonl").read_text(encoding="utf-8").count('"name": "茶叶"') == 1
    assert columns(shop, "category")["code"] == "VARCHAR(5)"


def test_dropped_field_refused_then_backed_up(shop: ShopRuntime) -> None:
    shop.records.create(ACTOR, "category", {"code": "TEA", "name": "茶叶"})
    without_name = "\n".join(line for line in CATEGORY.splitlines() if "name: name," not in line) + "\n"

    try:
        shop.reload({"entities/category.yaml": without_name})
        raise AssertionError("the migration was applied")
    except MigrationRefused as refused:
        dropped = [step.describe("en") for step in refused.plan.destructive]
        assert "drop column category.name and its values" in dropped
    assert "name" in columns(shop, "category")

    result = shop.reload(allow_destructive=True)
    assert "name" not in columns(shop, "category")
    assert result.backup is not None
    assert "茶叶" in (result.backup / "category.jsonl").read_text(encoding="utf-8")


def test_removed_entity_table_is_owned(shop: ShopRuntime) -> None:
    shop.reload({"entities/supplier.yaml": "name: supplier\nlabel: {zh-CN: 供应商, en: Supplier}\nfields:\n  - {name: name, type: string, label: {zh-CN: 名称, en: Name}}\n"})

    try:
        shop.reload({"entities/supplier.yaml": None})
        raise AssertionError("the migration was applied")
    except MigrationRefused as refused:
        assert [step.describe("en") for step in refused.plan.destructive] == ["drop table supplier and all its rows"]

    shop.reload(allow_destructive=True)
    assert "supplier" not in inspect(shop.engine).get_table_names()


def test_foreign_tables_untouched(shop: ShopRuntime) -> None:
    with shop.engine.begin() as connection:
        connection.execute(text("CREATE TABLE casbin_rule (id INTEGER PRIMARY KEY, ptype VARCHAR(255))"))
        connection.execute(text("INSERT INTO casbin_rule (id, ptype) VALUES (1, 'p')"))

    assert plan(shop.engine, shop.schema, shop.model).empty
    shop.reload(allow_destructive=True)

    with shop.engine.connect() as connection:
        assert connection.execute(text("SELECT ptype FROM casbin_rule")).scalar_one() == "p"


def test_unique_blocked_by_repeated_values(shop: ShopRuntime) -> None:
    shop.records.create(ACTOR, "category", {"code": "TEA", "name": "茶"})
    shop.records.create(ACTOR, "category", {"code": "CUP", "name": "茶"})
    unique_name = CATEGORY.replace("required: true, searchable: true}", "required: true, searchable: true, unique: true}")

    try:
        shop.reload({"entities/category.yaml": unique_name})
        raise AssertionError("the migration was applied")
    except MigrationRefused as refused:
        assert [(item.table, item.column, item.rows) for item in refused.plan.blockers] == [("category", "name", 2)]


def test_new_field_default_fills_old_rows(shop: ShopRuntime) -> None:
    shop.records.create(ACTOR, "category", {"code": "TEA", "name": "茶"})
    with_rank = CATEGORY + "  - {name: rank, type: integer, label: {zh-CN: 排名, en: Rank}, required: true, default: 5}\n"

    shop.reload({"entities/category.yaml": with_rank})

    assert shop.records.list(ACTOR, "category").rows[0]["rank"] == 5


def test_removed_choice_blocked_while_used(shop: ShopRuntime) -> None:
    shop.records.create(ACTOR, "product", {"name": "普洱", "price": 10, "status": "retired"})
    product = textwrap.dedent(SHOP_APP["entities/product.yaml"]).lstrip()
    without_retired = product.replace(", {value: retired, label: {zh-CN: 停售, en: Retired}}", "")

    try:
        shop.reload({"entities/product.yaml": without_retired})
        raise AssertionError("the migration was applied")
    except MigrationRefused as refused:
        assert [(item.table, item.column, item.rows) for item in refused.plan.blockers] == [("product", "status", 1)]


def test_backup_readable_by_owner_only(shop: ShopRuntime) -> None:
    shop.records.create(ACTOR, "category", {"code": "TEA", "name": "茶叶"})
    without_name = "\n".join(line for line in CATEGORY.splitlines() if "name: name," not in line) + "\n"

    result = shop.reload({"entities/category.yaml": without_name}, allow_destructive=True)

    assert result.backup is not None
    assert all(path.stat().st_mode & 0o077 == 0 for path in result.backup.iterdir())


def test_new_system_column_gets_its_server_default(shop: ShopRuntime) -> None:
    """Columns added to a system table in a later release reach the rows stored before, with their server default."""
    table = shop.schema.callbacks
    with shop.engine.begin() as connection:
        connection.execute(table.insert().values(integration="sms", event_id="e-1", kind="sms_delivered", payload={},
                                                 received_at=text("CURRENT_TIMESTAMP")))
        # The table as an earlier release created it: without the columns that track failed hooks.
        for name in ("handled_at", "error", "attempts", "status"):
            connection.execute(text(f"ALTER TABLE {table.name} DROP COLUMN {name}"))

    result = shop.reload()

    assert sorted((step.kind, step.column) for step in result.plan.steps if step.table == table.name) == [
        ("add_column", name) for name in ("attempts", "error", "handled_at", "status")]
    with shop.engine.connect() as connection:
        assert connection.execute(text(f"SELECT status, attempts, error FROM {table.name}")).all() == [("handled", 1, None)]
    assert shop.reload().applied is False
