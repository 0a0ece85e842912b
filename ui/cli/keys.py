"""`metadesk keys rotate DIR`: move every stored encrypted value to the current key.

With the default key file (METADESK_ENCRYPTION_KEYS unset), the command adds a freshly
generated current key to `keys.json` first. Keys given in the environment cannot be
changed from here, so the command explains how to add one and re-encrypts to whichever
key is listed first. Either way each token under an older key is decrypted and sealed
again under the current key, 500 rows per transaction. The keyed hashes beside the
tokens are left alone: the hashing key never rotates, so they stay valid.

An update only lands when the token is still the one that was read, so a value that a
running application changes meanwhile is never overwritten. The next run re-encrypts it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Callable

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Column, ColumnElement, Engine, Table, and_, func, inspect, not_, or_, select, update

from metamodel.diagnostics import language_from_environment
from runtime.app import Runtime
from runtime.audit import AuditLog
from runtime.crypto import (
    ENCRYPTION_KEYS_VARIABLE,
    HASH_KEY_VARIABLE,
    KEY_FILE_NAME,
    TOKEN_VERSION,
    DecryptionError,
    KeyRing,
    needs_rotation,
    reencrypt,
)
from runtime.database import WRITE_OPTION
from runtime.settings import Settings
from ui.cli.migrate import add_common_arguments, open_runtime, say

#: Rows read, re-encrypted and written back per transaction.
BATCH_SIZE = 500


@dataclass(frozen=True)
class Target:
    """One table holding encrypted values: its token columns with the context each was sealed with."""

    table: Table
    columns: tuple[tuple[str, str], ...]


@dataclass
class TableOutcome:
    tokens: int = 0
    #: Rows changed by someone else between reading and writing them.
    skipped: int = 0


class RotationFailed(Exception):
    def __init__(self, table: str, column: str, row_id: Any, error: DecryptionError) -> None:
        super().__init__(str(error))
        self.table = table
        self.column = column
        self.row_id = row_id
        self.error = error


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "keys",
        help="manage the encryption keys",
        description="Commands on the keys that encrypt fields marked `encrypted`.",
    )
    actions = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    rotate = actions.add_parser(
        "rotate",
        help="add a new current key and re-encrypt stored values with it",
        description=f"With keys in {KEY_FILE_NAME}, add a new current key to it. With keys in "
        f"{ENCRYPTION_KEYS_VARIABLE}, explain how to add one. Then re-encrypt every stored value "
        "that is not under the current key. A run that finds values left under an older key by an "
        "unfinished rotation completes that rotation instead of adding another key.",
    )
    add_common_arguments(rotate)
    rotate.set_defaults(handler=run_rotate)


def targets(runtime: Runtime) -> list[Target]:
    """List every table with encrypted columns: entity tables and their child tables."""
    found: list[Target] = []
    for name, entity in runtime.model.entities.items():
        tables = runtime.schema.entities[name]
        own = tuple(
            (field.name, f"{tables.table.name}.{field.name}")
            for field in entity.fields.values()
            if field.encrypted and field.type not in ("child", "multi_reference")
        )
        if own:
            found.append(Target(tables.table, own))
        for field_name, child in tables.children.items():
            child_columns = tuple(
                (row_field.name, f"{child.name}.{row_field.name}")
                for row_field in entity.fields[field_name].fields
                if row_field.encrypted
            )
            if child_columns:
                found.append(Target(child, child_columns))
    return found


def outdated(column: Column[Any], ring: KeyRing) -> ColumnElement[bool]:
    """Match a token column whose value is not under the ring's current key."""
    prefix = f"{TOKEN_VERSION}:{ring.current_key_id}:"
    return and_(column.is_not(None), not_(column.startswith(prefix, autoescape=True)))


def pending_rows(engine: Engine, target: Target, ring: KeyRing) -> int:
    table = target.table
    condition = or_(*(outdated(table.c[name], ring) for name, _ in target.columns))
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table).where(condition)).scalar_one())


def missing_columns(engine: Engine, found: list[Target]) -> list[str]:
    """Name the tables or columns the database lacks, which means it needs `metadesk migrate` first."""
    inspector = inspect(engine)
    missing: list[str] = []
    for target in found:
        name = target.table.name
        if not inspector.has_table(name):
            missing.append(name)
            continue
        present = {column["name"] for column in inspector.get_columns(name)}
        missing.extend(f"{name}.{column}" for column, _ in target.columns if column not in present)
    return missing


