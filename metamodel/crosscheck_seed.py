"""Cross-check seed.yaml: its org units, roles, entities and fields exist, and each hint fits its field."""

from __future__ import annotations

from typing import TYPE_CHECKING

from metamodel import model as m
from metamodel.diagnostics import DocPath, Text, suggest
from metamodel.values import check_value
from metamodel.yamlsource import Document

if TYPE_CHECKING:
    from metamodel.crosscheck import CrossChecker

#: The field types each hint key applies to.
HINT_TYPES: dict[str, frozenset[str]] = {
    "range": m.NUMERIC_TYPES | {"date", "datetime"},
    "step": m.NUMERIC_TYPES | {"date", "datetime"},
    "faker": m.TEXT_TYPES,
    "format": m.TEXT_TYPES,
    "distinct": frozenset({"reference"}),
    "prefix": m.TEXT_TYPES | {"vin", "uscc", "bank_card"},
}

#: For identifiers with a prefix hint: the characters a prefix may hold and its longest length, leaving the
#: seeder room for at least one drawn character before the check character.
PREFIX_LIMITS: dict[str, tuple[str, int]] = {
    # Positions 1-8 of a VIN; position 9 is its check digit.
    "vin": ("ABCDEFGHJKLMNPRSTUVWXYZ0123456789", 8),
    "uscc": ("0123456789ABCDEFGHJKLMNPQRTUWXY", 16),
    "bank_card": ("0123456789", 17),
}

#: Longest text a prefix leaves room after, for a text field without a maximum length.
TEXT_ROOM = 200

#: Field types no hint may fill: the seeder makes their rows and files itself.
UNHINTED_TYPES = frozenset({"child", "attachment", "attachments"})


def check_seed(checker: CrossChecker) -> None:
    seed = checker.model.seed
    documents = checker.documents.get("seed") or []
    if seed is None or not documents:
        return
    document = documents[0]
    for index, unit in enumerate(seed.owners):
        _unit_ref(checker, document, ("owners", index), unit)
    for role, unit in seed.users.items():
        checker.role_ref(document, ("users", role), role)
        _unit_ref(checker, document, ("users", role), unit)
    for name, hints in seed.entities.items():
        entity = checker.entity_ref(document, ("entities", name), name)
        for index, unit in enumerate(hints.owners):
            _unit_ref(checker, document, ("entities", name, "owners", index), unit)
        if entity is None:
            continue
        _check_states(checker, document, name, hints.states)
        for transition, step in hints.steps.items():
            _check_step(checker, document, ("entities", name, "steps", transition), entity, step)
        for field_name, hint in hints.fields.items():
            path: DocPath = ("entities", name, "fields", field_name)
            field = checker.field_ref(document, path, entity, field_name)
            if field is not None:
                _check_hint(checker, document, path, field, hint)


def _check_states(checker: CrossChecker, document: Document, entity: str, states: tuple[str, ...]) -> None:
    known = {state for flow in checker.model.flows_for(entity) for state in flow.states}
    for index, state in enumerate(states):
        if state not in known:
            checker.report(document, "seed.E010", ("entities", entity, "states", index), found=state, entity=entity,
                           expected=sorted(known), suggestion=suggest(state, known))


def _check_step(checker: CrossChecker, document: Document, path: DocPath, entity: m.Entity, step: m.SeedStep) -> None:
    transitions = {name for flow in checker.model.flows_for(entity.name) for name in flow.transitions}
    if step.transition not in transitions:
        checker.report(document, "seed.E011", path, at_key=True, found=step.transition, entity=entity.name,
                       expected=sorted(transitions), suggestion=suggest(step.transition, transitions))
    _check_actions(checker, document, path + ("actions",), entity, step.actions)
    for index, created in enumerate(step.create):
        where = path + ("create", index)
        target = checker.entity_ref(document, where + ("entity",), created.entity)
        if target is None:
            continue
        links = sorted(name for name, item in target.fields.items() if item.type == "reference" and item.entity == entity.name)
        link = target.fields.get(created.link)
        if link is None or link.type != "reference" or link.entity != entity.name:
            checker.report(document, "seed.E013", where + ("link",), found=created.link, entity=target.name, target=entity.name,
                           expected=links, suggestion=suggest(created.link, links))
        for field_name, value in created.values.items():
            field = checker.field_ref(document, where + ("values", field_name), target, field_name)
            problems = check_value(field, value)[1] if field is not None else []
            if problems:
                checker.report(document, "seed.E004", where + ("values", field_name), found=value, field=field_name,
                               reason=Text(problems[0].message_en, problems[0].message_zh))
        _check_actions(checker, document, where + ("actions",), target, created.actions)


