"""`metadesk flow`: commands on an application's flows, each in its own module.

- `flow simulate` (ui/cli/flow_simulate.py): which transitions a role may fire on a record, without a database.
- `flow versions` and `flow migrate` (ui/cli/flow_versions.py): the versions of each flow, and moving the
  records of an old version to the current one.
"""

from __future__ import annotations

from typing import Any

from ui.cli import flow_simulate, flow_versions


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "flow",
        help="simulate a flow on a record, list flow versions, move records to a flow's current version",
        description="Commands on the flows of an application.",
    )
    actions = parser.add_subparsers(dest="flow_command", metavar="ACTION", required=True)
    flow_simulate.register(actions)
    flow_versions.register(actions)
