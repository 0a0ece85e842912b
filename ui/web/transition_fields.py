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
class Saving:
    """The outcome of saving a dialog's fields: the record's new version, or the errors that stopped the save."""

    version: int
    errors: dict[str, list[FieldError]] = field(default_factory=dict)
    stale: str | None = None


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


def save_dialog_fields(
    request: Request, entity: m.Entity, opened: OpenedRecord, name: str, filled: DialogFields, comment: str, version: int,
) -> Saving:
    """Check the dialog's values and the comment, then update the record. Return its new version, or the errors."""
    state = web(request)
    actor = actor_of(request)
    record = opened.record
    transition = transition_of(request, entity, record, name)
    saving = Saving(version)
    if transition is None or name not in {item.name for item in state.records.transitions_for(actor, entity.name, record)}:
        saving.errors["state"] = [FieldError("permission", "You may not do this step on this record.", "您不能对此记录执行这一步。")]
        return saving
    if transition.comment == "required" and not comment.strip():
        saving.errors["comment"] = [FieldError("required", "Write a comment for this step.", "请填写审批意见。")]
    for field_name, value in filled.values.items():
        if value is None:
            saving.errors[field_name] = [FieldError(
                "required", f"Fill this in before “{transition.label.en}”.", f"执行“{transition.label.zh_cn}”前需填写此项。")]
    submission = prepare_submission(state.records, actor, entity.name, filled.values, record=record)
    for path, items in submission.errors.items():
        saving.errors.setdefault(path, items)
    if saving.errors:
        logger.info("%s %s: fields for %s by %s rejected before saving: %s", entity.name, record["id"], name, actor.id,
                    ", ".join(saving.errors))
    if saving.errors or not submission.values:
        return saving

    try:
        saved = state.records.update(actor, entity.name, int(record["id"]), submission.values, version=version,
                                     reason=comment.strip() or None)
    except ValidationFailed as failed:
        logger.info("%s %s: fields for %s by %s rejected: %s", entity.name, record["id"], name, actor.id, ", ".join(failed.errors))
        saving.errors.update(failed.errors)
    except ReasonRequired:
        logger.info("%s %s: fields for %s by %s rejected: no reason given", entity.name, record["id"], name, actor.id)
        saving.errors["comment"] = [FieldError("required", "Write a comment: changes to this record need a reason.",
                                               "请填写审批意见：修改此类记录需要说明原因。")]
    except StaleVersion as stale:
        logger.info("%s %s: fields for %s by %s rejected: version %s is stale", entity.name, record["id"], name, actor.id, version)
        saving.stale = stale_message(request, stale)
    except (NotFound, PermissionDenied) as error:
        logger.info("%s %s: fields for %s by %s denied: %s", entity.name, record["id"], name, actor.id, error)
        saving.errors["state"] = [FieldError("permission", "You may not change these fields of this record.",
                                             "您不能修改此记录的这些字段。")]
    else:
        saving.version = int(saved["version"])
        logger.info("%s %s: fields %s saved by %s before %s", entity.name, record["id"], ", ".join(submission.values), actor.id, name)
    return saving
