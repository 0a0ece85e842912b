"""`metadesk check` imports the application's hooks folder and reports hooks the YAML names but no code registers."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPOSITORY, AppFactory
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


def test_hooks_folder_of_example_app_registers_all(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = check_json(REPOSITORY / "tests" / "apps" / "hooked", capsys)
    assert code == 0
    assert report["diagnostics"] == []


def test_action_hook_and_computed_field_checked(make_app: AppFactory, capsys: pytest.CaptureFixture[str]) -> None:
    entity = HOOKED_ENTITY.replace("hooks:", """  - {name: grade, type: integer, label: {zh-CN: 等级, en: Grade}, computed_by: check_tests.grade}
    actions:
      - {name: print, label: {zh-CN: 打印, en: Print}, hook: check_tests.stamp, states: [nowhere]}
    hooks:""")
    app = make_app({"entities/customer.yaml": entity})
    code, report = check_json(app, capsys)
    assert code == 1
    codes = sorted(item["code"] for item in report["diagnostics"])  # type: ignore[union-attr, index]
    assert codes == ["action.E001", "action.E002"]


def test_action_and_field_hooks_unregistered(make_app: AppFactory, capsys: pytest.CaptureFixture[str]) -> None:
    entity = HOOKED_ENTITY.replace("hooks:", """  - {name: grade, type: integer, label: {zh-CN: 等级, en: Grade}, computed_by: check_tests.grade}
    actions:
      - {name: stamp, label: {zh-CN: 盖章, en: Stamp}, hook: check_tests.stamp}
    hooks:""")
    code, report = check_json(make_app({"entities/customer.yaml": entity}), capsys)
    assert code == 0
    messages = [item["message"] for item in report["diagnostics"]]  # type: ignore[union-attr, index]
    # Other tests of this process may have registered the entity's event hooks, so only these two are certain.
    assert 'entity customer, action stamp runs the hook "check_tests.stamp", which no code registers, so that step fails ' \
           "until one does" in messages
    assert any(message.startswith('field customer.grade, computed_by runs the hook "check_tests.grade"') for message in messages)


def test_broken_module_line_with_relative_folder(make_app: AppFactory, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app({"entities/customer.yaml": HOOKED_ENTITY})
    write_hooks(app, "late.py", """
        VALUE = 1


        raise RuntimeError("import-time failure")
    """)
    monkeypatch.chdir(app.parent)
    code, report = check_json(Path(app.name), capsys)
    assert code == 1
    (problem,) = report["diagnostics"]  # type: ignore[misc]
    assert (problem["code"], problem["line"]) == ("hook.E002", 4)


def test_unregistered_hook_suggests_close_name(make_app: AppFactory, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app({"entities/customer.yaml": HOOKED_ENTITY.replace("check_tests.normalize", "spelling_tests.normalise")})
    write_hooks(app, "spelling.py", """
        from runtime.hooks import hook


        @hook("spelling_tests.normalize")
        def normalize(context):
            return None
    """)
    # Hook names are registered once per process, so this test's names are its own.
    code = main(["check", str(app), "--lang", "en"])
    out = capsys.readouterr().out
    assert code == 0
    assert 'hint: Did you mean "spelling_tests.normalize"?' in out


def test_bad_provider_settings_are_errors(make_app: AppFactory, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app({"integrations/sms.yaml": """
        name: sms
        interface: sms
        provider: http
        settings: {timeout_seconds: abc, retries: -1, backoff_seconds: 0.5}
    """, "integrations/identity.yaml": """
        name: identity
        interface: identity_checks
        provider: sandbox
    """})
    code, report = check_json(app, capsys)
    assert code == 1
    found = sorted((item["code"], item["path"]) for item in report["diagnostics"])  # type: ignore[union-attr, index]
    assert found == [("integration.E001", "settings.retries"), ("integration.E001", "settings.timeout_seconds"),
                     ("integration.W001", "interface")]
