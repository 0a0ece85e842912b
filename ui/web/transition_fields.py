"""The required fields a transition's dialog fills in, saved through the record service before the transition fires.

The dialog posts the controls of the transition's empty required fields with the comment.
Everything that can be checked before writing is checked first: the comment, the transition
being open to the user, an empty value, and the form's rules and field checks
(runtime.form_submission). Only then does the record service update the record, with its own
checks, and the transition fire on the version that update made. A transition that still
fails then (its guard or a hook) leaves the saved values in place, and the page reports that.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request

from metamodel import model as m
from runtime.errors import FieldError, NotFound, PermissionDenied, ReasonRequired, StaleVersion, ValidationFailed
from runtime.flows import flow_of
from runtime.form_submission import prepare_submission
from runtime.inbox import OpenedRecord
from ui.web.forms import stale_message
from ui.web.state import actor_of, web
from ui.web.transition_view import ELSEWHERE_TYPES
from ui.web.widgets import parse_input, posted_fields, submitted_value, timezone_of

logger = logging.getLogger(__name__)


@dataclass
class DialogFields:
    """The posted inputs of a transition's required fields, and the values to save from them."""

    inputs: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Checked:
    """The dialog's values checked: what to save with the transition, or the errors that stop it."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[FieldError]] = field(default_factory=dict)


def transition_of(request: Request, entity: m.Entity, record: dict[str, Any], name: str) -> m.Transition | None:
    flow = flow_of(web(request).records, entity.name, record)
    return flow.transitions.get(name) if flow is not None else None


def read_dialog_fields(request: Request, entity: m.Entity, form: FormData, opened: OpenedRecord, name: str) -> DialogFields:
    """Return the posted inputs of transition `name`'s required fields. A delegate, who may not edit the record, gets none."""
    filled = DialogFields()
    transition = transition_of(request, entity, opened.record, name)
    if opened.delegated or transition is None:
        return filled
    zone = timezone_of(web(request).model)
    for field_name in posted_fields(form):
        spec = entity.fields.get(field_name)
        if spec is None or spec.type in ELSEWHERE_TYPES or field_name not in transition.required_fields:
            continue
        filled.inputs[field_name] = parse_input(spec, form, opened.record.get(field_name))
        filled.values[field_name] = submitted_value(spec, filled.inputs[field_name], zone)
    return filled


def check_dialog_fields(
    request: Request, entity: m.Entity, opened: OpenedRecord, name: str, filled: DialogFields, comment: str,
) -> Checked:
    """Check the dialog's values and the comment; return the values to save with the transition, or the errors."""
    state = web(request)
    actor = actor_of(request)
    record = opened.record
    transition = transition_of(request, entity, record, name)
    checked = Checked()
    if transition is None or name not in {item.name for item in state.records.transitions_for(actor, entity.name, record)}:
        checked.errors["state"] = [FieldError("permission", "You may not do this step on this record.", "您不能对此记录执行这一步。")]
        return checked
    if transition.comment == "required" and not comment.strip():
        checked.errors["comment"] = [FieldError("required", "Write a comment for this step.", "请填写审批意见。")]
    for field_name, value in filled.values.items():
        if value is None:
            checked.errors[field_name] = [FieldError(
                "required", f"Fill this in before “{transition.label.en}”.", f"执行“{transition.label.zh_cn}”前需填写此项。")]
    submission = prepare_submission(state.records, actor, entity.name, filled.values, record=record)
    for path, items in submission.errors.items():
        checked.errors.setdefault(path, items)
    if checked.errors:
        logger.info("%s %s: fields for %s by %s rejected: %s", entity.name, record["id"], name, actor.id, ", ".join(checked.errors))
    else:
        checked.values = dict(submission.values)
    return checked
