"""Running declared reports for an acting user: one SQL aggregation inside the user's data scope.

A report counts exactly the rows the user's list of the source entity shows: live rows
inside the read scope, narrowed by the filters the user chose. A dimension, measure or
filter on a field hidden from the user is rejected with ReportRejected, naming the field,
instead of being left out, so that a figure never means something else for another user.
A field masked for the user is shown masked, and its groups cannot be drilled into. A
joined field (`shop.city`) needs the read action on every entity it crosses.

Groups are sorted and cut to the report's limit after the query, so the order is the same
on both databases. The totals cover every matching row, not only the groups shown.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Mapping, Sequence

from sqlalchemy import ColumnElement, Connection, FromClause, select

from metamodel import model as m
from runtime.access import Actor
from runtime.errors import FieldError, PermissionDenied, RecordError, ValidationFailed
from runtime.record_codec import mask_value
from runtime.record_query import Condition, QueryCompiler
from runtime.record_reads import RecordReads
from runtime.report_results import Pivot, ReportGroup, grouping_sets, pivot_of, ratio_of, sorted_groups
from runtime.report_sql import Aggregation, MeasureColumns, ReachedField, bucket_expression, joined, measure_columns, text_or_null

logger = logging.getLogger(__name__)

EXPORT_ACTION = "export"
_SYSTEM_COLUMNS = ("created_at", "updated_at", "created_by", "updated_by", "org_unit", "state")


class ReportRejected(RecordError):
    """Raised when a report names a field the user may not see, or one that cannot be grouped or aggregated."""

    def __init__(self, report: str, message_en: str, message_zh: str) -> None:
        self.report = report
        self.message_en = message_en
        self.message_zh = message_zh
        super().__init__(message_en)


@dataclass
class ReportResult:
    report: m.Report
    dimensions: tuple[ReachedField, ...]
    rows: list[ReportGroup]
    total: ReportGroup
    pivot: Pivot | None
    #: The filters that applied, with the field names the report gives.
    filters: tuple[Condition, ...]
    #: The first hops of joined fields, in the order of ReportGroup.references.
    references: tuple[str, ...] = ()


@dataclass
class _Plan:
    """The joins and fields of one run, built as the report's names are resolved."""

    source: m.Entity
    table: Any
    joins: dict[str, tuple[Any, ColumnElement[bool]]] = field(default_factory=dict)
    reached: dict[str, tuple[ReachedField, Any]] = field(default_factory=dict)


