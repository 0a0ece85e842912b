"""Hooks of the document checklist: a transition refuses until the product's documents for it are uploaded,
and the application shows the checklist of its next step with what is present and what is missing."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Mapping

from metamodel import model as m
from runtime.hook_records import HookRecords
from runtime.hooks import HookContext, HookError, hook

from .context import reference_id, records_of, system_records
from .documents import FIELD_PREFIX, ChecklistError, Item, missing, present, read_checklist, required, step_of

logger = logging.getLogger(__name__)

ENTITY = "loan_application"
#: Kinds of transitions that leave the way forward; the checklist shown never looks past them.
SIDE_KINDS = ("return", "reject", "withdraw")


def document_types(model: m.AppModel) -> dict[str, m.Label]:
    """Return the document types the application has a field for, with their labels."""
    fields = model.entities[ENTITY].fields
    return {name[len(FIELD_PREFIX):]: field.label for name, field in fields.items()
            if name.startswith(FIELD_PREFIX) and field.type == "attachments"}


def _checklist(reader: HookRecords, record: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, dict[str, tuple[Item, ...]]]:
    product_id = reference_id(record.get("product"))
    if product_id is None:
        return None, {}
    product = reader.get("loan_product", product_id)
    try:
        return product, read_checklist(product.get("document_checklist"), str(product.get("code")), document_types(reader.model))
    except ChecklistError as wrong:
        raise HookError(f"{wrong.en}; ask the product manager to correct the product", f"{wrong.zh}；请产品经理修正该产品",
                        field="product") from None


def _facts(reader: HookRecords, record: Mapping[str, Any]) -> set[str]:
    """Return the conditions (documents.CONDITIONS) that hold for the application."""
    facts = set()
    vehicle = reference_id(record.get("vehicle"))
    if vehicle is not None and reader.get("vehicle", vehicle).get("condition") == "used":
        facts.add("used_vehicle")
    borrower = reference_id(record.get("customer"))
    if borrower is not None and reader.get("customer", borrower).get("marital_status") == "married":
        facts.add("married")
    return facts


def _flow(model: m.AppModel, record: Mapping[str, Any], product: Mapping[str, Any] | None) -> m.Flow | None:
    flow = model.flows.get(str(record.get("flow") or ""))
    if flow is None and product is not None:
        flow = model.flows.get(f"loan_{product.get('flow')}")
    return flow


def _distances(flow: m.Flow) -> dict[str, int]:
    """Return how many transitions each state is from the flow's initial state, by the shortest way."""
    distance, queue = {flow.initial_state: 0}, deque([flow.initial_state])
    while queue:
        current = queue.popleft()
        for transition in flow.transitions.values():
            if current in transition.sources and transition.target not in distance:
                distance[transition.target] = distance[current] + 1
                queue.append(transition.target)
    return distance


def _detours(flow: m.Flow) -> set[str]:
    """Return the states whose every way on leads back to an earlier state, such as "returned", which goes back to "submitted"."""
    distance = _distances(flow)
    detours = set()
    for state in flow.states.values():
        onward = [transition.target for transition in flow.transitions.values()
                  if state.name in transition.sources and not flow.states[transition.target].final]
        if onward and state.name in distance and all(distance.get(target, 0) < distance[state.name] for target in onward):
            detours.add(state.name)
    return detours


def next_step(flow: m.Flow, state: str, checklist: Mapping[str, tuple[Item, ...]]) -> m.Transition | None:
    """Return the nearest transition ahead of `state`, forward along the flow, whose step the checklist lists, or None.

    The way forward leaves out the transitions that end the record or send it back, and
    those into a state that only leads back, such as the return to the dealer: from
    committee review the next step with documents is the advance, not the resubmission.
    A record in such a state finds the step that takes it on (the resubmission).
    """
    detours = _detours(flow)
    queue, seen = deque([state]), {state}
    while queue:
        current = queue.popleft()
        for transition in flow.transitions.values():
            if current not in transition.sources or transition.kind in SIDE_KINDS or flow.states[transition.target].final:
                continue
            if transition.target in detours:
                continue
            if checklist.get(step_of(transition.name)):
                return transition
            if transition.target not in seen:
                seen.add(transition.target)
                queue.append(transition.target)
    return None


def checklist_text(model: m.AppModel, record: Mapping[str, Any], transition: m.Transition | None,
                   items: tuple[Item, ...]) -> str | None:
    """Write the checklist of one step, a line per document: ✓ present or ✗ missing; None when no step ahead needs any.

    The text is stored on the application and read by everyone, so it is written in Chinese, the users' language.
    """
    if transition is None:
        return None
    labels = document_types(model)
    lines = [f"{transition.label.zh_cn}："]
    for item in items:
        label = labels[item.type].zh_cn
        lines.append(f"✓ {label}" if present(record, item) else f"✗ {label}（缺）")
    return "\n".join(lines)


def _text_for(context: HookContext, record: Mapping[str, Any], state: str) -> str | None:
    reader = system_records(context)
    product, checklist = _checklist(reader, record)
    flow = _flow(reader.model, record, product)
    if flow is None:
        return None
    transition = next_step(flow, state, checklist)
    items = required(checklist[step_of(transition.name)], _facts(reader, record)) if transition is not None else ()
    return checklist_text(reader.model, record, transition, items)


@hook("guarantee.document_checklist")
def document_checklist(context: HookContext) -> str | None:
    """Compute the checklist of the application's next step on every save, uploads included."""
    record = context.record
    flow = _flow(records_of(context).model, record, None)
    state = str(record.get("state") or (flow.initial_state if flow is not None else "draft"))
    return _text_for(context, record, state)


@hook("guarantee.check_documents")
def check_documents(context: HookContext) -> dict[str, Any]:
    """Refuse the transition while a document type the product lists for it has no file; then show the next step's list."""
    record = context.record
    reader = system_records(context)
    product, checklist = _checklist(reader, record)
    items = required(checklist.get(step_of(context.event), ()), _facts(reader, record))
    absent = missing(record, items)
    flow = _flow(reader.model, record, product)
    transition = flow.transitions.get(context.event) if flow is not None else None
    if absent:
        labels = document_types(reader.model)
        doing = transition.label if transition is not None else m.Label(context.event, context.event)
        logger.info("loan_application %s: %s refused, missing %s", record.get("id"), context.event, ", ".join(i.type for i in absent))
        raise HookError(f"Upload these documents before “{doing.en}”: {', '.join(labels[i.type].en for i in absent)}",
                        f"执行“{doing.zh_cn}”前须上传以下资料：{'、'.join(labels[i.type].zh_cn for i in absent)}",
                        field=absent[0].field)
    if transition is None:
        return {}
    return {"document_checklist": _text_for(context, record, transition.target)}
