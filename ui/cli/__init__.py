"""The `metadesk` command. Each subcommand lives in its own module with a `register` function."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata
from typing import Sequence

from ui.cli import audit, catalogs, check, keys, migrate

SUBCOMMANDS = (check, migrate, catalogs, audit, keys)


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
    try:
        result: int = arguments.handler(arguments)
    except BrokenPipeError:
        # The reader of our output went away (`| head`): stop quietly, as other commands do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
