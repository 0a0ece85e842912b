"""The demo users table of `metadesk seed`: passwords are printed whole, however narrow the terminal."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from rich.console import Console

from metamodel import load_app
from runtime.seed_users import DemoUser
from tests.conftest import REPOSITORY
from ui.cli.seed import users_table

PASSWORD = "Qiv7-Bag2-Jq4x-Lm8p"


@pytest.mark.parametrize("width", [80, 120])
def test_password_never_cut(width: int) -> None:
    runtime = cast(Any, SimpleNamespace(model=load_app(REPOSITORY / "configs" / "guarantee")))
    roles = list(runtime.model.permissions.roles)
    units = list(runtime.model.permissions.org_units)
    users = [DemoUser(f"u{index}", f"demo_user_{index}", "欧阳明远", role, units[-1], PASSWORD, True)
             for index, role in enumerate(roles[:4])]
    console = Console(width=width, record=True, color_system=None)
    console.print(users_table(runtime, users, "zh-CN"))
    text = console.export_text()
    assert text.count(PASSWORD) == len(users)
    assert "demo_user_0" in text
