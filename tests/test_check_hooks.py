"""`metadesk check` imports the application's hooks folder and reports hooks the YAML names but no code registers."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.conftest import AppFactory
from ui.cli import main

HOOKED_ENTITY = """
    name: customer
    label: {zh-CN: 客户, en: Customer}
    fields:
      - {name: name, type: string, label: {zh-CN: 姓名, en: Name}, required: true}
    hooks:
      before_save: [check_tests.normalize]
      after_save: [check_tests.welcome]
"""


def write_hooks(app: Path, name: str, source: str) -> None:
    folder = app / "hooks"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")


def check_json(app: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = main(["check", str(app), "--format", "json", "--lang", "en"])
    return code, json.loads(capsys.readouterr().out)


def test_unregistered_hook_reported(make_app: AppFactory, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app({"entities/customer.yaml": HOOKED_ENTITY})
    write_hooks(app, "customers.py", """
        from runtime.hooks import hook


        @hook("check_tests.normalize")
        def normalize(context):
            return None
    """)
    code, report = check_json(app, capsys)
    assert code == 0
    problems = [(item["code"], item["message"]) for item in report["diagnostics"]]  # type: ignore[union-attr, index]
    assert problems == [("hook.W001", 'entity customer, after_save runs the hook "check_tests.welcome", which no code '
                                      "registers, so that step fails until one does")]


def test_broken_hooks_module_names_line(make_app: AppFactory, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app({"entities/customer.yaml": HOOKED_ENTITY})
    write_hooks(app, "broken.py", """
        from runtime.hooks import hook

        VALUE = 1 / 0
    """)
    code, report = check_json(app, capsys)
    assert code == 1
    (problem,) = report["diagnostics"]  # type: ignore[misc]
    assert problem["code"] == "hook.E002"
    assert problem["file"].endswith("hooks/broken.py")
    assert problem["line"] == 3
    assert "ZeroDivisionError" in problem["message"]
