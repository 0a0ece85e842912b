"""Grants and data scopes read from the YAML alone, for simulating a flow without a database.

A role has the YAML grants of its own and of every role it inherits. The data scope of a
grant is computed as runtime/policy_access.py computes it, from the unit where the role is
held: "unit" is that unit, "unit_and_below" that unit and the units below it, "own" the
records the simulated user created, and a filter is evaluated on the record's values with
that unit as `user.org_unit`. Policy lines that admins add in the database are not read.
"""

from __future__ import annotations

from typing import Any, Mapping

from metamodel import model as m
from runtime.permissions import OrgTree
from runtime.simulated_record import SIMULATED_USER


def granting(model: m.AppModel, role: str, entity: str, action: str) -> list[m.Grant]:
    """Return the YAML grants of the action on the entity to the role or to a role it inherits."""
    roles = inherited_roles(model, role)
    return [grant for grant in model.permissions.grants if grant.role in roles and grant.entity == entity and action in grant.actions]


def inherited_roles(model: m.AppModel, role: str) -> set[str]:
    """Return the role with every role it inherits, directly or through others."""
    found = {role}
    pending = [role]
    while pending:
        declared = model.permissions.roles.get(pending.pop())
        for parent in declared.inherits if declared is not None else ():
            if parent not in found:
                found.add(parent)
                pending.append(parent)
    return found


def outside_scope(
    model: m.AppModel, grant: m.Grant, unit: str | None, values: Mapping[str, Any], names: Mapping[str, Any],
) -> tuple[str, str] | None:
    """Return why the record lies outside a grant's data scope, in English and Chinese, or None when it lies inside.

    `unit` is where the role is held; `values` are the record's, with `org_unit` and `created_by`.
    """
    record_unit = values.get("org_unit")
    held = unit or "*"
    if grant.scope == "all":
        return None
    if grant.scope == "unit":
        if record_unit == unit:
            return None
        return (f"scope unit ({grant.role}): the record belongs to {record_unit}, the role is held in {held}",
                f"数据范围 本机构（{grant.role}）：记录属于 {record_unit}，角色所在机构为 {held}")
    if grant.scope == "unit_and_below":
        tree = OrgTree({name: declared.parent for name, declared in model.permissions.org_units.items()})
        if unit is not None and isinstance(record_unit, str) and tree.within(record_unit, unit):
            return None
        return (f"scope unit_and_below ({grant.role}): {record_unit} is not {held} or a unit below it",
                f"数据范围 本机构及下级（{grant.role}）：{record_unit} 不是 {held} 或其下级机构")
    if grant.scope == "own":
        creator = values.get("created_by")
        if creator == SIMULATED_USER:
            return None
        return (f"scope own ({grant.role}): the record was created by {creator}, not by the simulated user",
                f"数据范围 本人创建（{grant.role}）：记录由 {creator} 创建，不是模拟的用户")
    if grant.filter is None:
        return None
    try:
        if grant.filter.evaluate(names):
            return None
    except Exception:  # noqa: BLE001 - a filter over missing values leaves the record out, as its SQL would
        pass
    return (f"filter ({grant.role}) does not hold: {grant.filter.source}", f"过滤条件（{grant.role}）不满足：{grant.filter.source}")
