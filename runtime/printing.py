"""Printing records to PDF through their templates, as the acting user, with one audit entry per print.

Printing takes data out of the system, so it needs the `print` action on the entity besides
`read`, and the record must lie inside the data scopes of both. A record outside either
scope is NotFound, exactly as a missing one. The template is given the record as the user reads
it, with masked fields masked and hidden ones absent, and referenced records are read with
the same user's permissions (runtime/printing_views.py).

A document template is Jinja HTML (runtime/printing_documents.py); an overlay template places
fields on a pre-printed form, moved by the user's calibration offset
(runtime/printing_overlay.py, runtime/printing_calibration.py). After the PDF is laid out,
one entry is appended to the audit log, in the same hash chain as record changes. It names the
acting user and address, the entity and record, and the action "print". Its changes are the
template's name and kind, with the offset for an overlay. The PDF is returned only once that
entry is written.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from metamodel import model as m
from runtime.access import Actor
from runtime.errors import NotFound, PermissionDenied
from runtime.printing_calibration import Calibrations, Offset, parse_offset
from runtime.printing_documents import DocumentTemplates
from runtime.printing_overlay import calibration_sheet_html, overlay_html
from runtime.printing_pdf import html_to_pdf
from runtime.printing_views import References, RecordView, field_text, resolve_path, revealed_fields
from runtime.record_reads import RecordReads

logger = logging.getLogger(__name__)

PRINT_ACTION = "print"
#: Characters that file systems or the Content-Disposition header do not take in a file name.
_UNSAFE_FILENAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


class PrintNotInThisState(Exception):
    """A template that prints records only in some states, asked for a record in another one."""

    def __init__(self, template: m.Template, state_en: str, state_zh: str, allowed_en: str, allowed_zh: str) -> None:
        self.message_en = f"“{template.label.en}” prints only in the states {allowed_en}; this record is “{state_en}”."
        self.message_zh = f"“{template.label.zh_cn}”只能在以下状态打印：{allowed_zh}；本记录当前为“{state_zh}”。"
        super().__init__(self.message_en)

    def message(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message_zh


@dataclass(frozen=True)
class PrintedRecord:
    """A printed record: the PDF, a file name in the user's language, and the id of its audit entry."""

    template: m.Template
    pdf: bytes
    filename: str
    audit_id: int


