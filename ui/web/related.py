"""Related lists on a record's detail page: the records of other entities that refer to it.

Each list declared under the entity's `related:` is read like the target's list screen: by
`RecordService.list` as the user, with a condition on the reference back. So the user's data
scope, hidden and masked fields apply, and the count is of the records the user may read.
A list is left out when the user may not read its entity or may not see the reference back.
"View all" opens the target's list screen filtered by that reference.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from metamodel import model as m
from runtime.access import Actor
from runtime.errors import NotFound, PermissionDenied, ValidationFailed
from runtime.record_query import Condition, ListQuery
from runtime.records import RecordService
from ui.web import i18n
from ui.web.list_params import list_url
from ui.web.lists_columns import Formats, References, cell_text, fallback_columns, shown_fields, visible_columns
from ui.web.navigation import entity_url

logger = logging.getLogger(__name__)

#: Newest first; records created in the same instant follow their ids, newest first too.
NEWEST_FIRST = ("-created_at",)


@dataclass(frozen=True)
class RelatedCell:
    text: str
    numeric: bool


@dataclass(frozen=True)
class RelatedRow:
    id: int
    url: str
    cells: list[RelatedCell]


@dataclass(frozen=True)
class RelatedSection:
    #: An anchor of the section, unique on the page.
    key: str
    label: str
    headers: list[tuple[str, bool]]
    rows: list[RelatedRow]
    #: Records the user may read that refer to the record, of which `rows` shows the newest.
    count: int
    view_all_url: str


def related_sections(records: RecordService, actor: Actor, entity: m.Entity, record_id: int) -> list[RelatedSection]:
    """Return the related lists of a record that the actor may read, in the order the entity declares them."""
    sections = []
    for index, related in enumerate(entity.related):
        section = _section(records, actor, related, record_id, f"related-{index}-{related.entity}-{related.field}")
        if section is not None:
            sections.append(section)
    return sections


def _section(records: RecordService, actor: Actor, related: m.RelatedList, record_id: int, key: str) -> RelatedSection | None:
    target = records.model.entities.get(related.entity)
    if target is None or not records.access.allows(actor, "read", target.name):
        return None
    if related.field in records.access.fields(actor, target.name).hidden:
        # Filtering by a field the user may not see would tell what it holds.
        return None

    lang = actor.lang
    # By default the target's list columns, less those of the reference back: every row would show this record.
    keys = list(related.columns) or [key for key in target.list.columns or fallback_columns(records.model, target)
                                     if key.split(".")[0] != related.field]
    columns = visible_columns(records, actor, target, keys)
    query = ListQuery(where=Condition(related.field, "eq", record_id), sort=NEWEST_FIRST, limit=related.limit,
                      with_total=True, fields=shown_fields(columns))
    try:
        page = records.list(actor, target.name, query)
    except (PermissionDenied, NotFound, ValidationFailed) as error:
        logger.info("related list of %s by %s left out for %s: %s", target.name, related.field, actor.id, error)
        return None

    references = References(records, actor)
    references.resolve(page.rows, columns)
    formats = Formats.of(records.model, target.name, lang)
    base = entity_url(target.name)
    rows = [
        RelatedRow(int(row["id"]), f"{base}/{row['id']}",
                   [RelatedCell(cell_text(column, references.value(row, column)[0], formats), column.numeric) for column in columns])
        for row in page.rows
    ]
    return RelatedSection(
        key=key,
        label=i18n.label(related.label or target.label, lang),
        headers=[(i18n.label(column.label, lang), column.numeric) for column in columns],
        rows=rows,
        count=page.total if page.total is not None else len(rows),
        view_all_url=list_url(base, [(related.field, str(record_id))]),
    )
