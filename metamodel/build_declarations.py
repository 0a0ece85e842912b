"""Build the app, permissions, report, dashboard, catalog, schedule, integration and template documents.

Like build.py, each function takes a schema-valid document and reports only what the
document alone can show to be wrong.
"""

from __future__ import annotations

from typing import Any

from huey import crontab

from metamodel import model as m
from metamodel.build import Builder, decimal, label, optional_label, source_of
from metamodel.diagnostics import DocPath, Text
from metamodel.yamlsource import Document


def build_app(builder: Builder, document: Document) -> m.AppSpec:
    data = document.data
    locales = tuple(data.get("locales", ("zh-CN", "en")))
    default_locale = data.get("default_locale", locales[0])
    if default_locale not in locales:
        builder.report(document.diagnostic("app.E002", ("default_locale",), found=default_locale, expected=list(locales)))

    builder.unique_names(document, ("menus",), data.get("menus", []))
    menus = []
    for menu_index, menu in enumerate(data.get("menus", [])):
        items = []
        for item_index, item in enumerate(menu["items"]):
            targets = [key for key in ("entity", "report", "page") if key in item]
            if len(targets) != 1:
                builder.report(
                    document.diagnostic("app.E001", ("menus", menu_index, "items", item_index), found=targets)
                )
            items.append(m.MenuItem(optional_label(item.get("label")), item.get("entity"), item.get("report"), item.get("page")))
        menus.append(m.Menu(menu["name"], label(menu["label"]), tuple(items), menu.get("icon")))

    return m.AppSpec(
        name=data["name"],
        label=label(data["label"]),
        source=source_of(document),
        locales=locales,
        default_locale=default_locale,
        menus=tuple(menus),
        settings=m.deep_freeze(data.get("settings", {})),
    )


class PermissionsBuilder:
    """Merges the permission documents of an application into one `Permissions`."""

    def __init__(self, builder: Builder) -> None:
        self.builder = builder
        self.roles: dict[str, m.Role] = {}
        self.org_units: dict[str, m.OrgUnit] = {}
        self.grants: list[m.Grant] = []
        self.field_rules: list[m.FieldRule] = []
        #: Where each role and org unit was declared, for duplicate reports.
        self.declared_at: dict[tuple[str, str], str] = {}

    def add(self, document: Document) -> None:
        data = document.data
        for index, role in enumerate(data.get("roles", [])):
            if self._first_declaration(document, ("roles", index, "name"), "role", role["name"]):
                self.roles[role["name"]] = m.Role(role["name"], label(role["label"]), tuple(role.get("inherits", ())))
        for index, unit in enumerate(data.get("org_units", [])):
            self._add_org_unit(document, ("org_units", index), unit, None)
        for index, grant in enumerate(data.get("grants", [])):
            path: DocPath = ("grants", index)
            scope = grant.get("scope", "all")
            expression = None
            if "filter" in grant:
                scope = "filter"
                expression = self.builder.expression(document, path + ("filter",), grant["filter"], grant["entity"])
            self.grants.append(m.Grant(grant["role"], grant["entity"], tuple(grant["actions"]), scope, expression))
        for rule in data.get("field_rules", []):
            self.field_rules.append(
                m.FieldRule(
                    rule["role"],
                    rule["entity"],
                    tuple(rule.get("hidden", ())),
                    tuple(rule.get("masked", ())),
                    tuple(rule.get("unmasked", ())),
                    tuple(rule.get("read_only", ())),
                )
            )

    def _add_org_unit(self, document: Document, path: DocPath, data: dict[str, Any], parent: str | None) -> None:
        name = data["name"]
        if self._first_declaration(document, path + ("name",), "org unit", name):
            self.org_units[name] = m.OrgUnit(name, label(data["label"]), data.get("kind", "department"), parent)
        for index, child in enumerate(data.get("children", [])):
            self._add_org_unit(document, path + ("children", index), child, name)

    def _first_declaration(self, document: Document, path: DocPath, kind: str, name: str) -> bool:
        line, column = document.position(path)
        location = f"{document.file}:{line}:{column}"
        other = self.declared_at.get((kind, name))
        if other is not None:
            self.builder.report(document.diagnostic("name.E001", path, kind=kind, found=name, other=other))
            return False
        self.declared_at[(kind, name)] = location
        return True

    def result(self) -> m.Permissions:
        return m.Permissions(
            roles=m.frozen_mapping(self.roles),
            org_units=m.frozen_mapping(self.org_units),
            grants=tuple(self.grants),
            field_rules=tuple(self.field_rules),
        )