def rotate_table(engine: Engine, target: Target, ring: KeyRing, advance: Callable[[int], None]) -> TableOutcome:
    """Re-encrypt the outdated tokens of one table, BATCH_SIZE rows per transaction, in id order."""
    table = target.table
    identifier = table.c.id
    condition = or_(*(outdated(table.c[name], ring) for name, _ in target.columns))
    outcome = TableOutcome()
    last_id: Any = None
    while True:
        with engine.connect().execution_options(**{WRITE_OPTION: True}) as connection, connection.begin():
            query = select(identifier, *(table.c[name] for name, _ in target.columns)).where(condition)
            if last_id is not None:
                query = query.where(identifier > last_id)
            rows = connection.execute(query.order_by(identifier).limit(BATCH_SIZE)).mappings().all()
            if not rows:
                return outcome
            for row in rows:
                values: dict[str, str] = {}
                unchanged: list[ColumnElement[bool]] = []
                for name, context in target.columns:
                    token = row[name]
                    if token is None:
                        continue
                    try:
                        if not needs_rotation(ring, token):
                            continue
                        values[name] = reencrypt(ring, token, context=context)
                    except DecryptionError as error:
                        raise RotationFailed(table.name, name, row["id"], error) from None
                    unchanged.append(table.c[name] == token)
                if not values:
                    continue
                written = connection.execute(update(table).where(identifier == row["id"], *unchanged).values(**values))
                if written.rowcount == 1:
                    outcome.tokens += len(values)
                else:
                    outcome.skipped += 1
            last_id = rows[-1]["id"]
        advance(len(rows))


def progress_display(enabled: bool) -> AbstractContextManager[Progress | None]:
    if not enabled:
        return nullcontext(None)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )


def progress_callback(progress: Progress | None, name: str, total: int) -> Callable[[int], None]:
    """Return what to call with each batch's row count: a bar for the table, or nothing without a terminal."""
    if progress is None:
        return lambda count: None
    task = progress.add_task(name, total=total)

    def advance(count: int) -> None:
        progress.advance(task, count)

    return advance


def keys_from_environment() -> bool:
    # KeyRing.from_environment reads the variables whenever either is present, even empty.
    return os.environ.get(ENCRYPTION_KEYS_VARIABLE) is not None or os.environ.get(HASH_KEY_VARIABLE) is not None


def run_rotate(arguments: argparse.Namespace) -> int:
    lang = arguments.lang or language_from_environment()
    from_environment = keys_from_environment()
    if not from_environment:
        data_dir = Settings.from_environment().data_dir
        key_file = data_dir / KEY_FILE_NAME
        if not key_file.exists():
            # Opening the runtime would generate a fresh key file, which cannot decrypt anything stored.
            print(
                say(
                    lang,
                    f"There is no key file at {key_file}. If values were encrypted before, restore it from a backup; "
                    f"for a new application, run `metadesk migrate {arguments.directory}` first.",
                    f"找不到密钥文件 {key_file}。若之前已有加密数据，请从备份恢复该文件；"
                    f"若是新应用，请先运行 `metadesk migrate {arguments.directory}`。",
                )
            )
            return 1

    runtime = open_runtime(arguments.directory, lang)
    if runtime is None:
        return 1
    try:
        return rotate(runtime, lang, arguments.directory, from_environment)
    finally:
        runtime.close()


