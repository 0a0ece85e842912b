"""The audit chain: every write appends an entry, and verify names the first tampered one."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from runtime.audit import AuditLog
from tests.runtime.conftest import ACTOR, ShopRuntime


def fill(shop: ShopRuntime) -> list[int]:
    record = shop.records.create(ACTOR, "product", {"name": "龙井", "price": 10})
    for version in range(1, 4):
        shop.records.update(ACTOR, "product", record["id"], {"price": 10 + version}, version=version)
    shop.records.delete(ACTOR, "product", record["id"], version=4, reason="下架")
    with shop.engine.connect() as connection:
        return list(connection.scalars(select(shop.schema.audit.c.id).order_by(shop.schema.audit.c.id)))


def verify(shop: ShopRuntime):  # type: ignore[no-untyped-def]
    with shop.engine.connect() as connection:
        return AuditLog(shop.schema).verify(connection)


def test_intact_chain_verifies(shop: ShopRuntime) -> None:
    ids = fill(shop)

    result = verify(shop)

    assert result.ok
    assert result.checked == len(ids) == 5


def test_edited_entry_named(shop: ShopRuntime) -> None:
    ids = fill(shop)
    audit = shop.schema.audit
    with shop.engine.begin() as connection:
        connection.execute(update(audit).where(audit.c.id == ids[2]).values(actor="someone_else"))

    result = verify(shop)

    assert not result.ok
    assert result.first_bad_id == ids[2]
    assert result.checked == 2
    assert "edited" in (result.problem or "")


def test_deleted_entry_named(shop: ShopRuntime) -> None:
    ids = fill(shop)
    audit = shop.schema.audit
    with shop.engine.begin() as connection:
        connection.execute(delete(audit).where(audit.c.id == ids[1]))

    result = verify(shop)

    assert not result.ok
    assert result.first_bad_id == ids[2]


def test_swapped_entries_named(shop: ShopRuntime) -> None:
    ids = fill(shop)
    audit = shop.schema.audit
    columns = [column for column in audit.c if column.name != "id"]
    with shop.engine.begin() as connection:
        first = connection.execute(select(*columns).where(audit.c.id == ids[1])).mappings().one()
        second = connection.execute(select(*columns).where(audit.c.id == ids[2])).mappings().one()
        connection.execute(update(audit).where(audit.c.id == ids[1]).values(**second))
        connection.execute(update(audit).where(audit.c.id == ids[2]).values(**first))

    result = verify(shop)

    assert not result.ok
    assert result.first_bad_id == ids[1]


def test_removed_newest_entries_detected(shop: ShopRuntime) -> None:
    ids = fill(shop)
    audit = shop.schema.audit
    with shop.engine.begin() as connection:
        connection.execute(delete(audit).where(audit.c.id >= ids[3]))

    result = verify(shop)

    assert not result.ok
    assert result.checked == 3
    assert "removed" in (result.problem or "")


def test_two_writers_keep_one_chain(shop: ShopRuntime) -> None:
    from runtime.access import SystemAccess
    from runtime.records import RecordService

    other = RecordService(shop.model, shop.schema, shop.engine, access=SystemAccess(), keys=shop.keys)
    for number in range(6):
        writer = shop.records if number % 2 == 0 else other
        writer.create(ACTOR, "product", {"name": f"茶{number}", "price": 10 + number})

    result = verify(shop)

    assert result.ok
    assert result.checked == 6


def test_wiped_log_detected(shop: ShopRuntime) -> None:
    fill(shop)
    with shop.engine.begin() as connection:
        connection.execute(delete(shop.schema.audit))
        connection.execute(delete(shop.schema.audit_head))

    result = verify(shop)

    assert not result.ok
    assert "empty although records exist" in (result.problem or "")


def test_unreadable_entry_named(shop: ShopRuntime) -> None:
    from sqlalchemy import text

    if shop.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL rejects text that is not JSON in a JSON column, so this edit cannot happen there")
    ids = fill(shop)
    with shop.engine.begin() as connection:
        connection.execute(text("UPDATE md_audit SET changes = 'not json' WHERE id = :id"), {"id": ids[1]})

    result = verify(shop)

    assert not result.ok
    assert result.first_bad_id == ids[1]
