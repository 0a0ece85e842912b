"""`metadesk migrate`, `metadesk audit verify` and `metadesk keys rotate` as operators run them.

Each test gets its own data folder and database: SQLite in the data folder, or, when
METADESK_DATABASE_URL names a PostgreSQL server, a database created for the test and
dropped after it.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import stdnum.cn.ric
from sqlalchemy import inspect, select, update
from sqlalchemy.engine import make_url

from runtime.access import Actor, SystemAccess
from runtime.app import Runtime
from runtime.crypto import ENCRYPTION_KEYS_VARIABLE, HASH_KEY_VARIABLE, KEY_FILE_NAME
from runtime.database import make_engine
from runtime.settings import Settings
from tests.conftest import REPOSITORY, AppFactory

GUARANTEE = REPOSITORY / "configs" / "guarantee"
REQUISITION = REPOSITORY / "tests" / "apps" / "requisition"
CLERK = Actor(id="clerk-1", name="clerk", roles=("clerk",))

DESCRIPTION_FIELD = """  - name: description
    type: text
    label: {zh-CN: 说明, en: Description}
    length: {max: 500}
"""
DESCRIPTION_WIDGET = "      - {field: description, widget: textarea, span: 2}\n"


@dataclass
class Place:
    """Where one test keeps its data: the data folder and the database URL."""

    data_dir: Path
    database_url: str

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        base = {key: value for key, value in os.environ.items() if key not in (ENCRYPTION_KEYS_VARIABLE, HASH_KEY_VARIABLE)}
        return {
            **base,
            "METADESK_DATA_DIR": str(self.data_dir),
            "METADESK_DATABASE_URL": self.database_url,
            **(extra or {}),
        }

    def run(self, *arguments: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the installed `metadesk` script when it exists, else the same entry point through -m."""
        script = Path(sys.executable).with_name("metadesk")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "ui.cli"]
        return subprocess.run(
            command + list(arguments),
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=self.environment(env),
            cwd=REPOSITORY,
            timeout=120,
        )

    def open(self, app: Path) -> Runtime:
        settings = Settings.from_environment({"METADESK_DATA_DIR": str(self.data_dir), "METADESK_DATABASE_URL": self.database_url})
        return Runtime.open(app, settings, access=SystemAccess())

    def columns(self, table: str) -> set[str]:
        engine = make_engine(self.database_url)
        try:
            inspector = inspect(engine)
            if not inspector.has_table(table):
                return set()
            return {column["name"] for column in inspector.get_columns(table)}
        finally:
            engine.dispose()

    def tables(self) -> set[str]:
        engine = make_engine(self.database_url)
        try:
            return set(inspect(engine).get_table_names())
        finally:
            engine.dispose()


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Place]:
    """A data folder, and a fresh database: SQLite inside it, or a new PostgreSQL database."""
    monkeypatch.delenv(ENCRYPTION_KEYS_VARIABLE, raising=False)
    monkeypatch.delenv(HASH_KEY_VARIABLE, raising=False)
    data_dir = tmp_path / "data"
    server = os.environ.get("METADESK_DATABASE_URL")
    if not server:
        yield Place(data_dir, f"sqlite:///{data_dir / 'metadesk.db'}")
        return

    name = f"metadesk_test_{uuid.uuid4().hex[:16]}"
    admin = make_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        yield Place(data_dir, url)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def resident_id(birth: datetime.date) -> str:
    """A valid resident ID number for someone born in Beijing's Chaoyang district on `birth`."""
    prefix = f"110105{birth:%Y%m%d}123"
    return prefix + stdnum.cn.ric.calc_check_digit(prefix + "0")


def thirty_years_ago() -> datetime.date:
    today = datetime.date.today()
    return datetime.date(today.year - 30, 5, 5)


def stored_row(place: Place, table: str, record_id: int, *columns: str) -> dict[str, Any]:
    engine = make_engine(place.database_url)
    try:
        with engine.connect() as connection:
            row = connection.exec_driver_sql(
                f"SELECT {', '.join(columns)} FROM {table} WHERE id = {int(record_id)}"
            ).mappings().one()
            return dict(row)
    finally:
        engine.dispose()


