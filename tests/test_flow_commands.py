"""`metadesk flow versions` and `metadesk flow migrate` on a copy of the expense approvals app."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import func, select

from runtime.access import SYSTEM_ACTOR
from runtime.crypto import ENCRYPTION_KEYS_VARIABLE, HASH_KEY_VARIABLE
from runtime.flow_versions import version_id
from tests.runtime.flow_version_app import Deployment, create, fire, rename_review
from ui.cli import main


@pytest.fixture
def deployment(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    monkeypatch.delenv(ENCRYPTION_KEYS_VARIABLE, raising=False)
    monkeypatch.delenv(HASH_KEY_VARIABLE, raising=False)
    monkeypatch.setenv("METADESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("METADESK_DATABASE_URL", database_url)
    yield Deployment(tmp_path, database_url)


@pytest.fixture
def changed(deployment: Deployment) -> dict[str, Any]:
    """Two records in review, one draft and one approved under v1, then review renamed in v2; returns them by name."""
    runtime = deployment.open()
    try:
        records = {
            "review": fire(runtime, create(runtime), "submit"),
            "review2": fire(runtime, create(runtime), "submit"),
            "draft": create(runtime),
            "approved": fire(runtime, fire(runtime, create(runtime), "submit"), "approve"),
        }
    finally:
        runtime.close()
    deployment.edit("expense_single", rename_review)
    return records


def snapshot(deployment: Deployment) -> tuple[Any, ...]:
    """Everything a migration writes: the records, the audit log and the steps."""
    runtime = deployment.open()
    try:
        table, audit, steps = runtime.schema.entities["expense"].table, runtime.schema.audit, runtime.schema.flows.steps
        with runtime.engine.connect() as connection:
            return (
                connection.execute(select(table).order_by(table.c.id)).all(),
                connection.scalar(select(func.count()).select_from(audit)),
                connection.execute(select(steps).order_by(steps.c.id)).all(),
            )
    finally:
        runtime.close()


def test_versions_lists_counts(deployment: Deployment, changed: dict[str, Any],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    runtime = deployment.open()
    try:
        create(runtime)
        first = changed["draft"]["flow_version"]
        second = version_id(runtime.model.flows["expense_single"])
    finally:
        runtime.close()

    assert main(["flow", "versions", str(deployment.app), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    section = out[out.index("Flow expense_single (expense):"):].split("\nFlow ")[0].splitlines()
    assert section[1].startswith(f"  v1   {first[:12]}  ")
    assert section[1].endswith("  4 record(s)")
    assert section[2].startswith(f"  v2   {second[:12]}  ")
    assert section[2].endswith("  1 record(s)  current")
    assert "Flow expense_all (expense):" in out

    assert main(["flow", "versions", str(deployment.app), "--lang", "zh-CN"]) == 0
    assert "流程 expense_single（expense）：" in capsys.readouterr().out


def test_migrate_plan_writes_nothing(deployment: Deployment, changed: dict[str, Any],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(deployment)
    code = main(["flow", "migrate", str(deployment.app), "expense_single", "--from", "v1", "--map", "review=pending", "--plan",
                 "--lang", "en"])
    out = capsys.readouterr().out
    assert code == 0
    assert "Flow expense_single (expense): 3 live record(s) on v1; current version v2." in out
    assert "  review → pending: 2 record(s)" in out
    assert "  draft → draft (same name): 1 record(s)" in out
    assert "1 finished record(s) (in approved, rejected) stay on v1." in out
    assert "Run without --plan to move them." in out
    assert snapshot(deployment) == before


def test_migrate_incomplete_map_refused(deployment: Deployment, changed: dict[str, Any],
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(deployment)
    assert main(["flow", "migrate", str(deployment.app), "expense_single", "--from", "v1", "--lang", "en"]) == 1
    out = capsys.readouterr().out
    assert "Migration refused; nothing was changed." in out
    assert "States in use with no state in v2 to go to:\n  review: 2 record(s)\n" in out
    assert snapshot(deployment) == before

    assert main(["flow", "migrate", str(deployment.app), "expense_single", "--from", "v1", "--map", "review=gone",
                 "--lang", "zh-CN"]) == 1
    out = capsys.readouterr().out
    assert "迁移被拒绝；未做任何更改。" in out
    assert "--map review=gone：v2 没有状态 'gone'" in out
    assert snapshot(deployment) == before


def test_migrate_moves_old_records(deployment: Deployment, changed: dict[str, Any],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["flow", "migrate", str(deployment.app), "expense_single", "--from", "1", "--map", "review=pending", "--lang", "en"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Moved 3 record(s) of expense_single from v1 to v2, one audit entry each." in out

    runtime = deployment.open()
    try:
        current = version_id(runtime.model.flows["expense_single"])
        states = {name: runtime.records.get(SYSTEM_ACTOR, "expense", record["id"]) for name, record in changed.items()}
        assert {name: (record["state"], record["flow_version"]) for name, record in states.items()} == {
            "review": ("pending", current), "review2": ("pending", current), "draft": ("draft", current),
            "approved": ("approved", changed["approved"]["flow_version"])}
        audit = runtime.schema.audit
        with runtime.engine.connect() as connection:
            actors = connection.execute(select(audit.c.actor).where(audit.c.action == "flow_migrate")).scalars().all()
        assert actors == ["cli"] * 3
    finally:
        runtime.close()

    assert main(["flow", "migrate", str(deployment.app), "expense_single", "--from", "v1", "--lang", "en"]) == 0
    assert "No record is on that version; nothing to do." in capsys.readouterr().out


def test_migrate_wrong_arguments(deployment: Deployment, changed: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flow", "migrate", str(deployment.app), "expense_single", "--from", "v1", "--map", "review", "--lang", "en"]) == 2
    assert "Error: --map 'review' is not old_state=new_state" in capsys.readouterr().out
    assert main(["flow", "migrate", str(deployment.app), "nothing", "--from", "v1", "--lang", "en"]) == 1
    assert "No flow 'nothing' in the application; its flows are expense_all, " in capsys.readouterr().out
    assert main(["flow", "migrate", str(deployment.app), "expense_single", "--from", "v2"]) == 1
    assert "v2 就是流程 expense_single 的当前版本，无需迁移" in capsys.readouterr().out
