"""Time loading and checking an application: configs/guarantee and a generated 50-entity app.

Run with `make bench` or `.venv/bin/python bench/bench_check.py [--entities N] [--runs N]`.
Each figure is the median and the best of several runs in one process, after one warm-up
run that fills the JSON Schema caches the way a long-running server would.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from bench_records import cpu_name
from metamodel import check_app

REPOSITORY = Path(__file__).resolve().parent.parent

FIELD_KINDS = [
    "    type: string\n    searchable: true\n    length: {max: 80}",
    "    type: money\n    min: 0",
    "    type: integer\n    min: 0\n    max: 1000",
    "    type: date",
    "    type: enum\n    choices:\n      - {value: open, label: {zh-CN: 开放, en: Open}}\n      - {value: closed, label: {zh-CN: 关闭, en: Closed}}",
    "    type: mobile\n    masked: true",
    "    type: text",
    "    type: boolean",
]


def write_app(root: Path, entities: int, fields: int) -> None:
    """Write an application with `entities` entities of `fields` fields, each with a form, plus flows and grants."""
    (root / "entities").mkdir(parents=True)
    (root / "forms").mkdir()
    (root / "flows").mkdir()
    (root / "permissions").mkdir()
    (root / "app.yaml").write_text("name: bench\nlabel: {zh-CN: 基准, en: Bench}\n", encoding="utf-8")

    grants = []
    for number in range(entities):
        name = f"entity_{number:03d}"
        lines = [f"name: {name}", f"label: {{zh-CN: 实体{number}, en: Entity {number}}}", "fields:"]
        for index in range(fields):
            lines.append(f"  - name: field_{index:02d}\n    label: {{zh-CN: 字段{index}, en: Field {index}}}")
            lines.append(FIELD_KINDS[index % len(FIELD_KINDS)])
        if number > 0:
            lines.append(f"  - name: parent\n    type: reference\n    entity: entity_{number - 1:03d}\n    label: {{zh-CN: 上级, en: Parent}}")
        lines.append("rules:\n  - name: positive\n    check: field_01 >= 0 and field_02 <= 1000\n    message: {zh-CN: 数值无效, en: Invalid value}")
        (root / "entities" / f"{name}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")

        form_fields = ", ".join(f"field_{index:02d}" for index in range(fields))
        (root / "forms" / f"{name}.yaml").write_text(
            f"name: {name}_form\nentity: {name}\nlabel: {{zh-CN: 表单, en: Form}}\nsections:\n"
            f"  - name: main\n    label: {{zh-CN: 主要, en: Main}}\n    fields: [{form_fields}]\n",
            encoding="utf-8",
        )
        if number % 5 == 0:
            (root / "flows" / f"{name}.yaml").write_text(
                f"name: {name}_flow\nentity: {name}\nlabel: {{zh-CN: 流程, en: Flow}}\nstates:\n"
                "  - {name: draft, label: {zh-CN: 草稿, en: Draft}, initial: true}\n"
                "  - {name: review, label: {zh-CN: 审核, en: Review}}\n"
                "  - {name: done, label: {zh-CN: 完成, en: Done}, final: true}\n"
                "transitions:\n"
                "  - {name: submit, label: {zh-CN: 提交, en: Submit}, from: draft, to: review, roles: [clerk], guard: field_01 > 0}\n"
                "  - {name: approve, label: {zh-CN: 批准, en: Approve}, from: review, to: done, roles: [manager]}\n",
                encoding="utf-8",
            )
        grants.append(f"  - {{role: clerk, entity: {name}, actions: [read, create, update], scope: own}}")
    (root / "permissions" / "roles.yaml").write_text(
        "roles:\n  - {name: clerk, label: {zh-CN: 文员, en: Clerk}}\n"
        "  - {name: manager, label: {zh-CN: 经理, en: Manager}, inherits: [clerk]}\n"
        "grants:\n" + "\n".join(grants) + "\n",
        encoding="utf-8",
    )


def time_check(root: Path, runs: int) -> tuple[float, float, int]:
    result = check_app(root)
    if result.errors:
        raise SystemExit(f"{root} has errors: {result.errors[0].as_text()}")
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        check_app(root)
        durations.append(time.perf_counter() - started)
    return statistics.median(durations), min(durations), result.files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=50, help="entities in the generated app (default: 50)")
    parser.add_argument("--fields", type=int, default=16, help="fields per generated entity (default: 16)")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per app (default: 10)")
    arguments = parser.parse_args()

    print(f"machine: {platform.machine()}, {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    median, best, files = time_check(REPOSITORY / "configs" / "guarantee", arguments.runs)
    print(f"configs/guarantee: {files} files, median {median * 1000:.1f} ms, best {best * 1000:.1f} ms")

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "bench"
        write_app(root, arguments.entities, arguments.fields)
        median, best, files = time_check(root, arguments.runs)
        print(
            f"generated app, {arguments.entities} entities x {arguments.fields} fields: {files} files, "
            f"median {median * 1000:.1f} ms, best {best * 1000:.1f} ms (target: under 500 ms)"
        )


if __name__ == "__main__":
    main()
