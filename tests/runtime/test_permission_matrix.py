"""Every role of configs/guarantee, in two leaf units, against every entity and action.

For each (role, unit) a user has that role in that unit. The test checks that:

- `PermissionStore.allows` agrees with `PermissionAdmin.matrix()`, once the lines that do
  not apply in the user's unit are set aside. The matrix is for any unit, and two admin
  lines here are limited to one unit each, so that this matters;
- for reading, the ids `RecordService.list` returns are the ids `RecordService.get`
  returns a record for, and the ids a plain SELECT with the scope predicate finds;
- an export holds exactly the listed records that also lie inside the export scope;
- a report counts, per group and in total, exactly the listed records.

Records of every entity are seeded through the system actor in several units, by several
creators, with one deleted record per entity.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest
import stdnum.cn.ric
import stdnum.cn.uscc
from sqlalchemy import Engine, select, update
from vininfo import Vin

from metamodel import load_app
from metamodel.model import AppModel
from runtime.access import Actor, SystemAccess
from runtime.crypto import KeyRing
from runtime.errors import NotFound, PermissionDenied
from runtime.exports import RecordExports
from runtime.migrate import migrate
from runtime.permission_admin import MatrixCell, PermissionAdmin
from runtime.permissions import PermissionStore, PolicyLine
from runtime.policy_access import PolicyAccess
from runtime.record_query import ListQuery
from runtime.records import RecordService
from runtime.reports import ReportRunner
from runtime.schema import Schema, build_schema
from tests.conftest import REPOSITORY

GUARANTEE = REPOSITORY / "configs" / "guarantee"
ADMIN = Actor(id="admin", roles=("system",))
REASON = "seeding the permission matrix"


def leaf_units(model: AppModel) -> tuple[str, str]:
    """Two leaf units under different parents, each with a parent below the root."""
    units = model.permissions.org_units
    parents = {unit.parent for unit in units.values()}
    leaves = [name for name, unit in units.items() if name not in parents and unit.parent and units[unit.parent].parent]
    first = leaves[0]
    second = next(name for name in leaves if units[name].parent != units[first].parent)
    return first, second


def user_id(role: str, unit: str) -> str:
    return f"{role}.{unit}"


class Seeder:
    """Creates valid records of the guarantee app through the system actor."""

    def __init__(self, records: RecordService) -> None:
        self.records = records
        self.count = 0

    def create(self, entity: str, values: dict[str, Any], creator: str, unit: str) -> int:
        self.count += 1
        actor = Actor(id=creator, roles=("system",), org_unit=unit)
        reason = REASON if self.records.model.entities[entity].reason_required else None
        return int(self.records.create(actor, entity, values, reason=reason)["id"])

    def bank(self, creator: str, unit: str) -> int:
        code = "BK" + "".join(chr(ord("A") + int(digit)) for digit in f"{self.count:03d}")
        return self.create("bank", {"code": code, "name": f"测试银行{self.count}"}, creator, unit)

    def customer(self, creator: str, unit: str) -> int:
        prefix = f"11010519900505{self.count:03d}"
        number = prefix + stdnum.cn.ric.calc_check_digit(prefix + "0")
        values = {"name": f"客户{self.count}", "id_number": number, "phone": f"138{self.count:08d}", "birth_date": datetime.date(1990, 5, 5)}
        return self.create("customer", values, creator, unit)

    def dealer(self, creator: str, unit: str) -> int:
        first = f"91110000{600037300 + self.count:09d}"
        values = {"name": f"经销商{self.count}", "credit_code": first + stdnum.cn.uscc.calc_check_digit(first), "legal_representative": "张三"}
        return self.create("dealer", values, creator, unit)

    def loan_product(self, creator: str, unit: str, bank: int) -> int:
        values = {
            "code": f"LP_{self.count:03d}", "name": f"产品{self.count}", "bank": bank, "repayment_method": "equal_instalment",
            "terms": [12, 24, 36], "annual_rate": Decimal("0.06"), "guarantee_fee_rate": Decimal("0.015"),
            "min_down_payment_ratio": Decimal("0.3"), "max_ltv": Decimal("0.7"), "max_amount": Decimal("800000"),
        }
        return self.create("loan_product", values, creator, unit)

    def vehicle(self, creator: str, unit: str) -> int:
        serial = f"LSVAU2180N218{self.count:04d}"
        vin = next(candidate for candidate in (serial[:8] + check + serial[9:] for check in "0123456789X")
                   if Vin(candidate).verify_checksum(check_year=False))
        return self.create("vehicle", {"brand": "大众", "vin": vin, "price": Decimal("200000")}, creator, unit)

    def loan_application(self, creator: str, unit: str, refs: dict[str, int]) -> int:
        values = {
            "application_no": f"LA-2026-{self.count:04d}", **refs, "vehicle_price": Decimal("200000"),
            "down_payment": Decimal("60000"), "loan_amount": Decimal("100000"), "term_months": 36,
        }
        return self.create("loan_application", values, creator, unit)


class Matrix:
    def __init__(self, engine: Engine, backup_root: Path) -> None:
        self.engine = engine
        self.model: AppModel = load_app(GUARANTEE)
        self.schema: Schema = build_schema(self.model)
        migrate(engine, self.schema, self.model, backup_root=backup_root)
        self.keys = KeyRing.generate()
        self.system = RecordService(self.model, self.schema, engine, access=SystemAccess(), keys=self.keys)
        self.store = PermissionStore(self.model, self.schema, engine)
        self.admin = PermissionAdmin(self.store)
        self.units = leaf_units(self.model)
        self.roles = sorted(self.model.permissions.roles)
        self.seeded: dict[str, list[int]] = {}

    def add_users(self) -> None:
        for role in self.roles:
            for unit in self.units:
                self.admin.add_user(ADMIN, user_id(role, unit), user_id(role, unit), f"{role} in {unit}", unit)
                self.admin.assign(ADMIN, user_id(role, unit), role, unit)

    def actor(self, role: str, unit: str) -> Actor:
        """The actor as a login would build it: the unit from md_user, the roles from md_user_role."""
        access = self.schema.access
        with self.engine.connect() as connection:
            org_unit = connection.scalar(select(access.users.c.org_unit).where(access.users.c.id == user_id(role, unit)))
            roles = connection.scalars(select(access.user_roles.c.role).where(access.user_roles.c.user_id == user_id(role, unit)))
            return Actor(id=user_id(role, unit), roles=tuple(sorted(roles)), org_unit=org_unit)

    def seed(self) -> None:
        """Seed each entity in five units (both leaves, a sibling, a parent, the root) plus one deleted record."""
        first, second = self.units
        units = self.model.permissions.org_units
        parent = units[first].parent or first
        sibling = next(name for name, unit in units.items() if unit.parent == parent and name != first)
        root = next(name for name, unit in units.items() if unit.parent is None)
        places = [(first, user_id("dealer_staff", first)), (second, user_id("dealer_staff", second)),
                  (sibling, "someone"), (parent, user_id("credit_officer", first)), (root, "someone")]
        seeder = Seeder(self.system)
        for unit, creator in places + [(root, "deleted")]:
            bank = seeder.bank(creator, unit)
            refs = {"customer": seeder.customer(creator, unit), "dealer": seeder.dealer(creator, unit),
                    "product": seeder.loan_product(creator, unit, bank), "vehicle": seeder.vehicle(creator, unit)}
            application = seeder.loan_application(creator, unit, refs)
            ids = {"bank": bank, **{name if name != "product" else "loan_product": value for name, value in refs.items()},
                   "loan_application": application}
            # Records that others reference are deleted after them, so the last ones created go first.
            for entity, record_id in reversed(ids.items()):
                if creator == "deleted":
                    self.system.delete(ADMIN, entity, record_id, version=1, reason=REASON)
            for entity, record_id in ids.items():
                self.seeded.setdefault(entity, []).append(record_id)
        # The collector's filter reads loans in repayment in the collector's own unit: put one there.
        table = self.schema.entities["loan_application"].table
        with self.engine.begin() as connection:
            connection.execute(update(table).where(table.c.id == self.seeded["loan_application"][0]).values(state="repaying"))

    def applicable_lines(self, role: str, unit: str, entity: str, action: str) -> tuple[list[PolicyLine], list[PolicyLine]]:
        """Return the lines of the role (or a role it inherits) for entity and action: all, and those applying in `unit`."""
        roles = {role}
        pending = [role]
        while pending:
            for parent in self.model.permissions.roles[pending.pop()].inherits:
                if parent not in roles:
                    roles.add(parent)
                    pending.append(parent)
        lines = [line for line in self.store.lines() if line.role in roles and line.entity == entity and line.action == action]
        return lines, [line for line in lines if self.store.tree.within(unit, line.unit)]


def expected_in_unit(cell: MatrixCell, lines: list[PolicyLine], applying: list[PolicyLine]) -> bool:
    """Return the matrix cell's decision, narrowed to the lines that apply in the unit when some do not."""
    if len(applying) == len(lines):
        return cell.allowed
    return any(line.effect == "allow" for line in applying) and not any(line.effect == "deny" for line in applying)


