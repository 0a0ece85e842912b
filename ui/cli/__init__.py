"""The `metadesk` command. Each subcommand lives in its own module with a `register` function."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ui.cli import audit, check, keys, migrate

SUBCOMMANDS = (check, migrate, audit, keys)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metadesk",
        description="Build and run back-office applications declared in YAML.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    result: int = arguments.handler(arguments)
    return result


if __name__ == "__main__":
    sys.exit(main())