def rotate(runtime: Runtime, lang: str, directory: str, from_environment: bool) -> int:
    found = targets(runtime)
    missing = missing_columns(runtime.engine, found)
    if missing:
        print(
            say(
                lang,
                f"The database lacks {', '.join(missing)}; run `metadesk migrate {directory}` first. Nothing was changed.",
                f"数据库缺少 {', '.join(missing)}；请先运行 `metadesk migrate {directory}`。未做任何更改。",
            )
        )
        return 1

    ring = runtime.keys
    pending = {target.table.name: pending_rows(runtime.engine, target, ring) for target in found}
    if from_environment:
        explain_environment(ring, lang)
    elif any(pending.values()):
        # An earlier rotation stopped half way, so finish it: another key would only add work.
        print(
            say(
                lang,
                f"An earlier rotation to key {ring.current_key_id} has not finished; finishing it without adding a new key.",
                f"上一次轮换到密钥 {ring.current_key_id} 尚未完成；本次先完成它，不再新增密钥。",
            )
        )
    else:
        ring = ring.with_new_current_key()
        path = ring.save(runtime.settings.data_dir)
        print(
            say(
                lang,
                f"Added key {ring.current_key_id} as the current key in {path}; the older keys "
                f"({', '.join(ring.key_ids[1:])}) stay there to decrypt older values. Back this file up now.",
                f"已在 {path} 中新增当前密钥 {ring.current_key_id}；旧密钥（{'、'.join(ring.key_ids[1:])}）"
                "仍保留，用于解密旧数据。请立即备份该文件。",
            )
        )
        pending = {target.table.name: pending_rows(runtime.engine, target, ring) for target in found}

    outcomes: dict[str, TableOutcome] = {}
    try:
        with progress_display(sys.stdout.isatty()) as progress:
            for target in found:
                name = target.table.name
                outcomes[name] = rotate_table(runtime.engine, target, ring, progress_callback(progress, name, pending[name]))
    except RotationFailed as failure:
        print_summary(outcomes, ring, lang)
        print(
            say(
                lang,
                f"Stopped at {failure.table}.{failure.column}, row id {failure.row_id}: {failure.error}\n"
                "The rows before it are done; fix the key ring or that value, then run again.",
                f"在 {failure.table}.{failure.column}（行 id {failure.row_id}）处停止：{failure.error}\n"
                "此前的行已处理完毕；请修正密钥配置或该值后重新运行。",
            )
        )
        return 1

    print_summary(outcomes, ring, lang)
    record_rotation(runtime, ring, outcomes)
    if not from_environment:
        print(
            say(
                lang,
                "Restart running metadesk processes so that they encrypt new values with the new key.",
                "请重启正在运行的 metadesk 进程，使新数据使用新密钥加密。",
            )
        )
    return 0


def record_rotation(runtime: Runtime, ring: KeyRing, outcomes: dict[str, TableOutcome]) -> None:
    """Append the rotation to the audit log: the current key and the tokens re-encrypted per table."""
    changes = {"current_key": [None, ring.current_key_id], "tokens": [None, {name: item.tokens for name, item in outcomes.items()}]}
    with runtime.engine.connect().execution_options(**{WRITE_OPTION: True}) as connection:
        with connection.begin():
            AuditLog(runtime.schema).append(
                connection, at=datetime.datetime.now(datetime.timezone.utc), actor="cli", address=None,
                action="rotate_keys", entity=None, record_id=None, changes=changes,
            )


def explain_environment(ring: KeyRing, lang: str) -> None:
    print(
        say(
            lang,
            f"The keys come from {ENCRYPTION_KEYS_VARIABLE}, which this command cannot change. To rotate: generate a key "
            f"with `openssl rand -base64 32`, put it first in {ENCRYPTION_KEYS_VARIABLE} as `<new id>:<key>` and keep "
            f"the old entries after it, leave {HASH_KEY_VARIABLE} as it is, restart metadesk, then run this command "
            f"again. Current key: {ring.current_key_id}; re-encrypting stored values to it now.",
            f"密钥来自环境变量 {ENCRYPTION_KEYS_VARIABLE}，本命令无法修改。轮换步骤：用 `openssl rand -base64 32` "
            f"生成新密钥，以 `<新 id>:<密钥>` 的形式放在 {ENCRYPTION_KEYS_VARIABLE} 的最前面，旧密钥保留在其后，"
            f"{HASH_KEY_VARIABLE} 保持不变，重启 metadesk 后再次运行本命令。当前密钥：{ring.current_key_id}；"
            "现在把已存数据重新加密到该密钥。",
        )
    )


def print_summary(outcomes: dict[str, TableOutcome], ring: KeyRing, lang: str) -> None:
    total = sum(outcome.tokens for outcome in outcomes.values())
    skipped = sum(outcome.skipped for outcome in outcomes.values())
    if total == 0 and skipped == 0:
        print(
            say(
                lang,
                f"Re-encrypted 0 tokens: every stored value is already under key {ring.current_key_id}.",
                f"重新加密 0 个密文：所有已存数据都已使用密钥 {ring.current_key_id}。",
            )
        )
    elif total:
        print(say(lang, f"Re-encrypted {total} token(s) under key {ring.current_key_id}:", f"已用密钥 {ring.current_key_id} 重新加密 {total} 个密文："))
        for name, outcome in outcomes.items():
            if outcome.tokens:
                print(say(lang, f"  {name}: {outcome.tokens} token(s)", f"  {name}：{outcome.tokens} 个"))
    if skipped:
        print(
            say(
                lang,
                f"{skipped} row(s) changed while this ran and were left as written; run the command again to finish them.",
                f"有 {skipped} 行在处理期间被修改，已保留其新值；请再次运行本命令完成它们。",
            )
        )