@pytest.fixture
def matrix(engine: Engine, tmp_path: Path) -> Iterator[Matrix]:
    built = Matrix(engine, tmp_path / "backups")
    first, second = built.units
    # One admin grant limited to the first leaf's branch, one deny limited to the second leaf.
    branch = built.model.permissions.org_units[first].parent or first
    built.admin.grant(ADMIN, "dealer_staff", "customer", "export", scope="unit", unit=branch)
    built.admin.grant(ADMIN, "credit_officer", "vehicle", "read", unit=second, effect="deny")
    built.add_users()
    built.seed()
    yield built


def test_allows_agrees_with_matrix(matrix: Matrix) -> None:
    cells = matrix.admin.matrix()
    checked = narrowed = 0
    for role in matrix.roles:
        for unit in matrix.units:
            actor = matrix.actor(role, unit)
            assert actor.roles == (role,)
            for entity in matrix.model.entities:
                for action in matrix.model.actions_for(entity):
                    cell = cells[(role, entity, action)]
                    lines, applying = matrix.applicable_lines(role, unit, entity, action)
                    expected = expected_in_unit(cell, lines, applying)
                    assert matrix.store.allows(actor, action, entity) is expected, (role, unit, entity, action, cell, applying)
                    checked += 1
                    narrowed += len(applying) != len(lines)
    expected_checks = len(matrix.roles) * len(matrix.units) * sum(len(matrix.model.actions_for(name)) for name in matrix.model.entities)
    assert checked == expected_checks
    assert narrowed > 0

    first, second = matrix.units
    assert matrix.store.allows(matrix.actor("dealer_staff", first), "export", "customer")
    assert not matrix.store.allows(matrix.actor("dealer_staff", second), "export", "customer")
    assert matrix.store.allows(matrix.actor("branch_manager", first), "read", "vehicle")
    assert not matrix.store.allows(matrix.actor("branch_manager", second), "read", "vehicle")


