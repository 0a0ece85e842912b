"""`metadesk seed` as an operator runs it: demo users and records, the same on a second run.

The command runs twice as a subprocess on one data folder and database (SQLite in the
folder, or a PostgreSQL database of its own when METADESK_DATABASE_URL is set). The
checks then read the database through the runtime, as the system and as the demo users.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest
import stdnum.cn.ric
import stdnum.cn.uscc
import stdnum.luhn
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from vininfo import Vin

from metamodel import model as m
from runtime.access import SYSTEM_ACTOR
from runtime.app import Runtime
from runtime.catalogs import sync_catalogs
from runtime.migrate import migrate
from runtime.record_query import ListQuery
from runtime.seed import DemoSeeder
from runtime.seed_users import place_roles
from runtime.settings import Settings
from tests.conftest import REPOSITORY

GUARANTEE = REPOSITORY / "configs" / "guarantee"
REQUISITION = REPOSITORY / "tests" / "apps" / "requisition"
SECRET_VARIABLES = ("METADESK_SECRET_KEY", "METADESK_ENCRYPTION_KEYS", "METADESK_HASH_KEY")


def run_seed(data_dir: Path, database_url: str, app: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key not in SECRET_VARIABLES}
    environment.update(METADESK_DATA_DIR=str(data_dir), METADESK_DATABASE_URL=database_url, METADESK_LANG="en")
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", "seed", str(app), *arguments],
        cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=600, check=False,
    )


def prepared_runtime(data_dir: Path, database_url: str, app: Path) -> Runtime:
    """Open the application on the data folder, migrated and with its catalog rows."""
    runtime = Runtime.open(app, Settings(data_dir=data_dir, database_url=database_url, redis_url=None))
    migrate(runtime.engine, runtime.schema, runtime.model, backup_root=runtime.backup_root)
    sync_catalogs(runtime.records)
    return runtime


def all_rows(runtime: Runtime, entity: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    after = None
    while True:
        page = runtime.records.list(SYSTEM_ACTOR, entity, ListQuery(sort=("id",), limit=500, after=after))
        rows.extend(page.rows)
        if page.next_cursor is None:
            return rows
        after = page.next_cursor


@pytest.fixture(scope="module")
def module_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A data folder and a database shared by this module's tests: SQLite there, or a PostgreSQL database of its own."""
    data_dir = tmp_path_factory.mktemp("seed") / "data"
    base = os.environ.get("METADESK_DATABASE_URL")
    if not base:
        yield data_dir, f"sqlite:///{data_dir / 'metadesk.db'}"
        return
    name = f"md_seed_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(base).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield data_dir, make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="module")
def seeded(module_database: tuple[Path, str]) -> Iterator[tuple[Runtime, dict[str, Any], dict[str, Any]]]:
    """The guarantee app seeded twice with 6 records per entity: the runtime and both runs' JSON reports."""
    data_dir, database_url = module_database
    data_dir.mkdir(parents=True, exist_ok=True)
    runtime = prepared_runtime(data_dir, database_url, GUARANTEE)
    first = run_seed(data_dir, database_url, GUARANTEE, "--count", "6", "--format", "json")
    assert first.returncode == 0, first.stdout + first.stderr
    second = run_seed(data_dir, database_url, GUARANTEE, "--count", "6", "--format", "json")
    assert second.returncode == 0, second.stdout + second.stderr
    yield runtime, json.loads(first.stdout), json.loads(second.stdout)
    runtime.close()


def test_second_run_changes_nothing(seeded: tuple[Runtime, dict[str, Any], dict[str, Any]]) -> None:
    runtime, first, second = seeded
    roles = list(runtime.model.permissions.roles)
    # One user per role, and two committee members, as the committee's countersign needs two signatures.
    seats = {role: 2 if role == "committee_member" else 1 for role in roles}
    assert [user["role"] for user in first["users"]] == [role for role in roles for _ in range(seats[role])]
    assert [user["id"] for user in first["users"] if user["role"] == "committee_member"] == [
        "demo_committee_member", "demo_committee_member_2"]
    assert all(user["created"] for user in first["users"])
    assert not any(user["created"] for user in second["users"])
    same = ("id", "username", "name", "role", "unit", "password")
    assert [{key: user[key] for key in same} for user in second["users"]] == [{key: user[key] for key in same} for user in first["users"]]
    assert all(entity["created"] == 0 for entity in second["entities"])
    assert {entity["entity"]: entity["existing"] for entity in second["entities"]} == {
        entity["entity"]: entity["created"] for entity in first["entities"]
    }

    users = runtime.schema.access.users
    with runtime.engine.connect() as connection:
        ids = list(connection.scalars(select(users.c.id).where(users.c.id.like("demo\\_%", escape="\\"))))
    assert sorted(ids) == sorted([f"demo_{role}" for role in roles] + ["demo_committee_member_2"])
    for entity in ("customer", "dealer", "vehicle", "loan_application"):
        assert len(all_rows(runtime, entity)) == 6, entity