class ReportRunner:
    """Runs the application's reports through the record service's access, as the acting user."""

    def __init__(self, records: RecordReads) -> None:
        self.records = records
        self.model = records.model

    def available(self, actor: Actor) -> list[m.Report]:
        """Return the reports the actor may run, in declaration order."""
        return [report for report in self.model.reports.values() if self.runnable(actor, report)]

    def runnable(self, actor: Actor, report: m.Report) -> bool:
        """Tell whether the actor may read the report's source and see every field it groups, measures or filters by."""
        if not self.records.access.allows(actor, "read", report.source_entity):
            return False
        plan = _Plan(self.model.entities[report.source_entity], self.records.schema.entities[report.source_entity].table)
        names = [*(dimension.field for dimension in report.dimensions),
                 *(measure.field for measure in report.measures if measure.field is not None), *report.filters]
        try:
            for name in names:
                self._reach(actor, report, plan, name)
        except ReportRejected:
            return False
        return True

    def report(self, name: str) -> m.Report:
        report = self.model.reports.get(name)
        if report is None:
            raise ReportRejected(name, f"There is no report named {name}.", f"没有名为 {name} 的报表。")
        return report

    def run(self, actor: Actor, name: str, filters: Sequence[Condition] = ()) -> ReportResult:
        """Run a report for the actor; raise PermissionDenied, ReportRejected, or ValidationFailed for bad filters."""
        report = self.report(name)
        with self.records._connection() as connection:
            return self._run(connection, actor, report, filters, ("read",))

    def export(self, actor: Actor, name: str, filters: Sequence[Condition] = (), *,
               details: Mapping[str, Any] | None = None) -> tuple[ReportResult, int]:
        """Run a report for a file and append its audit entry in the same transaction; return both.

        The export needs the `export` action on the source entity besides `read`, and counts only
        rows inside the scopes of both actions. The entry lists the report, the filters (masked
        where the field is sensitive), the number of groups and what `details` adds, such as the format.
        """
        report = self.report(name)
        source = report.source_entity
        if not self.records.access.allows(actor, EXPORT_ACTION, source):
            raise PermissionDenied(source, EXPORT_ACTION)
        records = self.records
        with records._write() as connection:
            result = self._run(connection, actor, report, filters, ("read", EXPORT_ACTION))
            changes = {
                **(details or {}),
                "report": report.name,
                "filters": [self._described(report, item) for item in result.filters],
                "rows": len(result.rows),
            }
            audit_id = records.audit.append(connection, at=records.clock(), actor=actor.id, address=actor.address,
                                            action=EXPORT_ACTION, entity=source, record_id=None, changes=changes)
        logger.info("report %s exported by %s: %s groups, audit entry %s", name, actor.id, len(result.rows), audit_id)
        return result, audit_id

    # Compiling ----------------------------------------------------------------

    def _run(self, connection: Connection, actor: Actor, report: m.Report, filters: Sequence[Condition],
             actions: tuple[str, ...]) -> ReportResult:
        source = self.model.entities[report.source_entity]
        if not self.records.access.allows(actor, "read", source.name):
            raise PermissionDenied(source.name, "read")
        table = self.records.schema.entities[source.name].table
        plan = _Plan(source, table)
        dialect = connection.dialect.name

        dimensions = tuple(self._reach(actor, report, plan, dimension.field) for dimension in report.dimensions)
        expressions = [self._grouped(reached, dimension, dialect) for reached, dimension in zip(dimensions, report.dimensions)]
        measures = [self._measure(actor, report, plan, measure) for measure in report.measures]
        conditions: list[ColumnElement[bool]] = [table.c.deleted_at.is_(None)]
        conditions.extend(self.records._scoped(actor, source.name, action) for action in actions)
        applied = self._filters(actor, report, plan, filters, conditions)

        hops = tuple(dict.fromkeys(
            reached.first_hop for reached in (*dimensions, *(self._reach(actor, report, plan, item.field) for item in applied))
            if reached.first_hop is not None
        ))
        aggregation = Aggregation(
            source=joined(table, list(plan.joins.values())),
            conditions=conditions,
            dimensions=expressions,
            measures=measures,
            references=[table.c[hop] for hop in hops],
        )
        sets = grouping_sets(report)
        rows = connection.execute(aggregation.statement(sets, dialect)).mappings().all()

        masked = [self._masked(actor, reached) for reached in dimensions]
        by_set: dict[int, list[ReportGroup]] = {index: [] for index in range(len(sets))}
        for row in rows:
            index = int(row["grouping_set"])
            by_set[index].append(self._group(report, row, measures, masked, hops, sets[index]))
        every_group = [group for groups in by_set.values() for group in groups]
        self._show(connection, actor, dimensions, every_group)
        self._mask_measures(actor, report, plan, every_group)

        totals = by_set[sets.index(())]
        total = totals[0] if totals else self._empty_group(report, hops)
        groups = by_set[0] if report.dimensions else [total]
        groups = sorted_groups(report, groups)
        if report.limit is not None:
            groups = groups[:report.limit]
        pivot = pivot_of(report, sets, by_set)
        return ReportResult(report, dimensions, groups, total, pivot, tuple(applied), hops)

    def _reach(self, actor: Actor, report: m.Report, plan: _Plan, name: str) -> ReachedField:
        """Resolve a field name along references, joining each referenced table once; check the actor may see it."""
        known = plan.reached.get(name)
        if known is not None:
            return known[0]
        parts = name.split(".")
        entity, table = plan.source, plan.table
        for position, part in enumerate(parts[:-1]):
            reference = entity.fields.get(part)
            self._check_visible(actor, report, entity, part, name)
            if reference is None or reference.type != "reference" or reference.entity is None:
                raise ReportRejected(report.name, f"{name}: only reference fields can be followed; {part} is not one.",
                                    f"{name}：只能沿引用字段取值，{part} 不是引用字段。")
            target = self.model.entities[reference.entity]
            if not self.records.access.allows(actor, "read", target.name):
                shown = self._path_label(report, name)
                raise ReportRejected(report.name, f"{shown.en} is a field of {target.label.en}, which you may not read.",
                                    f"{shown.zh_cn}是{_chinese_label(target)}的字段，您无权查看{_chinese_label(target)}。")
            prefix = ".".join(parts[:position + 1])
            if prefix not in plan.joins:
                alias = self.records.schema.entities[target.name].table.alias(f"j{len(plan.joins)}")
                plan.joins[prefix] = (alias, table.c[part] == alias.c.id)
            entity, table = target, plan.joins[prefix][0]
        last = parts[-1]
        declared = entity.fields.get(last)
        self._check_visible(actor, report, entity, last, name)
        if declared is not None and declared.encrypted:
            raise ReportRejected(report.name, f"{name} is stored encrypted, so a report cannot group or aggregate it.",
                                f"{name} 为加密存储，报表不能按它分组或汇总。")
        if declared is None and last not in _SYSTEM_COLUMNS:
            raise ReportRejected(report.name, f"{name} is not a field of {entity.name}.", f"{name} 不是 {entity.name} 的字段。")
        first_hop = parts[0] if len(parts) > 1 else None
        reached = ReachedField(name, declared, table.c[last], entity, first_hop)
        plan.reached[name] = (reached, table)
        return reached

    def _check_visible(self, actor: Actor, report: m.Report, entity: m.Entity, name: str, full_name: str) -> None:
        if name in self.records.access.fields(actor, entity.name).hidden:
            shown = self._path_label(report, full_name)
            raise ReportRejected(
                report.name,
                f"The report “{report.label.en}” uses the field “{shown.en}”, which is hidden from you; ask an administrator for access.",
                f"报表“{_chinese_label(report)}”用到字段“{shown.zh_cn}”，该字段对您隐藏；请联系管理员开通。",
            )

    def _masked(self, actor: Actor, reached: ReachedField) -> bool:
        if reached.field is None:
            return False
        access = self.records.access.fields(actor, reached.entity.name)
        return self.records.codecs[reached.entity.name].is_masked(reached.field, access)

    def _mask_measures(self, actor: Actor, report: m.Report, plan: _Plan, groups: list[ReportGroup]) -> None:
        """Mask the minimum and maximum of a field masked for the actor: they are values of single rows."""
        for measure in report.measures:
            if measure.aggregate not in ("min", "max") or measure.field is None:
                continue
            reached = self._reach(actor, report, plan, measure.field)
            if reached.field is None or not self._masked(actor, reached):
                continue
            for group in groups:
                value = group.values.get(measure.name)
                if value is not None:
                    group.values[measure.name] = mask_value(reached.field, value)

    def _grouped(self, reached: ReachedField, dimension: m.Dimension, dialect: str) -> ColumnElement[Any]:
        if dimension.bucket is not None:
            return bucket_expression(reached.column, dimension.bucket, reached.type, dialect, self.records.timezone)
        return text_or_null(reached.column, reached.type)

    def _measure(self, actor: Actor, report: m.Report, plan: _Plan, measure: m.Measure) -> MeasureColumns:
        if measure.field is None:
            return measure_columns(measure, None)
        reached = self._reach(actor, report, plan, measure.field)
        return measure_columns(measure, reached.column)

    def _filters(self, actor: Actor, report: m.Report, plan: _Plan, filters: Sequence[Condition],
                 conditions: list[ColumnElement[bool]]) -> list[Condition]:
        """Compile the user's filters as list filters of the entity that declares each field; add them to `conditions`."""
        errors: dict[str, list[FieldError]] = {}
        applied = []
        for item in filters:
            path = f"filters.{item.field}"
            if item.field not in report.filters:
                errors.setdefault(path, []).append(FieldError(
                    "unknown_filter", f"{item.field} is not a filter of this report; use one of {', '.join(report.filters)}",
                    f"{item.field} 不是本报表的筛选条件；可用：{'、'.join(report.filters)}"))
                continue
            reached = self._reach(actor, report, plan, item.field)
            table: FromClause = plan.reached[item.field][1]
            entity = reached.entity
            hidden = self.records.access.fields(actor, entity.name).hidden
            compiler = QueryCompiler(entity, table, self.records.codecs[entity.name], hidden, self.records.timezone)  # type: ignore[arg-type]
            last = item.field.rsplit(".", 1)[-1]
            predicate = compiler.condition(dataclasses.replace(item, field=last), "filters")
            for key, problems in compiler.errors.items():
                errors.setdefault(f"filters.{item.field}" + key.removeprefix(f"filters.{last}"), []).extend(problems)
            if not compiler.errors:
                conditions.append(predicate)
                applied.append(item)
        if errors:
            raise ValidationFailed(report.source_entity, errors)
        return applied

    # Reading the result ---------------------------------------------------------

    def _group(self, report: m.Report, row: Mapping[Any, Any], measures: list[MeasureColumns], masked: list[bool],
               hops: tuple[str, ...], grouped: tuple[int, ...]) -> ReportGroup:
        keys = tuple(row[f"d{index}"] for index in range(len(report.dimensions)))
        values: dict[str, Any] = {}
        for index, item in enumerate(measures):
            values[item.measure.name] = self._value(report, item, row, index)
        for measure in report.measures:
            if measure.aggregate == "ratio":
                values[measure.name] = ratio_of(report, measure, values)
        references = {}
        for index, hop in enumerate(hops):
            listed = row[f"r{index}"]
            ids = tuple(sorted(int(part) for part in str(listed).split(",") if part)) if listed else ()
            references[hop] = (ids, bool(row[f"e{index}"]))
        hidden = any(flag and key is not None for flag, key in zip(masked, keys))
        return ReportGroup(keys, keys, values, references, hidden, grouped)

    def _value(self, report: m.Report, item: MeasureColumns, row: Mapping[Any, Any], index: int) -> Any:
        measure = item.measure
        if item.value is None:
            return None
        value = row[f"m{index}"]
        spec = self._field_of(report, measure.field) if measure.field else None
        if measure.aggregate in ("count", "count_distinct"):
            return int(value or 0)
        if measure.aggregate == "avg":
            count = int(row[f"c{index}"] or 0)
            if value is None or count == 0:
                return None
            places = m.decimal_places(spec) if spec is not None and spec.type in m.DECIMAL_STORAGE else 2
            return (Decimal(value) / count).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
        if spec is not None and spec.type == "integer" and isinstance(value, Decimal):
            return int(value)
        if spec is not None and spec.type in m.DECIMAL_STORAGE and value is not None and not isinstance(value, Decimal):
            return Decimal(str(value))
        return value

    def _field_of(self, report: m.Report, name: str) -> m.Field | None:
        entity = self.model.entities[report.source_entity]
        spec: m.Field | None = None
        for part in name.split("."):
            spec = entity.fields.get(part)
            if spec is not None and spec.type == "reference" and spec.entity is not None:
                entity = self.model.entities[spec.entity]
        return spec

    def _show(self, connection: Connection, actor: Actor, dimensions: tuple[ReachedField, ...], groups: list[ReportGroup]) -> None:
        """Fill the display values of the groups: labels of choices, states and units, titles of references, masks."""
        orders = [self._declared_order(reached) for reached in dimensions]
        for group in groups:
            group.ranks = tuple(order.get(key) if key is not None else None for order, key in zip(orders, group.keys))
        for index, reached in enumerate(dimensions):
            titles = self._titles(connection, actor, reached, {group.keys[index] for group in groups})
            for group in groups:
                shown = list(group.shown)
                shown[index] = self._shown(reached, group.keys[index], titles)
                if group.masked and reached.field is not None and shown[index] is not None and self._masked(actor, reached):
                    shown[index] = mask_value(reached.field, shown[index])
                group.shown = tuple(shown)

    def _declared_order(self, reached: ReachedField) -> dict[Any, int]:
        """Return the position of each value of a dimension whose values are declared: choices, states, org units."""
        if reached.field is not None:
            if reached.field.type == "enum":
                return {choice.value: position for position, choice in enumerate(reached.field.choices)}
            return {}
        last = reached.name.rsplit(".", 1)[-1]
        if last == "state":
            return {name: position for position, name in enumerate(self.model.states_for(reached.entity.name))}
        if last == "org_unit":
            return {name: position for position, name in enumerate(self.model.permissions.org_units)}
        return {}

    def _shown(self, reached: ReachedField, key: Any, titles: Mapping[Any, str]) -> Any:
        if key is None:
            return None
        last = reached.name.rsplit(".", 1)[-1]
        if reached.field is not None and reached.field.type == "enum":
            return next((choice.label for choice in reached.field.choices if choice.value == key), key)
        if reached.field is None and last == "state":
            for flow in self.model.flows_for(reached.entity.name):
                if key in flow.states:
                    return flow.states[key].label
        if reached.field is None and last == "org_unit":
            unit = self.model.permissions.org_units.get(key)
            return unit.label if unit is not None else key
        return titles.get(key, key)

    def _titles(self, connection: Connection, actor: Actor, reached: ReachedField, keys: set[Any]) -> dict[Any, str]:
        """Return the titles of the records a reference dimension groups by, as the actor may see them; "#id" otherwise."""
        spec = reached.field
        ids = [key for key in keys if key is not None]
        if spec is None or spec.type != "reference" or spec.entity is None or not ids:
            return {}
        titles = {key: f"#{key}" for key in ids}
        target = self.model.entities[spec.entity]
        access = self.records.access
        fields = access.fields(actor, target.name)
        if target.title is None or target.title in fields.hidden or not access.allows(actor, "read", target.name):
            return titles
        table = self.records.schema.entities[target.name].table
        rows = connection.execute(select(table.c.id, table.c[target.title]).where(table.c.id.in_(ids))).mappings()
        codec = self.records.codecs[target.name]
        for row in rows:
            decoded = codec.decode(dict(row), fields)
            if decoded.get(target.title) not in (None, ""):
                titles[row["id"]] = str(decoded[target.title])
        return titles

    def _empty_group(self, report: m.Report, hops: tuple[str, ...]) -> ReportGroup:
        values: dict[str, Any] = {measure.name: 0 if measure.aggregate in ("count", "count_distinct") else None
                                  for measure in report.measures}
        empty: tuple[Any, ...] = (None,) * len(report.dimensions)
        return ReportGroup(empty, empty, values, {hop: ((), False) for hop in hops})

    def _described(self, report: m.Report, item: Condition) -> dict[str, Any]:
        spec = self._field_of(report, item.field)
        value = item.value
        if spec is not None and (spec.masked or spec.encrypted) and value is not None:
            value = [mask_value(spec, part) for part in value] if isinstance(value, (list, tuple)) else mask_value(spec, value)
        return {"field": item.field, "op": item.op, "value": value}


    def _path_label(self, report: m.Report, path: str) -> m.Label:
        """Return a field path as users read it: the labels of its fields, such as “门店 · 城市”."""
        entity: m.Entity | None = self.model.entities[report.source_entity]
        english, chinese = [], []
        for part in path.split("."):
            field = entity.fields.get(part) if entity is not None else None
            english.append(field.label.en if field is not None else part)
            chinese.append(field.label.zh_cn if field is not None else part)
            entity = self.model.entities.get(field.entity) if field is not None and field.entity is not None else None
        return m.Label(zh_cn=" · ".join(chinese), en=" · ".join(english))


def _chinese_label(item: m.Entity | m.Report) -> str:
    """Return the Chinese label of an entity or report, for the Chinese half of a message."""
    return item.label.zh_cn


__all__ = ["Pivot", "ReportGroup", "ReportRejected", "ReportResult", "ReportRunner"]
