"""The `metadesk` command. Each subcommand lives in its own module with a `register` function."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata
from typing import Sequence

from sqlalchemy.exc import OperationalError

from metamodel.diagnostics import language_from_environment
from runtime.database import DatabaseUrlError
from runtime.settings import SettingError
from ui.cli import audit, callbacks, catalogs, check, flow, keys, migrate, perm, seed, serve, token, worker

SUBCOMMANDS = (check, migrate, catalogs, seed, serve, worker, audit, keys, perm, flow, token, callbacks)


def _version() -> str:
    try:
        return metadata.version("metadesk")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metadesk",
        description="Build and run back-office applications declared in YAML.",
    )
    parser.add_argument("--version", action="version", version=f"metadesk {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    lang = getattr(arguments, "lang", None) or language_from_environment()
    try:
        result: int = arguments.handler(arguments)
    except BrokenPipeError:
        # The reader of our output went away (`| head`): stop quietly, as other commands do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except SettingError as error:
        print(_say(lang, f"Error: {error.en}.", f"错误：{error.zh}。"), file=sys.stderr)
        return 1
    except DatabaseUrlError as error:
        print(_say(lang, f"Error: {error}. Set METADESK_DATABASE_URL accordingly.",
                   f"错误：{error}。请相应地设置 METADESK_DATABASE_URL。"), file=sys.stderr)
        return 1
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        print(_say(lang, f"Error: the database cannot be used: {reason}. Check METADESK_DATABASE_URL, that the "
                         "server runs, and that the database exists.",
                   f"错误：无法使用数据库：{reason}。请检查 METADESK_DATABASE_URL、数据库服务是否运行、数据库是否已创建。"),
              file=sys.stderr)
        return 1
    except OSError as error:
        where = error.filename or os.environ.get("METADESK_DATA_DIR") or "data"
        print(_say(lang, f"Error: {error.strerror or error} ({where}). Set METADESK_DATA_DIR to a folder this user can write.",
                   f"错误：{error.strerror or error}（{where}）。请把 METADESK_DATA_DIR 设为当前用户可写的文件夹。"),
              file=sys.stderr)
        return 1
    return result


def _say(lang: str, en: str, zh: str) -> str:
    return en if lang == "en" else zh


if __name__ == "__main__":
    sys.exit(main())
