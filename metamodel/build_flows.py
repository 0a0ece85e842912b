"""Flows from YAML: states, transitions, approval steps and their routing tables."""

from __future__ import annotations

from typing import Any, Mapping

from metamodel import model as m
from metamodel.expressions import Expression
from metamodel.build import Builder, decimal, label, optional_label, source_of
from metamodel.diagnostics import DocPath
from metamodel.yamlsource import Document


def build_flow(builder: Builder, document: Document) -> m.Flow:
    data = document.data
    entity = data["entity"]
    builder.unique_names(document, ("states",), data["states"])
    builder.unique_names(document, ("transitions",), data["transitions"])

    states: dict[str, m.State] = {}
    for state in data["states"]:
        states.setdefault(
            state["name"],
            m.State(
                name=state["name"],
                label=label(state["label"]),
                initial=state.get("initial", False),
                final=state.get("final", False),
                editable=tuple(state["editable"]) if "editable" in state else None,
                on_enter=tuple(state.get("on_enter", ())),
                on_leave=tuple(state.get("on_leave", ())),
            ),
        )
    initial = [name for name, state in states.items() if state.initial]
    if not initial:
        builder.report(document.diagnostic("flow.E001", ("states",)))
    elif len(initial) > 1:
        builder.report(document.diagnostic("flow.E002", ("states",), found=initial))

    transitions: dict[str, m.Transition] = {}
    for index, item in enumerate(data["transitions"]):
        path: DocPath = ("transitions", index)
        sources = (item["from"],) if isinstance(item["from"], str) else tuple(item["from"])
        guard = builder.expression(document, path + ("guard",), item["guard"], entity) if "guard" in item else None
        approval = item.get("approval")
        sla = item.get("sla")
        transitions.setdefault(
            item["name"],
            m.Transition(
                name=item["name"],
                label=label(item["label"]),
                sources=sources,
                target=item["to"],
                roles=tuple(item.get("roles", ())),
                guard=guard,
                guard_message=optional_label(item.get("guard_message")),
                required_fields=tuple(item.get("required_fields", ())),
                required_documents=tuple(item.get("required_documents", ())),
                comment=item.get("comment", "required" if item.get("kind") in ("return", "reject") else "optional"),
                confirm=optional_label(item.get("confirm")),
                automatic=item.get("automatic", False),
                approval=None if approval is None else _approval(builder, document, path + ("approval",), approval, entity),
                sla=None
                if sla is None
                else m.Sla(
                    hours=decimal(sla.get("hours")),
                    working_days=sla.get("working_days"),
                    remind_before_hours=decimal(sla.get("remind_before_hours")),
                    escalate_to=sla.get("escalate_to"),
                    on_expiry=sla.get("on_expiry"),
                ),
                hooks=tuple(item.get("hooks", ())),
                kind=item.get("kind", "normal"),
            ),
        )

    applies_when = None
    if "applies_when" in data:
        applies_when = builder.expression(document, ("applies_when",), data["applies_when"], entity)
    return m.Flow(
        name=data["name"],
        entity=entity,
        label=label(data["label"]),
        source=source_of(document),
        states=m.frozen_mapping(states),
        transitions=m.frozen_mapping(transitions),
        applies_when=applies_when,
    )


def _approval(builder: Builder, document: Document, path: DocPath, data: Mapping[str, Any], entity: str) -> m.Approval:
    builder.unique_names(document, path + ("levels",), data.get("levels", ()))
    levels = tuple(
        m.ApprovalLevel(
            name=level["name"],
            label=label(level["label"]),
            roles=tuple(level["roles"]),
            quorum=None if level.get("all") or "ratio" in level else level.get("quorum", 1),
            ratio=decimal(level.get("ratio")),
        )
        for level in data.get("levels", ())
    )
    routing = data.get("routing")
    return m.Approval(
        mode=data["mode"],
        roles=tuple(data.get("roles", ())),
        quorum=data.get("quorum"),
        ratio=decimal(data.get("ratio")),
        levels=levels,
        routing=None if routing is None else _decision_table(builder, document, path + ("routing",), routing, entity),
    )


def _decision_table(builder: Builder, document: Document, path: DocPath, data: Mapping[str, Any], entity: str) -> m.DecisionTable | None:
    inputs: dict[str, Expression] = {}
    for name, source in data["inputs"].items():
        expression = builder.expression(document, path + ("inputs", name), source, entity)
        if expression is not None:
            inputs[name] = expression
    rules = tuple(
        m.DecisionRule(
            when=m.frozen_mapping({name: _condition(value) for name, value in rule.get("when", {}).items()}),
            result=tuple(rule["levels"]),
        )
        for rule in data["rules"]
    )
    if len(inputs) != len(data["inputs"]):
        return None
    return m.DecisionTable(inputs=m.frozen_mapping(inputs), rules=rules)


def _condition(value: Any) -> m.Condition:
    if isinstance(value, list):
        return frozenset(text_key(item) for item in value)
    return m.RangeCondition(*(decimal(value.get(bound)) for bound in ("min", "max", "above", "below")))


def text_key(value: Any) -> str:
    """Return a decision-table value as the text it is compared by (true/false for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