# migrate ------------------------------------------------------------------


def test_migrate_creates_tables_then_has_nothing_to_do(place: Place) -> None:
    first = place.run("migrate", str(GUARANTEE), "--lang", "en")

    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.startswith("Applied ")
    assert "  - create table customer" in first.stdout
    assert {"customer", "loan_application", "md_audit", "md_schema_table"} <= place.tables()

    second = place.run("migrate", str(GUARANTEE), "--lang", "en")

    assert second.returncode == 0
    assert second.stdout.strip() == "Nothing to do: the database is up to date."


def test_plan_changes_nothing(place: Place) -> None:
    planned = place.run("migrate", str(GUARANTEE), "--plan", "--lang", "en")

    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert planned.stdout.startswith("Plan (")
    assert "  - create table customer" in planned.stdout
    assert "[destructive]" not in planned.stdout
    assert "customer" not in place.tables()

    place.run("migrate", str(GUARANTEE))
    again = place.run("migrate", str(GUARANTEE), "--plan", "--lang", "en")

    assert again.returncode == 0
    assert "nothing to do" in again.stdout.lower()


def test_chinese_is_the_default(place: Place) -> None:
    chinese = {"LANG": "zh_CN.UTF-8", "LC_ALL": "", "LC_MESSAGES": "", "METADESK_LANG": ""}

    applied = place.run("migrate", str(REQUISITION), env=chinese)
    planned = place.run("migrate", str(REQUISITION), "--plan", env=chinese)

    assert applied.stdout.startswith("已执行 ")
    assert "新建表 employee" in applied.stdout
    assert planned.stdout.strip() == "数据库已是最新，无需变更。"


def test_configuration_errors_are_listed(place: Place, make_app: AppFactory) -> None:
    root = make_app({"entities/item.yaml": "name: item\nname: again\n"})

    completed = place.run("migrate", str(root), "--lang", "en")

    assert completed.returncode == 1
    assert "yaml.E005" in completed.stdout
    assert "1 error(s) in the application" in completed.stdout
    assert "Traceback" not in completed.stderr