def test_list_get_and_scope_predicate_agree(matrix: Matrix) -> None:
    records = RecordService(matrix.model, matrix.schema, matrix.engine, access=PolicyAccess(matrix.store, matrix.schema), keys=matrix.keys)
    policy = PolicyAccess(matrix.store, matrix.schema)
    partial = readable = 0
    for role in matrix.roles:
        for unit in matrix.units:
            actor = matrix.actor(role, unit)
            for entity, ids in matrix.seeded.items():
                table = matrix.schema.entities[entity].table
                predicate = policy.scope(actor, entity, table)
                query = select(table.c.id).where(table.c.deleted_at.is_(None))
                if predicate is not None:
                    query = query.where(predicate)
                with matrix.engine.connect() as connection:
                    selected = set(connection.scalars(query))
                if not matrix.store.allows(actor, "read", entity):
                    with pytest.raises(PermissionDenied):
                        records.list(actor, entity)
                    with pytest.raises(PermissionDenied):
                        records.get(actor, entity, ids[0])
                    assert selected == set(), (role, unit, entity)
                    continue
                listed = {row["id"] for row in records.list(actor, entity, ListQuery(limit=500)).rows}
                fetched = set()
                for record_id in ids:
                    try:
                        fetched.add(records.get(actor, entity, record_id)["id"])
                    except NotFound:
                        pass
                assert listed == fetched == selected, (role, unit, entity, listed, fetched, selected)
                readable += 1
                partial += 0 < len(listed) < len(ids) - 1
    assert readable > 0
    assert partial > 0


