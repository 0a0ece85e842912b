"""`metadesk token create|list|revoke` as an operator runs them, on a copy of the requisition app."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from runtime.access import Actor
from runtime.migrate import migrate
from runtime.permission_admin import PermissionAdmin
from runtime.permissions import PermissionStore
from tests.test_runtime_commands import REQUISITION, Place, place  # noqa: F401  (place is a fixture)

ROOT = Actor(id="root", roles=("system",))
CHINESE = {"LANG": "zh_CN.UTF-8", "LC_ALL": "", "LC_MESSAGES": "", "METADESK_LANG": ""}


@pytest.fixture
def app(place: Place, tmp_path: Path) -> Path:
    """A migrated copy of the requisition app with one user, wang."""
    copied = tmp_path / "requisition"
    shutil.copytree(REQUISITION, copied)
    runtime = place.open(copied)
    try:
        migrate(runtime.engine, runtime.schema, runtime.model, backup_root=runtime.backup_root)
        admin = PermissionAdmin(PermissionStore(runtime.model, runtime.schema, runtime.engine))
        admin.add_user(ROOT, "wang", "wang.fang", "王芳", "platform_team")
    finally:
        runtime.close()
    return copied


def user_of(place: Place, app: Path, token: str) -> str | None:
    runtime = place.open(app)
    try:
        user = runtime.accounts().user_of_token(token)
        return None if user is None else str(user["id"])
    finally:
        runtime.close()


def test_create_list_and_revoke(place: Place, app: Path) -> None:
    created = place.run("token", "create", str(app), "wang", "ERP 接口", "--lang", "en")
    assert created.returncode == 0, created.stdout + created.stderr
    token = created.stdout.strip()
    assert token.startswith("mdk_")
    assert "\n" not in token
    assert created.stderr.strip() == (
        'Created API token 1 "ERP 接口" acting as wang. It is shown only this once: store it safely.'
    )

    listed = place.run("token", "list", str(app), env=CHINESE)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == "共 1 个 API 令牌："
    assert lines[1].startswith("  1  wang  “ERP 接口”  创建于 ")
    assert lines[1].endswith("最近使用 从未  有效")
    assert token not in listed.stdout
    assert user_of(place, app, token) == "wang"

    revoked = place.run("token", "revoke", str(app), "1", "--lang", "en")
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    assert revoked.stdout.strip() == 'Revoked token 1 "ERP 接口" of wang; requests with it are refused from now on.'
    assert user_of(place, app, token) is None

    listed_after = place.run("token", "list", str(app), "--lang", "en")
    assert " revoked " in listed_after.stdout.splitlines()[1]
    again = place.run("token", "revoke", str(app), "1", env=CHINESE)
    assert again.returncode == 1
    assert again.stderr.startswith("令牌 1 已于 ")
    assert again.stderr.strip().endswith("吊销；未做任何更改。")

    runtime = place.open(app)
    try:
        audit = runtime.schema.audit
        with runtime.engine.connect() as connection:
            actions = connection.execute(select(audit.c.actor, audit.c.action).where(audit.c.action.like("%token"))).all()
    finally:
        runtime.close()
    assert sorted(tuple(row) for row in actions) == [("cli", "create_token"), ("cli", "revoke_token")]


def test_token_errors(place: Place, app: Path) -> None:
    unknown_user = place.run("token", "create", str(app), "nobody", "ERP", "--lang", "en")
    assert unknown_user.returncode == 1
    assert unknown_user.stderr.strip() == "unknown user 'nobody'; use one of: wang"
    assert unknown_user.stdout == ""

    blank = place.run("token", "create", str(app), "wang", "  ", env=CHINESE)
    assert blank.returncode == 1
    assert blank.stderr.strip() == "请为令牌起一个 1 至 100 个字符的名称，例如所用于的集成系统。"

    missing = place.run("token", "revoke", str(app), "42", "--lang", "en")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "There is no API token 42; `metadesk token list` shows the tokens and their ids."

    empty = place.run("token", "list", str(app), "--lang", "en")
    assert empty.returncode == 0
    assert empty.stdout.strip() == "No API tokens yet; create one with `metadesk token create`."


def test_token_needs_migrated_database(place: Place, tmp_path: Path) -> None:
    copied = tmp_path / "fresh"
    shutil.copytree(REQUISITION, copied)
    answer = place.run("token", "list", str(copied), "--lang", "en")
    assert answer.returncode == 1
    assert answer.stderr.strip().splitlines()[-1] == f"The database has no user tables yet; create them with `metadesk migrate {copied}`."
