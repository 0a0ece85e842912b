"""A copy of the expense approvals app on the test's database, whose flow YAML tests change between opens."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import yaml
from sqlalchemy import select

from runtime.access import SYSTEM_ACTOR, Actor, SystemAccess
from runtime.app import Runtime
from runtime.migrate import migrate
from runtime.settings import Settings
from tests.conftest import REPOSITORY

APPROVALS = REPOSITORY / "tests" / "apps" / "approvals"


class Deployment:
    """The app folder, its data folder and database; `open` starts a runtime as a server worker or command would."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self.app = tmp_path / "app"
        shutil.copytree(APPROVALS, self.app)
        self.settings = Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=None)
        runtime = self.open()
        try:
            migrate(runtime.engine, runtime.schema, runtime.model, backup_root=tmp_path / "backups")
        finally:
            runtime.close()

    def open(self) -> Runtime:
        return Runtime.open(self.app, self.settings, access=SystemAccess())

    def edit(self, flow: str, change: Callable[[dict[str, Any]], None]) -> None:
        """Change a flow's YAML document in the copy."""
        path = self.app / "flows" / f"{flow}.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(data)
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


#: Records are created in the east branch, as by one of its clerks.
CLERK = Actor(id="qian", name="qian", roles=("clerk",), org_unit="east")


def create(runtime: Runtime, procedure: str = "single", **values: Any) -> dict[str, Any]:
    return runtime.records.create(CLERK, "expense", {"title": "差旅", "amount": "800", "procedure": procedure, **values})


def fire(runtime: Runtime, record: dict[str, Any], name: str) -> dict[str, Any]:
    runtime.records.transition(SYSTEM_ACTOR, "expense", record["id"], name, version=record["version"])
    return runtime.records.get(SYSTEM_ACTOR, "expense", record["id"])


def rename_review(data: dict[str, Any]) -> None:
    """Rename state review to pending, and make approval lead to a new state checked, closed by a manager."""
    for state in data["states"]:
        if state["name"] == "review":
            state["name"] = "pending"
    data["states"].append({"name": "checked", "label": {"zh-CN": "已复核", "en": "Checked"}})
    for transition in data["transitions"]:
        sources = [transition["from"]] if isinstance(transition["from"], str) else transition["from"]
        transition["from"] = ["pending" if source == "review" else source for source in sources]
        if transition["to"] == "review":
            transition["to"] = "pending"
        if transition["name"] == "approve":
            transition["to"] = "checked"
    data["transitions"].append({"name": "close", "label": {"zh-CN": "结案", "en": "Close"}, "from": "checked", "to": "approved",
                                "roles": ["manager"]})


def version_rows(runtime: Runtime, flow: str | None = None) -> list[tuple[str, int, str]]:
    table = runtime.schema.flows.versions
    statement = select(table.c.flow, table.c.number, table.c.version_id).order_by(table.c.flow, table.c.number)
    if flow is not None:
        statement = statement.where(table.c.flow == flow)
    with runtime.engine.connect() as connection:
        return [(row.flow, int(row.number), row.version_id) for row in connection.execute(statement)]