class RecordPrinting:
    """Prints records and calibration test sheets through the record service, as the acting user."""

    def __init__(self, records: RecordReads) -> None:
        self.records = records
        self.model = records.model
        self.calibrations = Calibrations(records.schema, records.engine, records.clock)
        self.documents = DocumentTemplates()

    # Templates and permissions ------------------------------------------------

    def may_print(self, actor: Actor, entity_name: str) -> bool:
        allows = self.records.access.allows
        return allows(actor, PRINT_ACTION, entity_name) and allows(actor, "read", entity_name)

    def templates_for(self, actor: Actor, entity_name: str, state: str | None = None) -> list[m.Template]:
        """Return the templates of an entity the actor may print, in name order; none without `print` and `read`.

        With `state`, only the templates that print records in that state.
        """
        if not self.may_print(actor, entity_name):
            return []
        return sorted((template for template in self.model.templates.values()
                       if template.entity == entity_name and (state is None or not template.states or state in template.states)),
                      key=lambda template: template.name)

    def template(self, name: str, *, entity: str | None = None, kind: str | None = None) -> m.Template:
        """Return a template by name; NotFound if there is none, or it is of another entity or kind."""
        template = self.model.templates.get(name)
        if template is None or (entity is not None and template.entity != entity) or (kind is not None and template.kind != kind):
            raise NotFound("template", name)
        return template

    def _require_print(self, actor: Actor, entity_name: str) -> None:
        if not self.records.access.allows(actor, PRINT_ACTION, entity_name):
            raise PermissionDenied(entity_name, PRINT_ACTION)

    def _in_print_scope(self, actor: Actor, entity_name: str, record_id: int) -> bool:
        records = self.records
        table = records.schema.entities[entity_name].table
        statement = select(table.c.id).where(table.c.id == record_id, table.c.deleted_at.is_(None),
                                             records._scoped(actor, entity_name, PRINT_ACTION))
        with records._connection() as connection:
            return connection.execute(statement).first() is not None

    # Printing -------------------------------------------------------------------

    def print_record(self, actor: Actor, entity_name: str, record_id: int, template_name: str) -> PrintedRecord:
        """Print one record with a template of its entity and audit it; return the PDF.

        Raises NotFound for an unknown template or a record that is missing or outside the
        read or print scope, PermissionDenied without `print` or `read`, PrintNotInThisState
        for a record in a state the template does not print in, PrintTemplateError
        for a template that fails, and PrintingUnavailable without WeasyPrint's system
        libraries. Nothing is audited when one of them is raised.
        """
        records = self.records
        entity = records._entity(entity_name)
        template = self.template(template_name, entity=entity_name)
        self._require_print(actor, entity_name)

        with records.reading():
            record = records.get(actor, entity_name, record_id)
            if not self._in_print_scope(actor, entity_name, record_id):
                raise NotFound(entity_name, record_id)
            if template.states and record.get("state") not in template.states:
                raise self._wrong_state(template, entity_name, record.get("state"))
            references = References(records, actor, reveal=revealed_fields(records.model, template))
            record = references.revealed(entity_name, record)
            view = RecordView(references, entity, record)
            offset: Offset | None = None
            if template.kind == "overlay":
                offset = self.calibrations.offset(actor.id, template.name)
                placed = [(position, field_text(*resolve_path(view, position.field))) for position in template.positions]
                html = overlay_html(template.paper, placed, offset)
            else:
                html = self.documents.render(template, self._document_context(view))
        pdf = html_to_pdf(html, paper=template.paper, folder=Path(template.source.file).parent)

        changes: dict[str, Any] = {"template": template.name, "kind": template.kind}
        if template.reveal:
            changes["revealed"] = list(template.reveal)
        if offset is not None:
            changes["offset_mm"] = {"dx": str(offset.dx_mm), "dy": str(offset.dy_mm)}
        with records._write() as connection:
            audit_id = records.audit.append(connection, at=records.clock(), actor=actor.id, address=actor.address,
                                            action=PRINT_ACTION, entity=entity_name, record_id=record_id, changes=changes)
        logger.info("%s %s printed by %s with %s (%s bytes), audit entry %s", entity_name, record_id, actor.id, template.name,
                    len(pdf), audit_id)
        return PrintedRecord(template, pdf, self._filename(template, entity, record, actor.lang), audit_id)

    def _wrong_state(self, template: m.Template, entity_name: str, state: Any) -> PrintNotInThisState:
        labels = {name: spec.label for flow in self.model.flows_for(entity_name) for name, spec in flow.states.items()}

        def label(name: Any) -> m.Label:
            return labels.get(str(name), m.Label(str(name), str(name)))

        return PrintNotInThisState(template, label(state).en, label(state).zh_cn,
                                   ", ".join(f"“{label(name).en}”" for name in template.states),
                                   "、".join(f"“{label(name).zh_cn}”" for name in template.states))

    def _document_context(self, view: RecordView) -> dict[str, Any]:
        now = self.records.clock().astimezone(self.records.timezone)
        return {"record": view, "today": now.date(), "printed_at": now, "settings": dict(self.records.model.app.settings)}

    def _filename(self, template: m.Template, entity: m.Entity, record: dict[str, Any], lang: str) -> str:
        title = record.get(entity.title) if entity.title else None
        name = f"{template.label.get(lang)}-{title if title not in (None, '') else record['id']}"
        return _UNSAFE_FILENAME.sub("_", name).strip() + ".pdf"

    # Calibration of overlays ---------------------------------------------------

    def calibration(self, actor: Actor, template_name: str) -> tuple[m.Template, Offset]:
        """Return an overlay template the actor may print and the actor's offset for it."""
        template = self.template(template_name, kind="overlay")
        self._require_print(actor, template.entity)
        return template, self.calibrations.offset(actor.id, template.name)

    def save_calibration(self, actor: Actor, template_name: str, dx_text: str, dy_text: str) -> Offset:
        """Check and store the actor's offset for an overlay template; raise ValidationFailed naming a bad value."""
        template, _ = self.calibration(actor, template_name)
        offset = parse_offset(dx_text, dy_text)
        self.calibrations.save(actor, template.name, offset)
        return offset

    def calibration_sheet(self, actor: Actor, template_name: str) -> bytes:
        """Return the PDF test sheet of an overlay template, moved by the actor's offset. It contains no record data."""
        template, offset = self.calibration(actor, template_name)
        entity = self.model.entities[template.entity]
        labels = [position_label(self.model, entity, position.field, actor.lang) for position in template.positions]
        html = calibration_sheet_html(template.paper, template, labels, offset, actor.lang)
        return html_to_pdf(html, paper=template.paper, folder=Path(template.source.file).parent)


def position_label(model: m.AppModel, entity: m.Entity, path: str, lang: str) -> str:
    """Return the labels along a dotted field path, such as 客户 · 姓名."""
    labels = []
    current: m.Entity | None = entity
    for name in path.split("."):
        field = current.fields.get(name) if current is not None else None
        if field is None:
            labels.append(name)
            current = None
            continue
        labels.append(field.label.get(lang))
        current = model.entities.get(field.entity) if field.entity else None
    return " · ".join(labels)
