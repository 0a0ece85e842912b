"""`metadesk flow simulate` as users run it: the report in both languages, record files, and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPOSITORY, AppFactory

GUARANTEE = "configs/guarantee"
APPROVALS = "tests/apps/approvals"
CHINESE = {"LANG": "zh_CN.UTF-8", "LC_ALL": "", "LC_MESSAGES": "", "METADESK_LANG": ""}

RISK_REVIEW = """\
state: risk_review
loan_amount: 250000
org_unit: beijing_credit
customer: {blacklisted: false}
product: {flow: standard}
"""


def run_flow(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed `metadesk` script when it exists, else the same entry point through -m."""
    script = Path(sys.executable).with_name("metadesk")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "ui.cli"]
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        command + ["flow", *arguments], capture_output=True, text=True, env=environment, cwd=REPOSITORY, timeout=60
    )


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_report_in_english(tmp_path: Path) -> None:
    record = write(tmp_path, "loan.yaml", RISK_REVIEW)

    completed = run_flow("simulate", GUARANTEE, "loan_standard", "--record", record, "--as", "risk_officer",
                         "--unit", "beijing_branch", "--lang", "en")

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    lines = completed.stdout.splitlines()
    assert lines[:4] == [
        "Flow: loan_standard (Standard approval) of loan_application (Loan application)",
        "State: risk_review (Risk review)",
        "Role: risk_officer (Risk officer), held in beijing_branch (Beijing branch)",
        "Open transitions (3):",
    ]
    assert "  refer_to_committee (Refer to committee) → committee_review (Committee review)" in lines
    assert "      · a comment is required" in lines
    assert "Closed transitions (16):" in lines
    assert ("      ✗ the guard does not hold: loan_amount <= 200000 and not customer.blacklisted, "
            "with loan_amount = 250000, customer.blacklisted = false") in lines
    assert "  Not from “Risk review” (15):" in lines
    assert "    cancel (Cancel): from draft (Draft), submitted (Submitted), returned (Returned)" in lines


def test_report_in_chinese_by_default(tmp_path: Path) -> None:
    record = write(tmp_path, "loan.yaml", RISK_REVIEW)

    completed = run_flow("simulate", GUARANTEE, "loan_standard", "--record", record, "--as", "credit_officer",
                         "--unit", "shanghai_branch", env=CHINESE)

    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[2] == "角色：credit_officer（信审专员），所在机构 shanghai_branch（上海分公司）"
    assert "可执行的流转（0 个）：" in lines
    assert "  （无）" in lines
    assert ("      ✗ 记录不在角色 credit_officer 执行 return_to_dealer 的数据范围内："
            "数据范围 本机构及下级（credit_officer）：beijing_credit 不是 shanghai_branch 或其下级机构") in lines
    assert "    submit（提交申请）：从 draft（草稿）出发" in lines


def test_json_record_with_notes(tmp_path: Path) -> None:
    record = write(tmp_path, "expense.json", '{"state": "review", "amount": "20000", "grade": "B", "procedure": "levels",\n'
                                              ' "flagged": true}\n')

    completed = run_flow("simulate", APPROVALS, "expense_levels", "--record", record, "--as", "manager", "--lang", "en")

    assert completed.returncode == 0, completed.stderr
    assert ("Note: the automatic transition auto_reject would fire by itself now, so the record would move to “Rejected” "
            "before anyone acts") in completed.stdout
    assert "      ✗ the guard does not hold: not flagged, with flagged = true" in completed.stdout
    assert "      · approval (sequential levels): the levels that apply by routing rule 3" in completed.stdout


def test_help_documents_record_format() -> None:
    completed = run_flow("simulate", "--help")

    assert completed.returncode == 0
    assert "--record FILE" in completed.stdout
    assert "--as ROLE" in completed.stdout
    assert "customer: {blacklisted: false}" in completed.stdout
    assert "default: the top of the org tree" in " ".join(completed.stdout.split())


# Bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("arguments", "english", "chinese"), [
    (("nope", "--as", "clerk"), "Error: unknown flow 'nope'; use one of: expense_all, expense_levels, expense_quorum, expense_ratio, "
     "expense_single", "错误：未知的流程 'nope'；请使用：expense_all, expense_levels"),
    (("expense_levels", "--as", "boss"), "Error: unknown role 'boss'; use one of: clerk, manager, director, member, chair, admin",
     "错误：未知的角色 'boss'；请使用：clerk, manager"),
    (("expense_levels", "--as", "clerk", "--unit", "north"), "Error: unknown org unit 'north'; use one of: company, east, west",
     "错误：未知的组织机构 'north'；请使用：company, east, west"),
], ids=["flow", "role", "unit"])
def test_unknown_names_exit_one(tmp_path: Path, arguments: tuple[str, ...], english: str, chinese: str) -> None:
    record = write(tmp_path, "expense.yaml", "state: draft\n")
    flow, *rest = arguments

    for lang, expected in (("en", english), ("zh-CN", chinese)):
        completed = run_flow("simulate", APPROVALS, flow, "--record", record, *rest, "--lang", lang)
        assert completed.returncode == 1
        assert completed.stdout == ""
        assert completed.stderr.startswith(expected), completed.stderr


def test_record_problems_with_lines(tmp_path: Path) -> None:
    record = write(tmp_path, "expense.yaml", "title: Taxi\nstate: nope\namont: 1\namount: abc\n")

    english = run_flow("simulate", APPROVALS, "expense_levels", "--record", record, "--as", "clerk", "--lang", "en")
    chinese = run_flow("simulate", APPROVALS, "expense_levels", "--record", record, "--as", "clerk", "--lang", "zh-CN")

    assert english.returncode == chinese.returncode == 1
    assert english.stderr.splitlines() == [
        f"Error: {record}:2:8: state: flow expense_levels has no state 'nope'; use one of: draft, review, approved, rejected",
        f"Error: {record}:3:1: amont: Expense claim has no field 'amont'; did you mean 'amount'?",
        f"Error: {record}:4:9: amount (Amount): This is not a number; enter digits with an optional decimal point, such as 1,234.50.",
    ]
    assert chinese.stderr.splitlines()[0] == (f"错误：{record}:2:8: state：流程 expense_levels 没有状态 'nope'；"
                                              "请使用：draft, review, approved, rejected")


@pytest.mark.parametrize(("name", "text", "english", "chinese"), [
    ("broken.yaml", "state: [draft\n", ":1:8: yaml.E001 invalid YAML: did not find expected ',' or ']'", ":1:8: yaml.E001 YAML 语法错误"),
    ("broken.json", '{"state": "draft",\n "amount": }\n', ":2:12: invalid JSON: Expecting value", ":2:12: JSON 无效：Expecting value"),
    ("list.yaml", "- draft\n", ":1:1: the record must be a mapping of field names to values", ":1:1: 记录必须是字段名到值的映射"),
], ids=["yaml", "json", "not-a-mapping"])
def test_unreadable_record_file(tmp_path: Path, name: str, text: str, english: str, chinese: str) -> None:
    record = write(tmp_path, name, text)

    for lang, expected, prefix in (("en", english, "Error: "), ("zh-CN", chinese, "错误：")):
        completed = run_flow("simulate", APPROVALS, "expense_levels", "--record", record, "--as", "clerk", "--lang", lang)
        assert completed.returncode == 1
        assert completed.stderr.startswith(f"{prefix}{record}{expected}"), completed.stderr


def test_missing_record_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "none.yaml")

    completed = run_flow("simulate", APPROVALS, "expense_levels", "--record", missing, "--as", "clerk", "--lang", "en")

    assert completed.returncode == 1
    assert completed.stderr == f"Error: {missing}: no such file\n"


def test_broken_application_exit_one(make_app: AppFactory, tmp_path: Path) -> None:
    root = make_app({"entities/item.yaml": "name: item\nname: again\n"})
    record = write(tmp_path, "item.yaml", "state: draft\n")

    completed = run_flow("simulate", str(root), "anything", "--record", record, "--as", "clerk", "--lang", "en")

    assert completed.returncode == 1
    assert "yaml.E005 duplicate key \"name\"" in completed.stderr
    assert completed.stderr.rstrip().endswith("1 error(s) in the application; fix them and run again.")
