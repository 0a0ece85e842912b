"""What the form templates draw: sections and fields with their controls, values, state and errors.

`FormBuilder.build` turns evaluated form rules, the inputs of the controls and the errors of
a save into a `FormView`. Each section and field carries a signature of how it shows
(visible, required, read-only, masked, and the value of a computed field). The form posts
the signatures back with every rule check, so the response redraws only what changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from metamodel import model as m
from runtime.errors import FieldError
from runtime.form_rules import FieldRules, FormRules, SectionRules
from runtime.form_submission import ROW_KEY
from ui.web import i18n
from ui.web.display import Reference, ReferenceTitles, file_url, format_size, format_value
from ui.web.uploads import PendingFile
from ui.web.widgets import field_of_path, form_path, input_of, shown_error, widget_kind

#: Placeholder of the row index in a child table's template row; forms.js replaces it.
ROW_INDEX = "__index__"


@dataclass
class FileView:
    sha256: str
    filename: str
    size: str
    url: str | None


@dataclass
class RowView:
    """One row of a child table; a stored row posts its id under `key_name`."""

    key_name: str
    key: str
    cells: list[FieldView]


@dataclass
class FieldView:
    """One control of the form, or one read-only value, with its errors."""

    name: str
    dom_id: str
    field: m.Field
    kind: str
    label: str
    help: str = ""
    span: int = 1
    visible: bool = True
    required: bool = False
    read_only: bool = False
    masked: bool = False
    value: Any = ""
    display: str = ""
    #: Hint inside an empty control: the masked stored value that empty input keeps.
    placeholder: str = ""
    errors: list[str] = dataclasses.field(default_factory=list)
    choices: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    references: list[Reference] = dataclasses.field(default_factory=list)
    rows: list[RowView] = dataclasses.field(default_factory=list)
    template_row: RowView | None = None
    row_labels: list[str] = dataclasses.field(default_factory=list)
    files: list[FileView] = dataclasses.field(default_factory=list)
    pending: list[PendingFile] = dataclasses.field(default_factory=list)
    signature: str = ""


@dataclass
class SectionView:
    name: str
    dom_id: str
    label: str
    columns: int
    visible: bool
    fields: list[FieldView]
    signature: str = ""


@dataclass(frozen=True)
class SummaryItem:
    label: str
    message: str
    anchor: str | None


@dataclass
class FormView:
    sections: list[SectionView]
    summary: list[SummaryItem]

    @property
    def layout(self) -> str:
        """Return the signatures of every section and field, as the form posts them back."""
        parts = []
        for section in self.sections:
            parts.append(f"{section.dom_id}={section.signature}")
            parts.extend(f"{view.dom_id}={view.signature}" for view in section.fields)
        return ";".join(parts)


def parse_layout(text: str) -> dict[str, str]:
    pairs = (part.split("=", 1) for part in text.split(";") if "=" in part)
    return {key: value for key, value in pairs}


def dom_id(path: str) -> str:
    return "field-" + form_path(path).replace(".", "-")


@dataclass
class FormBuilder:
    """Builds the views of one entity's form for one user and one record (None while creating)."""

    entity: m.Entity
    lang: str
    zone: ZoneInfo
    titles: ReferenceTitles
    record: Mapping[str, Any] | None = None
    #: Base address of the entity, for lookups and the single-field check.
    base_url: str = ""

    def build(
        self,
        rules: FormRules,
        inputs: Mapping[str, Any],
        errors: Mapping[str, list[FieldError]] | None = None,
        pending: Mapping[str, list[PendingFile]] | None = None,
    ) -> FormView:
        """Build the form: `inputs` contains what the user typed, and other fields show the record's values or defaults."""
        shown_errors = {form_path(path): items for path, items in (errors or {}).items()}
        sections = [self.section(section, rules, inputs, shown_errors, pending or {}) for section in rules.sections]
        return FormView(sections, self.summary(sections, shown_errors))

    def section(
        self, section: SectionRules, rules: FormRules, inputs: Mapping[str, Any],
        errors: Mapping[str, list[FieldError]], pending: Mapping[str, list[PendingFile]],
    ) -> SectionView:
        fields = [self.field(field_rules, rules, inputs, errors, pending) for field_rules in section.fields]
        return SectionView(section.name, f"section-{section.name}", i18n.label(section.section.label, self.lang),
                           max(1, min(section.section.columns, 4)), section.visible, fields, "1" if section.visible else "0")

    def field(
        self, rules: FieldRules, form_rules: FormRules, inputs: Mapping[str, Any],
        errors: Mapping[str, list[FieldError]], pending: Mapping[str, list[PendingFile]],
    ) -> FieldView:
        spec = rules.field
        stored = self._stored(rules, form_rules)
        if rules.read_only:
            value = input_of(spec, stored, self.zone)
        elif spec.name in inputs:
            value = inputs[spec.name]
        else:
            # A masked value never goes into a control: the control starts empty and keeps the value if left so.
            value = input_of(spec, None if rules.masked and spec.type != "child" else stored, self.zone)
        view = FieldView(
            name=spec.name, dom_id=dom_id(spec.name), field=spec, kind=widget_kind(spec, rules.form_field.widget),
            label=i18n.label(spec.label, self.lang), help=i18n.label(spec.help, self.lang),
            span=max(1, min(rules.form_field.span, 4)), visible=rules.visible, required=rules.required,
            read_only=rules.read_only, masked=rules.masked, value=value,
            display=format_value(spec, stored, self.lang, str(self.zone)),
            errors=self._messages(spec, errors.get(spec.name, [])),
            choices=[(choice.value, i18n.label(choice.label, self.lang)) for choice in spec.choices],
        )
        if rules.masked and not rules.read_only and spec.type != "child":
            view.placeholder = view.display + i18n.pick(self.lang, " (leave empty to keep)", "（留空则保持不变）")
        if spec.type in m.REFERENCE_TYPES:
            view.references = self.titles.many(spec.entity, stored if rules.read_only else value)
        elif spec.type == "child":
            self._child(view, rules, stored, errors)
        elif spec.type in ("attachment", "attachments"):
            files = input_of(spec, stored, self.zone) if rules.read_only else value
            view.files = [self._file(spec, item) for item in files]
            view.pending = list(pending.get(spec.name, []))
        flags = f"{int(view.visible)}{int(view.required)}{int(view.read_only)}{int(view.masked)}"
        computed = view.display if spec.computed is not None else ""
        view.signature = hashlib.sha256(f"{flags}|{computed}".encode()).hexdigest()[:12]
        return view

    def _stored(self, rules: FieldRules, form_rules: FormRules) -> Any:
        """Return the value a field shows when it is not typed: computed, stored, or the default of a new record."""
        name = rules.name
        if rules.field.computed is not None:
            return form_rules.computed.get(name)
        if self.record is not None:
            return self.record.get(name)
        return rules.field.default

    def _child(self, view: FieldView, rules: FieldRules, stored: Any, errors: Mapping[str, list[FieldError]]) -> None:
        spec = rules.field
        view.row_labels = [i18n.label(row_field.label, self.lang) for row_field in spec.fields]
        stored_rows = {str(row.get("id")): row for row in stored or [] if isinstance(row, Mapping)}
        source = input_of(spec, stored, self.zone) if rules.read_only else view.value
        view.rows = []
        for index, row in enumerate(source or []):
            row_view = self._row(spec, index, row, errors, rules.read_only)
            stored_row = stored_rows.get(str(row.get(ROW_KEY) or ""))
            for cell in row_view.cells:
                stored_value = stored_row.get(cell.field.name) if stored_row is not None else None
                if rules.read_only:
                    cell.display = format_value(cell.field, stored_value, self.lang, str(self.zone))
                elif cell.field.name in rules.masked_cells and stored_row is not None and stored_value is not None:
                    # The cell starts empty: the masked value stays unless something new is typed.
                    masked_text = input_of(cell.field, stored_value, self.zone)
                    if cell.value == masked_text:
                        cell.value = ""
                    cell.placeholder = masked_text + i18n.pick(self.lang, " (leave empty to keep)", "（留空则保持不变）")
            view.rows.append(row_view)
        if not rules.read_only:
            view.template_row = self._row(spec, ROW_INDEX, {}, {}, False)

    def _row(
        self, spec: m.Field, index: int | str, row: Mapping[str, Any], errors: Mapping[str, list[FieldError]], read_only: bool
    ) -> RowView:
        cells = []
        for row_field in spec.fields:
            path = f"{spec.name}.{index}.{row_field.name}"
            default = input_of(row_field, row_field.default, self.zone)
            cell = FieldView(
                name=path, dom_id=dom_id(path), field=row_field, kind=widget_kind(row_field),
                label=i18n.label(row_field.label, self.lang), required=row_field.required, read_only=read_only,
                value=row.get(row_field.name, default), errors=self._messages(row_field, errors.get(path, [])),
                choices=[(choice.value, i18n.label(choice.label, self.lang)) for choice in row_field.choices],
            )
            if row_field.type in m.REFERENCE_TYPES:
                # The reference control shows the chosen record by its title, as a field's control does.
                cell.references = self.titles.many(row_field.entity, cell.value)
            cells.append(cell)
        return RowView(f"{spec.name}.{index}.{ROW_KEY}", str(row.get(ROW_KEY) or ""), cells)

    def _file(self, spec: m.Field, item: Mapping[str, Any]) -> FileView:
        record_id = self.record.get("id") if self.record is not None else None
        sha256 = str(item.get("sha256", ""))
        url = file_url(self.entity.name, record_id, spec.name, sha256) if record_id is not None and sha256 else None
        return FileView(sha256, str(item.get("filename") or sha256[:12]), format_size(item.get("size"), self.lang), url)

    def _messages(self, spec: m.Field | None, items: list[FieldError]) -> list[str]:
        return [shown_error(spec, item).message(self.lang) for item in items]

    def summary(self, sections: list[SectionView], errors: Mapping[str, list[FieldError]]) -> list[SummaryItem]:
        """List every error once, in the order of the form, each linked to its field where the form shows it."""
        anchors: dict[str, tuple[str, str]] = {}
        for section in sections:
            for view in section.fields:
                if view.visible:
                    anchors[view.name] = (view.label, view.dom_id)
                    for index, row in enumerate(view.rows):
                        for cell in row.cells:
                            row_label = i18n.pick(self.lang, f"row {index + 1}", f"第 {index + 1} 行")
                            anchors[cell.name] = (f"{view.label} {row_label} {cell.label}", cell.dom_id)
        items: list[SummaryItem] = []
        ordered = [path for path in anchors if path in errors] + [path for path in errors if path not in anchors]
        for path in ordered:
            spec = field_of_path(self.entity, path)
            label, anchor = anchors.get(path, (self._label_of(path, spec), None))
            items.extend(SummaryItem(label, message, anchor) for message in self._messages(spec, errors[path]))
        return items

    def _label_of(self, path: str, spec: m.Field | None) -> str:
        if spec is not None:
            return i18n.label(spec.label, self.lang)
        special = {"_record": ("Record", "记录"), "_reason": ("Reason", "操作原因"), "_version": ("Version", "版本")}
        en, zh = special.get(path, (path, path))
        return i18n.pick(self.lang, en, zh)
