"""Cross-checks of reports, dashboards, templates, menus and the names inside expressions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from metamodel import model as m
from metamodel.build import ExpressionSite, expression_position
from metamodel.diagnostics import Diagnostic, DocPath, Text, suggest
from metamodel.expressions import USER_ATTRIBUTES, VARIABLES
from metamodel.yamlsource import Document

if TYPE_CHECKING:
    from metamodel.crosscheck import CrossChecker


def check_reports(checker: CrossChecker) -> None:
    for document, report in checker.named("report"):
        entity = checker.entity_ref(document, ("source",), report.source_entity)
        if entity is None:
            continue
        reported_before = len(checker.diagnostics)
        for index, dimension in enumerate(report.dimensions):
            field = checker.field_ref(document, ("dimensions", index, "field"), entity, dimension.field)
            if dimension.bucket is not None and field is not None and field.type not in ("date", "datetime"):
                bucket = Text(dimension.bucket, _BUCKETS_ZH.get(dimension.bucket, dimension.bucket))
                checker.report(
                    document, "report.E001", ("dimensions", index, "bucket"), found=dimension.field, bucket=bucket, type=field.type
                )
        for index, name in enumerate(report.filters):
            checker.field_ref(document, ("filters", index), entity, name)

        # A misspelt dimension is reported once, not again by every chart and sort that names it.
        dimensions_valid = len(checker.diagnostics) == reported_before
        measures = [measure.name for measure in report.measures]
        dimensions = [dimension.field for dimension in report.dimensions]
        for index, measure in enumerate(report.measures):
            if measure.field is not None:
                checker.field_ref(document, ("measures", index, "field"), entity, measure.field)
            for position, name in enumerate(measure.ratio or ()):
                _check_member(checker, document, ("measures", index, "ratio", position), name, measures, "ref.E009")
        for index, chart in enumerate(report.charts):
            if dimensions_valid:
                _check_member(checker, document, ("charts", index, "x"), chart.x, dimensions, "ref.E010")
            for position, name in enumerate(chart.y):
                _check_member(checker, document, ("charts", index, "y", position), name, measures, "ref.E009")
        for index, name in enumerate(report.sort):
            if dimensions_valid:
                _check_member(checker, document, ("sort", index), name.lstrip("-"), measures + dimensions, "ref.E010")
        if report.pivot is not None and dimensions_valid:
            for key, name in zip(("rows", "columns"), report.pivot):
                _check_member(checker, document, ("pivot", key), name, dimensions, "ref.E010")


_BUCKETS_ZH = {"day": "日", "week": "周", "month": "月", "quarter": "季度", "year": "年"}


def _check_member(
    checker: CrossChecker, document: Document, path: DocPath, name: str, members: list[str], code: str
) -> None:
    if name not in members:
        checker.report(document, code, path, found=name, expected=members, suggestion=suggest(name, members))


def check_templates(checker: CrossChecker) -> None:
    for document, template in checker.named("template"):
        entity = checker.entity_ref(document, ("entity",), template.entity)
        # A template's file is relative to the folder of its YAML file.
        if template.file is not None:
            if not (Path(document.file).parent / template.file).is_file():
                checker.report(document, "ref.E008", ("file",), found=template.file)
        if entity is None:
            continue
        for index, position in enumerate(template.positions):
            checker.field_ref(document, ("positions", index, "field"), entity, position.field)
        for index, path in enumerate(template.reveal):
            checker.field_ref(document, ("reveal", index), entity, path)
        states = sorted({name for flow in checker.model.flows_for(entity.name) for name in flow.states})
        for index, state in enumerate(template.states):
            if state not in states and entity.name not in checker.broken_flow_entities:
                checker.report(document, "template.E001", ("states", index), found=state, expected=states or ["-"],
                               suggestion=suggest(state, states))


def check_menus(checker: CrossChecker) -> None:
    app_documents = checker.documents["app"]
    if not app_documents:
        return
    document = app_documents[0]
    for menu_index, menu in enumerate(checker.model.app.menus):
        for item_index, item in enumerate(menu.items):
            path: DocPath = ("menus", menu_index, "items", item_index)
            if item.entity is not None:
                checker.entity_ref(document, path + ("entity",), item.entity)
            if item.report is not None and item.report not in checker.model.reports:
                names = sorted(checker.model.reports)
                checker.report(
                    document, "ref.E005", path + ("report",), found=item.report, expected=names, suggestion=suggest(item.report, names)
                )


def check_dashboards(checker: CrossChecker) -> None:
    """Check that each widget names a declared report and, when it shows a chart, one the report declares."""
    for document, dashboard in checker.named("dashboard"):
        for index, role in enumerate(dashboard.roles):
            checker.role_ref(document, ("roles", index), role)
        for index, widget in enumerate(dashboard.widgets):
            path: DocPath = ("widgets", index)
            report = checker.model.reports.get(widget.report)
            if report is None:
                names = sorted(checker.model.reports)
                checker.report(document, "ref.E005", path + ("report",), found=widget.report, expected=names,
                               suggestion=suggest(widget.report, names))
                continue
            if widget.show == "chart" and widget.chart >= len(report.charts):
                key = "chart" if "chart" in document.data["widgets"][index] else "report"
                checker.report(document, "dashboard.E001", path + (key,), found=widget.chart + 1, report=report.name,
                               count=len(report.charts))


def check_expressions(checker: CrossChecker, sites: Iterable[ExpressionSite]) -> None:
    """Check that every name in an expression is a field of its entity or a known variable."""
    for site in sites:
        entity = checker.model.entities.get(site.entity)
        if entity is None:
            continue
        known = sorted(set(entity.fields) | set(m.SYSTEM_FIELDS))
        for use in site.expression.names:
            line, column = expression_position(site.document, site.path, use.line, use.offset)

            def report(code: str, **params: object) -> None:
                checker.diagnostics.append(Diagnostic(code, site.document.file, line, column, site.path, params))

            if use.name in VARIABLES:
                if use.name == "user" and use.attributes and use.attributes[0] not in USER_ATTRIBUTES:
                    attribute = use.attributes[0]
                    report(
                        "expr.E006", found=attribute, attribute=attribute, expected=list(USER_ATTRIBUTES), suggestion=suggest(attribute, USER_ATTRIBUTES)
                    )
                continue
            field = entity.fields.get(use.name)
            if field is None and use.name not in m.SYSTEM_FIELDS:
                variables = sorted(VARIABLES)
                report(
                    "expr.E002", found=use.name, entity=entity.name, expected=variables,
                    suggestion=suggest(use.name, known + variables),
                )
                continue
            if field is not None:
                _check_attributes(checker, field, use.attributes, report)
        _check_literals(checker, site, entity)


def _check_literals(checker: CrossChecker, site: ExpressionSite, entity: m.Entity) -> None:
    """Check text compared with an enum field against its choices, and with `state` against the flow states."""
    states = sorted({state for flow in checker.model.flows_for(entity.name) for state in flow.states})
    for literal in site.expression.literals:
        if literal.name == "state" and not literal.attributes:
            allowed = states
        else:
            field = _resolve(checker, entity, literal.name, literal.attributes)
            if field is None or field.type != "enum":
                continue
            allowed = list(field.choice_values)
        if not allowed or literal.value in allowed:
            continue
        line, column = expression_position(site.document, site.path, literal.line, literal.offset)
        checker.diagnostics.append(
            Diagnostic(
                "expr.E008", site.document.file, line, column, site.path,
                {"found": literal.value, "name": ".".join((literal.name, *literal.attributes)), "expected": allowed,
                 "suggestion": suggest(literal.value, allowed)},
            )
        )


def _resolve(checker: CrossChecker, entity: m.Entity, name: str, attributes: tuple[str, ...]) -> m.Field | None:
    """Return the field that `name.attr.attr` reaches along reference fields, or None."""
    field = entity.fields.get(name)
    for attribute in attributes:
        if field is None or field.type != "reference" or field.entity is None:
            return None
        target = checker.model.entities.get(field.entity)
        field = target.fields.get(attribute) if target is not None else None
    return field


def _check_attributes(checker: CrossChecker, field: m.Field, attributes: tuple[str, ...], report: Callable[..., None]) -> None:
    """Follow `a.b.c` along reference fields and report the first attribute that does not exist."""
    current = field
    for attribute in attributes:
        if current.type in ("json", "geo_point"):
            return  # their keys are data, not declared fields
        if current.type != "reference" or current.entity is None:
            report("expr.E007", found=attribute, attribute=attribute, field=current.name, type=current.type)
            return
        target = checker.model.entities.get(current.entity)
        if target is None or attribute in m.SYSTEM_FIELDS:
            return
        following = target.fields.get(attribute)
        if following is None:
            names = sorted(target.fields)
            report("expr.E005", found=attribute, entity=target.name, expected=names, suggestion=suggest(attribute, names))
            return
        current = following
