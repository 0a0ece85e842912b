"""Saved list filters: each user's named list addresses, per entity.

A saved filter is the query string of a list page (filters, search, sort, page size) under
a name the user chose. Only its owner lists, saves over or deletes it: every statement
here is limited to the acting user's own rows. Saving under a name the user already has
is rejected unless the caller asks to replace that filter, so that none is lost by mistake.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from runtime.access import Actor
from runtime.database import WRITE_OPTION
from runtime.errors import FieldError, ValidationFailed
from runtime.schema import Schema

logger = logging.getLogger(__name__)

#: Maximum length of a name, as the md_saved_filter.name column allows.
MAX_NAME_LENGTH = 100
#: Maximum length of a saved query string; a list address is far shorter unless something is wrong.
MAX_QUERY_LENGTH = 4000
#: Saved filters a user may keep per entity.
MAX_PER_ENTITY = 50


@dataclass(frozen=True)
class SavedFilter:
    id: int
    name: str
    #: The list page's query string without the leading "?".
    query: str
    created_at: datetime.datetime
    #: Whether saving replaced the user's earlier filter of the same name.
    replaced: bool = False


def _invalid(entity: str, path: str, code: str, en: str, zh: str) -> ValidationFailed:
    return ValidationFailed(entity, {path: [FieldError(code, en, zh)]})


class SavedFilters:
    def __init__(self, schema: Schema, engine: Engine) -> None:
        self.table = schema.access.saved_filters
        self.engine = engine

    def list(self, actor: Actor, entity: str) -> list[SavedFilter]:
        """Return the actor's saved filters of an entity, by name."""
        table = self.table
        statement = (
            select(table.c.id, table.c.name, table.c.query, table.c.created_at)
            .where(table.c.user_id == actor.id, table.c.entity == entity)
            .order_by(table.c.name)
        )
        with self.engine.connect() as connection:
            return [SavedFilter(row.id, row.name, row.query, row.created_at) for row in connection.execute(statement)]

    def save(self, actor: Actor, entity: str, name: str, query: str, *, replace: bool = False,
             now: datetime.datetime | None = None) -> SavedFilter:
        """Save a query string under a name; raise ValidationFailed if invalid.

        A name the actor already uses for this entity is rejected with the code "duplicate",
        unless `replace` is set: then that filter takes the new query string.
        """
        name = " ".join(name.split())
        query = query.lstrip("?")
        if not name:
            raise _invalid(entity, "name", "required", "Enter a name for the filter.", "请输入筛选条件的名称。")
        if len(name) > MAX_NAME_LENGTH:
            raise _invalid(entity, "name", "max_length", f"The name has {len(name)} characters; use at most {MAX_NAME_LENGTH}.",
                           f"名称有 {len(name)} 个字符，最多 {MAX_NAME_LENGTH} 个。")
        if len(query) > MAX_QUERY_LENGTH:
            raise _invalid(entity, "query", "max_length", f"The filter is too long to save ({len(query)} characters, at most {MAX_QUERY_LENGTH}); remove some conditions.",
                           f"筛选条件过长（{len(query)} 个字符，最多 {MAX_QUERY_LENGTH} 个），无法保存；请减少一些条件。")

        moment = now or datetime.datetime.now(datetime.timezone.utc)
        table = self.table
        mine = (table.c.user_id == actor.id, table.c.entity == entity)
        try:
            with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as connection, connection.begin():
                existing = connection.scalar(select(table.c.id).where(*mine, table.c.name == name))
                if existing is not None and not replace:
                    raise _invalid(entity, "name", "duplicate",
                                   f"You already have a saved filter named {name}; replace it with the current filters, or choose another name.",
                                   f"您已有名为“{name}”的筛选条件；要用当前的筛选条件替换它，还是换一个名称？")
                if existing is not None:
                    connection.execute(update(table).where(table.c.id == existing).values(query=query, created_at=moment))
                    saved_id = int(existing)
                else:
                    count = int(connection.scalar(select(func.count()).select_from(table).where(*mine)) or 0)
                    if count >= MAX_PER_ENTITY:
                        raise _invalid(entity, "name", "too_many",
                                       f"You have {count} saved filters here already; delete one before saving another.",
                                       f"此处已保存 {count} 个筛选条件；请先删除一个再保存。")
                    row = {"user_id": actor.id, "entity": entity, "name": name, "query": query, "created_at": moment}
                    saved_id = int(connection.execute(insert(table).returning(table.c.id), row).scalar_one())
        except IntegrityError as exc:
            logger.warning("saving filter %r of %s for %s failed: %s", name, entity, actor.id, exc.orig)
            raise _invalid(entity, "name", "constraint", "The filter was saved at the same time elsewhere; try again.",
                           "该筛选条件同时在别处保存；请重试。") from exc

        logger.info("%s filter %s %r of %s for %s", "replaced" if existing is not None else "saved", saved_id, name, entity, actor.id)
        return SavedFilter(saved_id, name, query, moment, replaced=existing is not None)

    def delete(self, actor: Actor, entity: str, filter_id: int) -> bool:
        """Delete one of the actor's saved filters; return False if the actor has none with that id."""
        table = self.table
        with self.engine.connect().execution_options(**{WRITE_OPTION: True}) as connection, connection.begin():
            removed = connection.execute(
                delete(table).where(table.c.id == filter_id, table.c.user_id == actor.id, table.c.entity == entity)
            ).rowcount
        if removed:
            logger.info("deleted saved filter %s of %s for %s", filter_id, entity, actor.id)
        return bool(removed)
