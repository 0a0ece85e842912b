"""Cross-check the documents of an application against each other.

`crosscheck` lists every check it runs; each reports with the position of the
reference that is wrong, not of the thing it refers to.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from metamodel import model as m
from metamodel.build import ExpressionSite
from metamodel.crosscheck_catalogs import check_catalogs
from metamodel.crosscheck_flows import check_flows
from metamodel.crosscheck_outputs import check_dashboards, check_expressions, check_menus, check_reports, check_templates
from metamodel.crosscheck_related import check_related
from metamodel.crosscheck_seed import check_seed
from metamodel.diagnostics import Diagnostic, DocPath, Text, suggest
from metamodel.values import check_value
from metamodel.yamlsource import Document


def crosscheck(
    model: m.AppModel,
    documents: dict[str, list[Document]],
    sites: Iterable[ExpressionSite],
    broken_entities: frozenset[str] = frozenset(),
    broken_flow_entities: frozenset[str] = frozenset(),
) -> list[Diagnostic]:
    """Run every cross-document check and return the problems found.

    Entities whose own file failed to load are not reported again where they are named,
    and transitions of an entity whose flow file failed are not reported as unknown actions.
    """
    checker = CrossChecker(model, documents, broken_entities)
    checker.broken_flow_entities = broken_flow_entities
    checker.check_entities()
    check_related(checker)
    checker.check_forms()
    check_flows(checker)
    checker.check_permissions()
    check_reports(checker)
    check_catalogs(checker)
    check_templates(checker)
    check_menus(checker)
    check_dashboards(checker)
    check_seed(checker)
    check_expressions(checker, sites)
    return checker.diagnostics


class CrossChecker:
    def __init__(self, model: m.AppModel, documents: dict[str, list[Document]], broken_entities: frozenset[str]) -> None:
        self.model = model
        self.documents = documents
        self.broken_entities = broken_entities
        self.broken_flow_entities: frozenset[str] = frozenset()
        self.diagnostics: list[Diagnostic] = []

    def report(self, document: Document, code: str, path: DocPath, **params: Any) -> None:
        self.diagnostics.append(document.diagnostic(code, path, **params))

    def named(self, kind: str) -> Iterable[tuple[Document, Any]]:
        """Yield each document of a kind with the model object built from it."""
        tables: dict[str, Mapping[str, Any]] = {
            "entity": self.model.entities,
            "form": self.model.forms,
            "flow": self.model.flows,
            "report": self.model.reports,
            "catalog": self.model.catalogs,
            "template": self.model.templates,
            "dashboard": self.model.dashboards,
        }
        table = tables[kind]
        for document in self.documents[kind]:
            built = table.get(document.data["name"])
            if built is not None and built.source.file == document.file:
                yield document, built

    # References ------------------------------------------------------------

    def entity_ref(self, document: Document, path: DocPath, name: str) -> m.Entity | None:
        entity = self.model.entities.get(name)
        if entity is None and name not in self.broken_entities:
            names = sorted(self.model.entities)
            self.report(document, "ref.E001", path, found=name, expected=names, suggestion=suggest(name, names))
        return entity

    def field_ref(self, document: Document, path: DocPath, entity: m.Entity, dotted: str) -> m.Field | None:
        """Resolve `field` or `reference.field` in an entity; report the first hop that does not exist."""
        fields: Mapping[str, m.Field] = entity.fields
        owner = entity.name
        found: m.Field | None = None
        for hop, name in enumerate(dotted.split(".")):
            if name in m.SYSTEM_FIELDS and found is None and hop == 0:
                return None
            found = fields.get(name)
            if found is None:
                system = [item for item in m.SYSTEM_FIELDS if item != "state" or self.model.flows_for(entity.name)]
                names = sorted(fields) + (sorted(system) if hop == 0 else [])
                self.report(
                    document, "ref.E002", path, found=name, entity=owner, expected=names, suggestion=suggest(name, names)
                )
                return None
            if found.type in m.REFERENCE_TYPES and found.entity is not None:
                target = self.model.entities.get(found.entity)
                if target is None:
                    return None
                fields, owner = target.fields, target.name
            elif found.type == "child":
                fields, owner = {item.name: item for item in found.fields}, f"{owner}.{name}"
        return found

    def role_ref(self, document: Document, path: DocPath, name: str) -> None:
        roles = self.model.permissions.roles
        if name not in roles:
            self.report(document, "ref.E003", path, found=name, expected=sorted(roles), suggestion=suggest(name, roles))

    # Checks per kind ----------------------------------------------------------

    def check_entities(self) -> None:
        for document, entity in self.named("entity"):
            for index, field in enumerate(entity.fields.values()):
                self._check_field(document, ("fields", index), field)
            if entity.title is not None:
                self.field_ref(document, ("title",), entity, entity.title)
            for key in ("columns", "filters"):
                for index, name in enumerate(getattr(entity.list, key)):
                    self.field_ref(document, ("list", key, index), entity, name)
            for index, name in enumerate(entity.list.sort):
                self.field_ref(document, ("list", "sort", index), entity, name.lstrip("-"))
            for index, item in enumerate(entity.indexes):
                for position, name in enumerate(item.fields):
                    self.field_ref(document, ("indexes", index, "fields", position), entity, name)
            for index, rule in enumerate(entity.rules):
                for position, name in enumerate(rule.fields):
                    self.field_ref(document, ("rules", index, "fields", position), entity, name)
            self._check_actions(document, entity)

    def _check_actions(self, document: Document, entity: m.Entity) -> None:
        """Report an action named like a standard action or a transition, and states no flow of the entity has."""
        flows = self.model.flows_for(entity.name)
        transitions = {name for flow in flows for name in flow.transitions}
        states = sorted({name for flow in flows for name in flow.states})
        for index, action in enumerate(entity.actions):
            if action.name in m.STANDARD_ACTIONS or action.name in transitions:
                self.report(document, "action.E001", ("actions", index, "name"), found=action.name, entity=entity.name)
            for position, state in enumerate(action.states):
                if state not in states and entity.name not in self.broken_flow_entities:
                    self.report(document, "action.E002", ("actions", index, "states", position), found=state,
                                expected=states or ["-"], suggestion=suggest(state, states))

    def _check_field(self, document: Document, path: DocPath, field: m.Field) -> None:
        if field.entity is not None and field.type in m.REFERENCE_TYPES:
            self.entity_ref(document, path + ("entity",), field.entity)
        if field.default is not None:
            _, problems = check_value(field, field.default)
            for problem in problems:
                reason = Text(problem.message_en, problem.message_zh)
                self.report(document, "field.E003", path + ("default",), found=field.default, reason=reason)
        for index, row_field in enumerate(field.fields):
            self._check_field(document, path + ("fields", index), row_field)

    def check_forms(self) -> None:
        for document, form in self.named("form"):
            entity = self.entity_ref(document, ("entity",), form.entity)
            if entity is None:
                continue
            for section_index, section in enumerate(form.sections):
                for field_index, item in enumerate(section.fields):
                    path: DocPath = ("sections", section_index, "fields", field_index)
                    if not isinstance(document.data["sections"][section_index]["fields"][field_index], str):
                        path += ("field",)
                    self.field_ref(document, path, entity, item.field)

    def check_permissions(self) -> None:
        permissions = self.model.permissions
        for document in self.documents["permissions"]:
            data = document.data
            for index, role in enumerate(data.get("roles", [])):
                for position, parent in enumerate(role.get("inherits", [])):
                    self.role_ref(document, ("roles", index, "inherits", position), parent)
            for index, grant in enumerate(data.get("grants", [])):
                path: DocPath = ("grants", index)
                self.role_ref(document, path + ("role",), grant["role"])
                if grant["entity"] == m.SYSTEM_RESOURCE and m.SYSTEM_RESOURCE not in self.model.entities:
                    entity_name = m.SYSTEM_RESOURCE
                else:
                    entity = self.entity_ref(document, path + ("entity",), grant["entity"])
                    if entity is None or entity.name in self.broken_flow_entities or "*" in self.broken_flow_entities:
                        continue
                    entity_name = entity.name
                actions = self.model.actions_for(entity_name)
                for position, action in enumerate(grant["actions"]):
                    if action not in actions:
                        self.report(
                            document,
                            "ref.E006",
                            path + ("actions", position),
                            found=action,
                            entity=entity_name,
                            expected=list(actions),
                            suggestion=suggest(action, actions),
                        )
            for index, rule in enumerate(data.get("field_rules", [])):
                path = ("field_rules", index)
                self.role_ref(document, path + ("role",), rule["role"])
                entity = self.entity_ref(document, path + ("entity",), rule["entity"])
                if entity is None:
                    continue
                for key in ("hidden", "masked", "unmasked", "read_only"):
                    for position, name in enumerate(rule.get(key, [])):
                        if name not in entity.fields:
                            names = sorted(entity.fields)
                            self.report(
                                document,
                                "perm.E002",
                                path + (key, position),
                                found=name,
                                entity=entity.name,
                                expected=names,
                                suggestion=suggest(name, names),
                            )
        self._check_role_cycles(permissions)
        self._warn_unused(permissions)

    def _warn_unused(self, permissions: m.Permissions) -> None:
        """Warn about roles that can do nothing and entities that no role can read, once grants exist at all."""
        if not permissions.grants or not self.documents["permissions"]:
            return
        granted = {grant.role for grant in permissions.grants}
        readable = {grant.entity for grant in permissions.grants if "read" in grant.actions}
        for document in self.documents["permissions"]:
            for index, role in enumerate(document.data.get("roles", [])):
                if not self._role_reaches(role["name"], granted, permissions):
                    self.diagnostics.append(document.diagnostic("perm.W001", ("roles", index, "name"), found=role["name"]))
        first = self.documents["permissions"][0]
        for document, entity in self.named("entity"):
            if entity.name not in readable:
                self.diagnostics.append(document.diagnostic("perm.W002", ("name",), found=entity.name, where=first.file))

    def _role_reaches(self, role: str, granted: set[str], permissions: m.Permissions) -> bool:
        seen = {role}
        pending = [role]
        while pending:
            current = pending.pop()
            if current in granted:
                return True
            for parent in permissions.roles[current].inherits if current in permissions.roles else ():
                if parent not in seen:
                    seen.add(parent)
                    pending.append(parent)
        return False

    def _check_role_cycles(self, permissions: m.Permissions) -> None:
        reported: set[frozenset[str]] = set()
        for start in permissions.roles:
            chain = [start]
            pending = [(start, [start])]
            while pending:
                name, chain = pending.pop()
                for parent in permissions.roles[name].inherits if name in permissions.roles else ():
                    if parent == start:
                        cycle = frozenset(chain)
                        if cycle not in reported:
                            reported.add(cycle)
                            self._report_cycle(start, chain + [start])
                    elif parent not in chain:
                        pending.append((parent, chain + [parent]))

    def _report_cycle(self, role: str, chain: list[str]) -> None:
        for document in self.documents["permissions"]:
            for index, item in enumerate(document.data.get("roles", [])):
                if item["name"] == role:
                    self.report(document, "perm.E001", ("roles", index, "inherits"), found=" → ".join(chain))
                    return