def test_scopes_bite(matrix: Matrix) -> None:
    """Check a few lists worked out by hand, so that agreement alone cannot hide a matrix that lets nothing through."""
    records = RecordService(matrix.model, matrix.schema, matrix.engine, access=PolicyAccess(matrix.store, matrix.schema), keys=matrix.keys)
    first, second = matrix.units
    live = {entity: ids[:-1] for entity, ids in matrix.seeded.items()}

    def listed(role: str, unit: str, entity: str) -> list[int]:
        return sorted(row["id"] for row in records.list(matrix.actor(role, unit), entity, ListQuery(limit=500)).rows)

    # Seeded in order: first leaf, second leaf, the first leaf's sibling, its parent, the root.
    assert listed("dealer_staff", first, "customer") == [live["customer"][0]]
    assert listed("dealer_staff", second, "customer") == [live["customer"][1]]
    assert listed("head_office_viewer", first, "customer") == sorted(live["customer"])
    assert listed("collector", first, "loan_application") == [live["loan_application"][0]]
    assert listed("collector", second, "loan_application") == []
    assert listed("credit_officer", first, "vehicle") == [live["vehicle"][0]]
    assert matrix.admin.matrix()[("branch_manager", "vehicle", "read")].origins == ("admin", "yaml")


def test_export_holds_the_listed_rows_inside_the_export_scope(matrix: Matrix) -> None:
    """An export is the list narrowed by the export scope: never a row the list hides."""
    # Credit officers read vehicles in their unit and below; here they may export only their own.
    matrix.admin.grant(ADMIN, "credit_officer", "vehicle", "export", scope="own")
    policy = PolicyAccess(matrix.store, matrix.schema)
    records = RecordService(matrix.model, matrix.schema, matrix.engine, access=policy, keys=matrix.keys)
    exports = RecordExports(records)
    exported_somewhere = narrower = 0
    for role in matrix.roles:
        for unit in matrix.units:
            actor = matrix.actor(role, unit)
            for entity in matrix.seeded:
                if not matrix.store.allows(actor, "export", entity):
                    with pytest.raises(PermissionDenied):
                        exports.start(actor, entity, ListQuery())
                    continue
                if not matrix.store.allows(actor, "read", entity):
                    with pytest.raises(PermissionDenied):
                        exports.start(actor, entity, ListQuery())
                    continue
                listed = {row["id"] for row in records.list(actor, entity, ListQuery(limit=500)).rows}
                export = exports.start(actor, entity, ListQuery(), page_size=2)
                exported = [row["id"] for page in export.pages() for row in page]
                table = matrix.schema.entities[entity].table
                export_scope = policy.scope(actor, entity, table, "export")
                query = select(table.c.id).where(table.c.deleted_at.is_(None))
                if export_scope is not None:
                    query = query.where(export_scope)
                with matrix.engine.connect() as connection:
                    in_export_scope = set(connection.scalars(query))
                assert len(exported) == len(set(exported)) == export.total, (role, unit, entity)
                assert set(exported) == listed & in_export_scope, (role, unit, entity, exported, listed)
                exported_somewhere += bool(exported)
                narrower += len(exported) < len(listed)
    assert exported_somewhere > 0
    assert narrower > 0


def test_report_counts_the_listed_rows(matrix: Matrix) -> None:
    """A report never counts a row the list hides: per state and in total, for every role and unit."""
    policy = PolicyAccess(matrix.store, matrix.schema)
    records = RecordService(matrix.model, matrix.schema, matrix.engine, access=policy, keys=matrix.keys)
    reports = ReportRunner(records)
    counted_somewhere = 0
    for role in matrix.roles:
        for unit in matrix.units:
            actor = matrix.actor(role, unit)
            if not matrix.store.allows(actor, "read", "loan_application"):
                with pytest.raises(PermissionDenied):
                    reports.run(actor, "applications_by_state")
                continue
            listed = records.list(actor, "loan_application", ListQuery(limit=500)).rows
            result = reports.run(actor, "applications_by_state")
            by_state = {group.keys[0]: group.values["application_count"] for group in result.rows}
            expected: dict[str, int] = {}
            for row in listed:
                expected[row["state"]] = expected.get(row["state"], 0) + 1
            assert by_state == expected, (role, unit)
            assert result.total.values["application_count"] == len(listed), (role, unit)
            assert result.total.values["total_loan_amount"] == (sum((row["loan_amount"] for row in listed), Decimal(0))
                                                                if listed else None), (role, unit)
            counted_somewhere += bool(listed)
    assert counted_somewhere > 0