def test_destructive_migration_needs_flag(place: Place, tmp_path: Path) -> None:
    app = tmp_path / "requisition"
    shutil.copytree(REQUISITION, app)
    assert place.run("migrate", str(app)).returncode == 0
    runtime = place.open(app)
    try:
        runtime.records.create(
            CLERK,
            "equipment_item",
            {"code": "KB-001", "name": "机械键盘", "category": "peripheral", "unit_price": "399.00", "description": "青轴"},
        )
    finally:
        runtime.close()

    entity = app / "entities" / "equipment_item.yaml"
    form = app / "forms" / "equipment_item.yaml"
    assert DESCRIPTION_FIELD in entity.read_text(encoding="utf-8")
    assert DESCRIPTION_WIDGET in form.read_text(encoding="utf-8")
    entity.write_text(entity.read_text(encoding="utf-8").replace(DESCRIPTION_FIELD, ""), encoding="utf-8")
    form.write_text(form.read_text(encoding="utf-8").replace(DESCRIPTION_WIDGET, ""), encoding="utf-8")

    refused = place.run("migrate", str(app), "--lang", "en")

    assert refused.returncode == 1
    assert "Migration refused" in refused.stdout
    assert "Nothing was changed" in refused.stdout
    assert "  - [destructive] drop column equipment_item.description and its values" in refused.stdout
    assert "--allow-destructive" in refused.stdout
    assert "--plan" in refused.stdout
    assert "description" in place.columns("equipment_item")

    planned = place.run("migrate", str(app), "--plan", "--lang", "en")

    assert planned.returncode == 0
    assert "[destructive] drop column equipment_item.description" in planned.stdout
    assert "description" in place.columns("equipment_item")

    applied = place.run("migrate", str(app), "--allow-destructive", "--lang", "en")

    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "description" not in place.columns("equipment_item")
    backups = list((place.data_dir / "backups").iterdir())
    assert len(backups) == 1
    assert f"Backup taken before the destructive steps: {backups[0]}" in applied.stdout
    saved = [json.loads(line) for line in (backups[0] / "equipment_item.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["description"] for row in saved] == ["青轴"]

    assert "Nothing to do" in place.run("migrate", str(app), "--lang", "en").stdout


# audit verify -------------------------------------------------------------


def test_audit_verify_passes_on_a_fresh_database(place: Place) -> None:
    place.run("migrate", str(REQUISITION))

    completed = place.run("audit", "verify", str(REQUISITION), "--lang", "en")

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.strip() == "audit log intact: 0 entries checked"


def test_audit_verify_needs_the_tables(place: Place) -> None:
    completed = place.run("audit", "verify", str(REQUISITION), "--lang", "en")

    assert completed.returncode == 1
    assert "metadesk migrate" in completed.stdout


@pytest.mark.parametrize("column", ["reason", "changes"])
def test_audit_verify_names_the_edited_entry(place: Place, column: str) -> None:
    place.run("migrate", str(REQUISITION))
    runtime = place.open(REQUISITION)
    try:
        for number, name in enumerate(["王芳", "李娜", "刘洋"], start=1):
            runtime.records.create(
                CLERK,
                "employee",
                {"employee_no": f"E0000{number}", "name": name, "email": f"user{number}@example.com", "department": "it"},
            )
        audit = runtime.schema.audit
        with runtime.engine.connect() as connection:
            ids = list(connection.scalars(select(audit.c.id).order_by(audit.c.id)))

        intact = place.run("audit", "verify", str(REQUISITION), "--lang", "en")
        assert intact.returncode == 0
        assert intact.stdout.strip() == f"audit log intact: {len(ids)} entries checked"

        edited = ids[1]
        value: Any = "corrected afterwards" if column == "reason" else {"name": [None, "张伟"]}
        with runtime.engine.begin() as connection:
            connection.execute(update(audit).where(audit.c.id == edited).values({column: value}))
    finally:
        runtime.close()

    broken = place.run("audit", "verify", str(REQUISITION), "--lang", "en")

    assert broken.returncode == 1
    assert broken.stdout.startswith(f"audit log broken at entry {edited}: ")
    assert "edited" in broken.stdout
    chinese = place.run("audit", "verify", str(REQUISITION), "--lang", "zh-CN")
    assert f"第一条异常记录的 id 为 {edited}" in chinese.stdout


# keys rotate --------------------------------------------------------------


def create_customer(place: Place) -> tuple[int, str]:
    birth = thirty_years_ago()
    number = resident_id(birth)
    runtime = place.open(GUARANTEE)
    try:
        record = runtime.records.create(
            CLERK, "customer", {"name": "张三", "id_number": number, "phone": "13812345678", "birth_date": birth}
        )
    finally:
        runtime.close()
    return int(record["id"]), number


def read_customer_id_number(place: Place, record_id: int) -> str:
    runtime = place.open(GUARANTEE)
    try:
        return str(runtime.records.get(CLERK, "customer", record_id)["id_number"])
    finally:
        runtime.close()


def test_keys_rotate_adds_a_key_and_reencrypts(place: Place) -> None:
    place.run("migrate", str(GUARANTEE))
    record_id, number = create_customer(place)
    before = stored_row(place, "customer", record_id, "id_number", "id_number__hash")
    assert before["id_number"].startswith("v1:k1:")

    rotated = place.run("keys", "rotate", str(GUARANTEE), "--lang", "en")

    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert "Added key k2 as the current key" in rotated.stdout
    assert "Re-encrypted 1 token(s) under key k2:" in rotated.stdout
    assert "  customer: 1 token(s)" in rotated.stdout
    key_file = json.loads((place.data_dir / KEY_FILE_NAME).read_text(encoding="utf-8"))
    assert key_file["current_key_id"] == "k2"
    assert set(key_file["encryption_keys"]) == {"k1", "k2"}
    after = stored_row(place, "customer", record_id, "id_number", "id_number__hash")
    assert after["id_number"].startswith("v1:k2:")
    assert after["id_number__hash"] == before["id_number__hash"]
    assert read_customer_id_number(place, record_id) == number
    engine = make_engine(place.database_url)
    try:
        with engine.connect() as connection:
            actions = list(connection.exec_driver_sql("SELECT action FROM md_audit ORDER BY id").scalars())
    finally:
        engine.dispose()
    assert actions[-1] == "rotate_keys"
    assert place.run("audit", "verify", str(GUARANTEE)).returncode == 0


def test_keys_rotate_with_environment_keys_is_idempotent(place: Place) -> None:
    place.run("migrate", str(GUARANTEE))
    record_id, number = create_customer(place)
    before = stored_row(place, "customer", record_id, "id_number", "id_number__hash")
    key_file = json.loads((place.data_dir / KEY_FILE_NAME).read_text(encoding="utf-8"))
    new_key = base64.b64encode(os.urandom(32)).decode("ascii")
    keys = {
        ENCRYPTION_KEYS_VARIABLE: f"k9:{new_key},k1:{key_file['encryption_keys']['k1']}",
        HASH_KEY_VARIABLE: key_file["hash_key"],
    }

    first = place.run("keys", "rotate", str(GUARANTEE), "--lang", "en", env=keys)
    second = place.run("keys", "rotate", str(GUARANTEE), "--lang", "en", env=keys)

    assert first.returncode == 0, first.stdout + first.stderr
    assert f"put it first in {ENCRYPTION_KEYS_VARIABLE}" in first.stdout
    assert "  customer: 1 token(s)" in first.stdout
    assert second.returncode == 0
    assert "Re-encrypted 0 tokens" in second.stdout
    assert json.loads((place.data_dir / KEY_FILE_NAME).read_text(encoding="utf-8")) == key_file
    after = stored_row(place, "customer", record_id, "id_number", "id_number__hash")
    assert after["id_number"].startswith("v1:k9:")
    assert after["id_number__hash"] == before["id_number__hash"]


def test_keys_rotate_covers_child_tables(place: Place, make_app: AppFactory) -> None:
    root = make_app(
        {
            "entities/item.yaml": """
                name: item
                label: {zh-CN: 商品, en: Item}
                fields:
                  - name: title
                    type: string
                    label: {zh-CN: 名称, en: Title}
                    required: true
                  - name: serial
                    type: string
                    label: {zh-CN: 序列号, en: Serial}
                    encrypted: true
                  - name: parts
                    type: child
                    label: {zh-CN: 部件, en: Parts}
                    fields:
                      - name: code
                        type: string
                        label: {zh-CN: 编码, en: Code}
                        encrypted: true
            """
        }
    )
    assert place.run("migrate", str(root)).returncode == 0
    runtime = place.open(root)
    try:
        record = runtime.records.create(
            CLERK, "item", {"title": "台灯", "serial": "SN-0001", "parts": [{"code": "P-1"}, {"code": "P-2"}]}
        )
    finally:
        runtime.close()
    engine = make_engine(place.database_url)
    try:
        with engine.connect() as connection:
            hashes_before = connection.exec_driver_sql("SELECT code__hash FROM item__parts ORDER BY id").scalars().all()
    finally:
        engine.dispose()

    rotated = place.run("keys", "rotate", str(root), "--lang", "en")

    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert "Re-encrypted 3 token(s) under key k2:" in rotated.stdout
    assert "  item: 1 token(s)" in rotated.stdout
    assert "  item__parts: 2 token(s)" in rotated.stdout
    engine = make_engine(place.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("SELECT code, code__hash FROM item__parts ORDER BY id").all()
    finally:
        engine.dispose()
    assert all(code.startswith("v1:k2:") for code, _ in rows)
    assert [digest for _, digest in rows] == hashes_before
    runtime = place.open(root)
    try:
        again = runtime.records.get(CLERK, "item", record["id"])
    finally:
        runtime.close()
    assert again["serial"] == "SN-0001"
    assert [row["code"] for row in again["parts"]] == ["P-1", "P-2"]


def test_keys_rotate_refuses_without_a_key_file(place: Place) -> None:
    completed = place.run("keys", "rotate", str(GUARANTEE), "--lang", "en")

    assert completed.returncode == 1
    assert "There is no key file" in completed.stdout
    assert not (place.data_dir / KEY_FILE_NAME).exists()