def build_report(builder: Builder, document: Document) -> m.Report:
    data = document.data
    builder.unique_names(document, ("measures",), data["measures"])
    pivot = data.get("pivot")
    return m.Report(
        name=data["name"],
        label=label(data["label"]),
        source_entity=data["source"],
        source=source_of(document),
        dimensions=tuple(
            m.Dimension(item["field"], item.get("bucket"), optional_label(item.get("label")))
            for item in data.get("dimensions", [])
        ),
        measures=tuple(
            m.Measure(
                name=item["name"],
                label=label(item["label"]),
                aggregate=item["aggregate"],
                field=item.get("field"),
                ratio=(item["ratio"][0], item["ratio"][1]) if "ratio" in item else None,
            )
            for item in data["measures"]
        ),
        filters=tuple(data.get("filters", ())),
        sort=tuple(data.get("sort", ())),
        limit=data.get("limit"),
        pivot=(pivot["rows"], pivot["columns"]) if pivot else None,
        charts=tuple(
            m.Chart(item["type"], item["x"], tuple(item["y"]), item.get("stacked", False))
            for item in data.get("charts", [])
        ),
    )


def build_dashboard(builder: Builder, document: Document) -> m.Dashboard:
    data = document.data
    widgets = tuple(
        m.Widget(
            report=item["report"],
            label=optional_label(item.get("label")),
            show=item.get("show", "chart"),
            chart=item.get("chart", 0),
            width=item.get("width", 6),
        )
        for item in data["widgets"]
    )
    return m.Dashboard(data["name"], label(data["label"]), source_of(document), tuple(data["roles"]), widgets)


def build_catalog(builder: Builder, document: Document) -> m.Catalog:
    data = document.data
    return m.Catalog(
        name=data["name"],
        entity=data["entity"],
        key=data["key"],
        source=source_of(document),
        rows=m.deep_freeze(data["rows"]),
    )


def build_schedule(builder: Builder, document: Document) -> m.Schedule:
    data = document.data
    cron = data["cron"]
    reason = cron_problem(cron)
    if reason is not None:
        builder.report(document.diagnostic("schedule.E001", ("cron",), found=cron, reason=reason))
    return m.Schedule(
        name=data["name"],
        label=label(data["label"]),
        cron=cron,
        hook=data["hook"],
        source=source_of(document),
        enabled=data.get("enabled", True),
    )


#: The five cron fields, by the name huey's crontab gives them and as users know them.
_CRON_FIELDS = (
    ("minute", "minute", "分钟", 0, 59),
    ("hour", "hour", "小时", 0, 23),
    ("day", "day of month", "日", 1, 31),
    ("month", "month", "月", 1, 12),
    ("day_of_week", "weekday", "星期", 0, 6),
)


def cron_problem(cron: str) -> Text | None:
    """Return what is wrong with a five-field cron expression, field by field, or None."""
    fields = cron.split()
    if len(fields) != 5:
        return Text(f"it has {len(fields)} field(s) instead of 5", f"它有 {len(fields)} 个字段，应为 5 个")
    for value, (parameter, name_en, name_zh, low, high) in zip(fields, _CRON_FIELDS):
        try:
            crontab(**{parameter: value}, strict=True)
            reversed_range = any(
                int(start) > int(end)
                for part in value.split(",")
                for start, _, end in [part.split("/")[0].partition("-")]
                if end and start.isdigit() and end.isdigit()
            )
            if reversed_range:
                raise ValueError(value)
        except ValueError:
            return Text(
                f"the {name_en} field must be * or numbers from {low} to {high} (ranges a-b, lists a,b, steps */n), not {value!r}",
                f"{name_zh}字段应为 * 或 {low} 到 {high} 的数字（可用范围 a-b、列表 a,b、步长 */n），而不是 {value!r}",
            )
    return None


def build_integration(builder: Builder, document: Document) -> m.Integration:
    data = document.data
    return m.Integration(
        name=data["name"],
        interface=data["interface"],
        provider=data["provider"],
        source=source_of(document),
        settings=m.deep_freeze(data.get("settings", {})),
    )


def build_template(builder: Builder, document: Document) -> m.Template:
    data = document.data
    return m.Template(
        name=data["name"],
        label=label(data["label"]),
        entity=data["entity"],
        kind=data["kind"],
        source=source_of(document),
        file=data.get("file"),
        paper=data.get("paper", "A4"),
        positions=tuple(
            m.Position(
                field=item["field"],
                x_mm=decimal(item["x_mm"]) or decimal(0),  # type: ignore[arg-type]
                y_mm=decimal(item["y_mm"]) or decimal(0),  # type: ignore[arg-type]
                width_mm=decimal(item.get("width_mm")),
                font_size=decimal(item.get("font_size")),
            )
            for item in data.get("positions", [])
        ),
        reveal=tuple(data.get("reveal", [])),
        states=tuple(data.get("states", [])),
    )
