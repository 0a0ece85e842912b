"""`metadesk flow simulate DIR FLOW --record FILE --as ROLE`: which transitions a role may fire on a record, and why not the others.

The command needs no database: it reads the application's YAML and the record file, and
runs runtime/flow_simulation.py. It prints the open transitions with what they still need
(a comment, an approval), then the closed ones with every reason. It exits 0 after a
simulation and 1, with the problem on stderr, for an unknown flow, role, unit or state,
or a record file that cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Mapping

from metamodel import check_app
from metamodel import model as m
from metamodel.diagnostics import language_from_environment
from metamodel.yamlsource import Document, read_document
from runtime.flow_simulation import Simulation, SimulationError, TransitionCheck, simulate
from runtime.simulated_record import Problem
from ui.cli.migrate import add_common_arguments, say

RECORD_FORMAT = """\
The record file, YAML or JSON, gives the record's state and its field values by name:

  state: review                   # required: a state of FLOW
  amount: 12000.50
  grade: B
  customer: {blacklisted: false}  # a reference: the referenced record's fields,
                                  # so that a guard can read customer.blacklisted
  attachments: [quote.pdf]        # a required document is given by file name
  org_unit: east                  # optional; default: the unit of --unit
  created_by: someone             # optional; default: the simulated user

Fields left out take their default and computed fields are computed, unless given.
A reference given as an id has no fields, so expressions read it as empty. Only the
YAML's grants are read: grants that admins added in the database, delegations and
hooks are not simulated.
"""


class RecordFileError(Exception):
    """Raised when the record file cannot be read; the message names the file and, where known, the line."""

    def __init__(self, en: str, zh: str) -> None:
        self.en = en
        self.zh = zh
        super().__init__(en)


def register(actions: Any) -> None:
    parser = actions.add_parser(
        "simulate",
        help="list the transitions a role may fire on a record, and why the others are closed",
        description="Simulate a flow on a record given in a file, for a user holding ROLE in UNIT, without a database. "
        "Prints the open transitions and, for each closed one, every reason: not from this state, automatic (and "
        "whether it would fire by itself now), no grant, outside the data scope, a required field missing, a guard "
        "that does not hold (with the values it reads), or an approval the role may not sign.",
        epilog=RECORD_FORMAT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser)
    parser.add_argument("flow", metavar="FLOW", help="the flow's name")
    parser.add_argument("--record", required=True, metavar="FILE", help="the record: a .yaml, .yml or .json file (format below)")
    parser.add_argument("--as", dest="role", required=True, metavar="ROLE", help="the role the simulated user holds")
    parser.add_argument("--unit", metavar="UNIT", help="the org unit where the role is held (default: the top of the org tree)")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    lang = arguments.lang or language_from_environment()
    result = check_app(arguments.directory)
    if result.model is None:
        for item in result.diagnostics:
            print(item.as_text(lang), file=sys.stderr)
        print(say(lang, f"{len(result.errors)} error(s) in the application; fix them and run again.",
                  f"应用配置有 {len(result.errors)} 个错误；请修正后重新运行。"), file=sys.stderr)
        return 1

    try:
        record, document = read_record(Path(arguments.record))
    except RecordFileError as error:
        print(say(lang, f"Error: {error.en}", f"错误：{error.zh}"), file=sys.stderr)
        return 1
    try:
        simulation = simulate(result.model, arguments.flow, record, arguments.role, arguments.unit)
    except SimulationError as error:
        for _, message in sorted(locate(problem, arguments.record, document, lang) for problem in error.problems):
            print(say(lang, "Error: ", "错误：") + message, file=sys.stderr)
        return 1
    for line in simulation_lines(result.model, simulation, lang):
        print(line)
    return 0


def read_record(path: Path) -> tuple[Mapping[str, Any], Document | None]:
    """Read a record file; return its values and, for locating problems, its document. Raise RecordFileError."""
    shown = str(path)
    if not path.is_file():
        raise RecordFileError(f"{shown}: no such file", f"{shown}: 文件不存在")
    document: Document | None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise RecordFileError(f"{shown}: not UTF-8 text; save it as UTF-8", f"{shown}: 不是 UTF-8 文本；请以 UTF-8 保存") from None
        except json.JSONDecodeError as error:
            raise RecordFileError(f"{shown}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}",
                                  f"{shown}:{error.lineno}:{error.colno}: JSON 无效：{error.msg}") from None
        # A JSON file is almost always valid YAML too, so the YAML reader gives the position of each value for
        # the messages. Where it cannot read the file, the messages name the file without a line.
        document, _ = read_document(path, shown)
    else:
        document, problems = read_document(path, shown)
        errors = [problem for problem in problems if problem.severity == "error"]
        if document is None or errors:
            raise RecordFileError("\n".join(problem.as_text("en") for problem in errors),
                                  "\n".join(problem.as_text("zh-CN") for problem in errors))
        data = document.data
    if not isinstance(data, dict):
        raise RecordFileError(f"{shown}:1:1: the record must be a mapping of field names to values, such as `state: draft`",
                              f"{shown}:1:1: 记录必须是字段名到值的映射，例如 `state: draft`")
    return data, document


def locate(problem: Problem, file: str, document: Document | None, lang: str) -> tuple[tuple[int, int], str]:
    """Return a problem's line and column in the record file, and its message prefixed with them where known."""
    if problem.path is None:
        return (0, 0), problem.message(lang)
    if document is None or not problem.path:
        return (0, 0), f"{file}: {problem.message(lang)}"
    line, column = document.key_position(problem.path) if problem.at_key else document.position(problem.path)
    return (line, column), f"{file}:{line}:{column}: {problem.message(lang)}"