def _check_actions(checker: CrossChecker, document: Document, path: DocPath, entity: m.Entity, actions: tuple[str, ...]) -> None:
    known = [action.name for action in entity.actions]
    for index, name in enumerate(actions):
        if name not in known:
            checker.report(document, "seed.E012", path + (index,), found=name, entity=entity.name, expected=known or "-",
                           suggestion=suggest(name, known))


def _unit_ref(checker: CrossChecker, document: Document, path: DocPath, unit: str) -> None:
    units = checker.model.permissions.org_units
    if unit not in units:
        checker.report(document, "seed.E001", path, found=unit, expected=sorted(units), suggestion=suggest(unit, units))


def _check_hint(checker: CrossChecker, document: Document, path: DocPath, field: m.Field, hint: m.SeedField) -> None:
    if field.computed is not None:
        checker.report(document, "seed.E005", path, found=field.name)
        return
    used = [key for key in ("value", "range", "step", "choices", "faker", "format", "distinct", "prefix") if _sets(hint, key)]
    for key in used:
        allowed = HINT_TYPES.get(key)
        if field.type in UNHINTED_TYPES or (allowed is not None and field.type not in allowed):
            expected = sorted(allowed) if allowed is not None else sorted(set(m.FIELD_TYPES) - UNHINTED_TYPES)
            checker.report(document, "seed.E003", path + (key,), found=key, field=field.name, type=field.type, expected=expected)
            return
    for index, prefix in enumerate(hint.prefix):
        reason = prefix_problem(field, prefix)
        if reason is not None:
            where = path + ("prefix", index) if len(hint.prefix) > 1 or _prefix_is_list(document, path) else path + ("prefix",)
            checker.report(document, "seed.E014", where, found=prefix, field=field.name, type=field.type, reason=reason)
    for index, choice in enumerate(hint.choices):
        _, problems = check_value(field, choice)
        if problems:
            problem = problems[0]
            checker.report(
                document, "seed.E004", path + ("choices", index), found=choice, field=field.name,
                reason=Text(problem.message_en, problem.message_zh),
            )


def prefix_problem(field: m.Field, prefix: str) -> Text | None:
    """Return why values of the field cannot start with the prefix, or None when the seeder can draw the rest."""
    if field.type in PREFIX_LIMITS:
        allowed, longest = PREFIX_LIMITS[field.type]
        wrong = [character for character in prefix if character not in allowed]
        if wrong:
            return Text(f"it holds {wrong[0]!r}, which a {field.type} cannot hold (allowed: {allowed})",
                        f"其中的字符 {wrong[0]!r} 不能出现在 {field.type} 中（允许：{allowed}）")
        if len(prefix) > longest:
            return Text(f"it has {len(prefix)} characters; at most {longest} leave room for the drawn ones and the check character",
                        f"它有 {len(prefix)} 个字符；最多 {longest} 个，才能留出随机字符和校验位的位置")
        return None
    room = field.max_length or TEXT_ROOM
    if len(prefix) >= room:
        return Text(f"it has {len(prefix)} characters and leaves no room within the maximum length {room}",
                    f"它有 {len(prefix)} 个字符，在最大长度 {room} 之内没有剩余位置")
    return None


def _prefix_is_list(document: Document, path: DocPath) -> bool:
    item = document.data
    for key in path:
        item = item.get(key) if isinstance(item, dict) else None
    return isinstance(item, dict) and isinstance(item.get("prefix"), list)


def _sets(hint: m.SeedField, key: str) -> bool:
    if key in ("choices", "distinct", "prefix"):
        return bool(getattr(hint, key))
    return getattr(hint, key) is not None
