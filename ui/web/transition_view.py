"""The transitions open on a record as a screen shows them: a button each, and a dialog where one click is not enough.

A transition opens a dialog when it needs a comment, has a confirmation text, or requires
fields or documents that the record has not filled. The dialog contains the confirmation text,
a control for each such field the user may edit there (the widgets of the record's form),
the names of those the user must fill on the edit page instead (documents, tables, fields the
form does not let the user edit), and the comment box. The dialog stays hidden without
JavaScript, and the plain form beside the button posts as before.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from starlette.requests import Request

from metamodel import model as m
from runtime.access import Actor
from runtime.errors import FieldError
from runtime.form_rules import FormRules, evaluate_rules
from ui.web import i18n
from ui.web.display import ReferenceTitles, record_url
from ui.web.form_view import FieldView, FormBuilder
from ui.web.navigation import entity_url
from ui.web.state import lang_of, web
from ui.web.widgets import timezone_of

#: Field types a dialog cannot edit: they are filled on the edit page.
ELSEWHERE_TYPES = frozenset({"attachment", "attachments", "child"})
#: Labels of error paths that are not fields.
SPECIAL_PATHS = {"comment": ("Comment", "审批意见"), "state": ("State", "状态"), "_reason": ("Reason", "原因"),
                 "approval": ("Approval", "审批"), "approver": ("Approver", "加签人"), "_record": ("Record", "记录"),
                 "_version": ("Version", "版本")}


@dataclass
class TransitionView:
    transition: m.Transition
    #: Address the transition posts to.
    url: str
    #: Id of the transition's dialog in the page.
    dom_id: str
    dialog: bool = False
    #: Controls of the required fields still empty that the user may fill in the dialog.
    fields: list[FieldView] = field(default_factory=list)
    #: Labels of required fields and documents still empty that must be filled on the edit page.
    elsewhere: list[str] = field(default_factory=list)
    comment: str = ""
    comment_errors: list[str] = field(default_factory=list)
    #: Errors of the last attempt that belong to no control of the dialog.
    errors: list[str] = field(default_factory=list)
    #: Whether the page opens the dialog as it loads: the last attempt failed.
    open: bool = False


@dataclass(frozen=True)
class Attempt:
    """The last, failed attempt at a transition: what was typed and what was wrong."""

    transition: str
    comment: str = ""
    inputs: Mapping[str, Any] = field(default_factory=dict)
    errors: Mapping[str, list[FieldError]] = field(default_factory=dict)


def error_lines(entity: m.Entity, errors: Mapping[str, list[FieldError]], lang: str) -> list[str]:
    """Prefix each error with its field's label, so that a rejected transition names what to fill in."""
    lines: list[str] = []
    for path, items in errors.items():
        name = path.split(".", 1)[0].split("[", 1)[0]
        spec = entity.fields.get(name)
        label = i18n.label(spec.label, lang) if spec is not None else i18n.pick(lang, *SPECIAL_PATHS.get(path, (path, path)))
        lines.extend(f"{label}: {item.message(lang)}" for item in items)
    return lines


def missing_fields(transition: m.Transition, record: Mapping[str, Any]) -> list[str]:
    """Return the required fields and documents of a transition that the record, as read, leaves empty."""
    return [name for name in dict.fromkeys((*transition.required_fields, *transition.required_documents))
            if name in record and _empty(record.get(name))]


def transition_views(
    request: Request,
    entity: m.Entity,
    record: Mapping[str, Any],
    transitions: Sequence[m.Transition],
    *,
    editor: Actor | None,
    attempt: Attempt | None = None,
    prefix: str = "",
) -> list[TransitionView]:
    """Return the view of each transition. `editor` is the user who fills required fields, or None (a delegate) for no one.

    Required fields get controls only where the editor may update the entity and the form lets them edit the field.
    """
    lang = lang_of(request)
    url = record_url(entity.name, record["id"])
    if editor is not None and not web(request).records.access.allows(editor, "update", entity.name):
        editor = None
    rules: FormRules | None = None
    views = []
    for transition in transitions:
        view = TransitionView(transition, f"{url}/transitions/{transition.name}", f"dlg-{prefix}{transition.name}")
        failed = attempt is not None and attempt.transition == transition.name
        errors: Mapping[str, list[FieldError]] = attempt.errors if attempt is not None and failed else {}
        inputs: Mapping[str, Any] = attempt.inputs if attempt is not None and failed else {}
        for name in missing_fields(transition, record):
            spec = entity.fields[name]
            if editor is not None and spec.type not in ELSEWHERE_TYPES and rules is None:
                rules = evaluate_rules(web(request).records, editor, entity.name, record, record=record)
            rule = rules.field(name) if rules is not None and spec.type not in ELSEWHERE_TYPES else None
            if editor is None or rules is None or rule is None or not rule.editable:
                view.elsewhere.append(i18n.label(spec.label, lang))
                continue
            built = _builder(request, entity, record, editor).field(rule, rules, inputs, errors, {})
            view.fields.append(dataclasses.replace(built, dom_id=f"{view.dom_id}-{built.dom_id}", required=True))
        view.dialog = transition.comment == "required" or transition.confirm is not None or bool(view.fields or view.elsewhere)
        if attempt is not None and failed:
            in_dialog = {item.name for item in view.fields} | {"comment"}
            view.comment = attempt.comment
            view.comment_errors = [item.message(lang) for item in errors.get("comment", [])]
            view.errors = error_lines(entity, {path: items for path, items in errors.items() if path.split(".")[0] not in in_dialog}, lang)
            view.open = view.dialog
        views.append(view)
    return views


def _builder(request: Request, entity: m.Entity, record: Mapping[str, Any], editor: Actor) -> FormBuilder:
    state = web(request)
    lang = lang_of(request)
    return FormBuilder(entity, lang, timezone_of(state.model), ReferenceTitles(state.records, editor, lang), record, entity_url(entity.name))


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}