def test_demo_users_sign_in(seeded: tuple[Runtime, dict[str, Any], dict[str, Any]]) -> None:
    runtime, first, _ = seeded
    accounts = runtime.accounts()
    for user in first["users"]:
        assert re.fullmatch(r"[A-Z][a-z]{2}[2-9](-[A-Z][a-z]{2}[2-9]){2,}", user["password"]), user
        assert accounts.sign_in(user["username"], user["password"]).outcome == "ok", user["username"]
    assert accounts.sign_in(first["users"][0]["username"], "Wrong-pass-1").outcome == "wrong"


def test_users_placed_by_scope(seeded: tuple[Runtime, dict[str, Any], dict[str, Any]]) -> None:
    _, first, _ = seeded
    units = {user["role"]: user["unit"] for user in first["users"]}
    assert units["dealer_staff"] == "dealer_bj_yizhuang"
    assert units["dealer_manager"] == "dealer_sh_pudong"
    assert units["credit_officer"] in ("beijing_branch", "shanghai_branch")
    assert units["admin"] == "head_office"
    assert units["risk_manager"] == "risk_department"


def test_identifiers_are_valid(seeded: tuple[Runtime, dict[str, Any], dict[str, Any]]) -> None:
    runtime, _, _ = seeded
    checked: dict[str, int] = {}
    for entity_name in ("customer", "dealer", "vehicle", "loan_application"):
        entity = runtime.model.entities[entity_name]
        for row in all_rows(runtime, entity_name):
            for field in entity.fields.values():
                value = row.get(field.name)
                if value is None or field.type not in m.IDENTIFIER_TYPES:
                    continue
                checked[field.type] = checked.get(field.type, 0) + 1
                if field.type == "resident_id":
                    assert stdnum.cn.ric.is_valid(value), value
                elif field.type == "uscc":
                    assert stdnum.cn.uscc.is_valid(value), value
                elif field.type == "vin":
                    assert Vin(value).verify_checksum(check_year=False), value
                elif field.type == "bank_card":
                    assert stdnum.luhn.is_valid(value), value
                elif field.type == "mobile":
                    assert re.fullmatch(r"1[3-9][0-9]{9}", value), value
    assert set(checked) >= {"resident_id", "uscc", "vin", "bank_card", "mobile"}


def test_amounts_are_plausible(seeded: tuple[Runtime, dict[str, Any], dict[str, Any]]) -> None:
    runtime, _, _ = seeded
    products = {row["id"]: row for row in all_rows(runtime, "loan_product")}
    applications = all_rows(runtime, "loan_application")
    for application in applications:
        price = application["vehicle_price"]
        assert Decimal(80000) <= price <= Decimal(400000), application
        assert application["down_payment"] >= price * products[application["product"]]["min_down_payment_ratio"], application
        assert application["term_months"] in (12, 24, 36), application
    customers = all_rows(runtime, "customer")
    assert all(row["name"] and re.fullmatch(r"[\u4e00-\u9fff]{2,4}", row["name"]) for row in customers), customers


def test_applications_leave_the_initial_state(seeded: tuple[Runtime, dict[str, Any], dict[str, Any]]) -> None:
    runtime, _, _ = seeded
    states = {row["state"] for row in all_rows(runtime, "loan_application")}
    assert len(states) >= 2, states


def test_dealer_users_see_their_own_rows(seeded: tuple[Runtime, dict[str, Any], dict[str, Any]]) -> None:
    runtime, first, _ = seeded
    records = runtime.records_for_users()
    accounts = runtime.accounts()
    for user in first["users"]:
        if user["role"] not in ("dealer_staff", "dealer_manager"):
            continue
        row = accounts.user(user["id"])
        assert row is not None
        actor = accounts.actor(row)
        for entity in ("customer", "vehicle", "loan_application"):
            own = {record["id"] for record in all_rows(runtime, entity) if record["org_unit"] == user["unit"]}
            seen = {record["id"] for record in records.list(actor, entity, ListQuery(limit=500)).rows}
            assert own, (user["id"], entity)
            assert seen == own, (user["id"], entity)


def test_requisition_app_seeds_without_hints(tmp_path: Path) -> None:
    """An app without seed.yaml gets users placed by scope and records drawn from field types alone."""
    runtime = prepared_runtime(tmp_path, f"sqlite:///{tmp_path / 'requisition.db'}", REQUISITION)
    try:
        seeder = DemoSeeder(runtime, count=8)
        report = seeder.run(seeder.plan())
        placed = {user.role: user.unit for user in report.users}
        assert placed["staff"] == "platform_team"
        assert placed["manager"] == "engineering"
        assert placed["admin"] == "company"
        assert place_roles(runtime.model, seeder.entities) == placed
        assert {entity.entity: entity.created for entity in report.entities} == {"employee": 8, "requisition": 8}
        employees = all_rows(runtime, "employee")
        assert all(re.fullmatch(r"E[0-9]{5}", row["employee_no"]) for row in employees)
        states = {row["state"] for row in all_rows(runtime, "requisition")}
        assert len(states) >= 3, states
    finally:
        runtime.close()