def simulation_lines(model: m.AppModel, simulation: Simulation, lang: str) -> list[str]:
    """Return the report of a simulation: the record and role, the notes, the open transitions, then the closed ones."""
    flow, entity, state, role = simulation.flow, simulation.entity, simulation.state, simulation.role
    final = say(lang, ", a final state", "，终止状态") if state.final else ""
    declared = model.permissions.org_units.get(simulation.unit or "")
    held_in = say(lang, "every unit", "所有机构")
    if declared is not None:
        held_in = say(lang, f"{declared.name} ({declared.label.en})", f"{declared.name}（{declared.label.zh_cn}）")
    lines = [
        say(lang, f"Flow: {flow.name} ({flow.label.en}) of {entity.name} ({entity.label.en})",
            f"流程：{flow.name}（{flow.label.zh_cn}），实体 {entity.name}（{entity.label.zh_cn}）"),
        say(lang, f"State: {state.name} ({state.label.en}{final})", f"状态：{state.name}（{state.label.zh_cn}{final}）"),
        say(lang, f"Role: {role.name} ({role.label.en}), held in {held_in}", f"角色：{role.name}（{role.label.zh_cn}），所在机构 {held_in}"),
    ]
    lines += [say(lang, "Note: ", "注意：") + note.text(lang) for note in simulation.notes]

    opened = simulation.open
    lines.append(say(lang, f"Open transitions ({len(opened)}):", f"可执行的流转（{len(opened)} 个）："))
    lines += [line for check in opened for line in _transition_lines(simulation, check, lang)] or [say(lang, "  (none)", "  （无）")]

    # Transitions from other states are listed last, one line each: they are most of a long flow.
    elsewhere = [check for check in simulation.closed if check.reasons and check.reasons[0].kind == "state"]
    in_state = [check for check in simulation.closed if check not in elsewhere]
    count = len(in_state) + len(elsewhere)
    lines.append(say(lang, f"Closed transitions ({count}):", f"不可执行的流转（{count} 个）："))
    lines += [line for check in in_state for line in _transition_lines(simulation, check, lang)]
    if elsewhere:
        lines.append(say(lang, f"  Not from “{state.label.en}” ({len(elsewhere)}):", f"  不能在“{state.label.zh_cn}”状态执行（{len(elsewhere)} 个）："))
        lines += [_elsewhere_line(simulation, check.transition, lang) for check in elsewhere]
    if not count:
        lines.append(say(lang, "  (none)", "  （无）"))
    return lines


def _transition_lines(simulation: Simulation, check: TransitionCheck, lang: str) -> list[str]:
    transition = check.transition
    lines = [say(lang, f"  {transition.name} ({transition.label.en}) → {_state_text(simulation, transition.target, lang)}",
                 f"  {transition.name}（{transition.label.zh_cn}）→ {_state_text(simulation, transition.target, lang)}")]
    for reason in check.reasons:
        mark = "✗" if reason.blocking else "·"
        lines.append(f"      {mark} {reason.text(lang)}")
    return lines


def _elsewhere_line(simulation: Simulation, transition: m.Transition, lang: str) -> str:
    sources = say(lang, ", ", "、").join(_state_text(simulation, source, lang) for source in transition.sources)
    return say(lang, f"    {transition.name} ({transition.label.en}): from {sources}",
               f"    {transition.name}（{transition.label.zh_cn}）：从 {sources}出发")


def _state_text(simulation: Simulation, name: str, lang: str) -> str:
    state = simulation.flow.states.get(name)
    if state is None:
        return name
    return say(lang, f"{name} ({state.label.en})", f"{name}（{state.label.zh_cn}）")
