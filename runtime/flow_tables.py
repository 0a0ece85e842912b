"""The runtime's tables for flows: steps, approval decisions, added approvers, delegations, notifications and flow versions.

A step is one stay of a record in one state: it begins when a transition (or the record's
creation) moves the record there and ends when the next transition fires. Approval
decisions and added approvers belong to a step, so that a record that comes back to a
state after a return starts its approvals afresh.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import JSON, BigInteger, Column, Date, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text

#: The type of record ids, as in runtime.schema.
_ID = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class FlowTables:
    steps: Table
    decisions: Table
    approvers: Table
    delegations: Table
    notifications: Table
    #: Each definition a flow has had, which records started under it keep following (runtime/flow_versions.py).
    versions: Table


def flow_tables(metadata: MetaData, prefix: str, users: Table) -> FlowTables:
    steps = Table(
        prefix + "flow_step",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("entity", String(63), nullable=False),
        Column("record_id", BigInteger, nullable=False),
        Column("flow", String(63), nullable=False),
        Column("flow_version", String(64), nullable=True),
        Column("state", String(63), nullable=False),
        #: The transition that moved the record here, or None for the record's creation.
        Column("entered_by_transition", String(63), nullable=True),
        Column("entered_at", DateTime(timezone=True), nullable=False),
        #: The user who fired that transition, and the user they acted for under a delegation.
        Column("entered_by", String(64), nullable=True),
        Column("entered_for", String(64), nullable=True),
        Column("left_at", DateTime(timezone=True), nullable=True),
        #: Per approval transition, the names of the levels its routing table chose, fixed at the first decision.
        Column("levels", JSON, nullable=True),
        #: SLA timers of the step: when each transition's time runs out, and what has been done about it.
        Column("due", JSON, nullable=True),
        Index(None, "entity", "record_id", "left_at"),
    )
    decisions = Table(
        prefix + "flow_decision",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("step_id", _ID, ForeignKey(steps.c.id, ondelete="CASCADE"), nullable=False),
        Column("transition", String(63), nullable=False),
        Column("level", String(63), nullable=False),
        #: The approver whose signature this is, and who signed: the same user, or their delegate.
        Column("approver", String(64), nullable=False),
        Column("signed_by", String(64), nullable=False),
        Column("comment", Text, nullable=True),
        Column("decided_at", DateTime(timezone=True), nullable=False),
        Index(None, "step_id", "transition", "level", "approver", unique=True),
    )
    approvers = Table(
        prefix + "flow_approver",
        metadata,
        Column("step_id", _ID, ForeignKey(steps.c.id, ondelete="CASCADE"), primary_key=True),
        Column("transition", String(63), primary_key=True),
        Column("level", String(63), primary_key=True),
        Column("user_id", String(64), ForeignKey(users.c.id, ondelete="CASCADE"), primary_key=True),
        Column("added_by", String(64), nullable=False),
        Column("added_at", DateTime(timezone=True), nullable=False),
    )
    delegations = Table(
        prefix + "delegation",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("delegator", String(64), ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False, index=True),
        Column("delegate", String(64), ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False, index=True),
        #: The one role handed over, or None for every role the delegator holds.
        Column("role", String(63), nullable=True),
        Column("starts_on", Date, nullable=False),
        Column("ends_on", Date, nullable=False),
        Column("reason", Text, nullable=True),
        Column("created_by", String(64), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("revoked_at", DateTime(timezone=True), nullable=True),
    )
    notifications = Table(
        prefix + "notification",
        metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("user_id", String(64), ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False),
        #: What it is about, such as sla_reminder or sla_escalation.
        Column("kind", String(63), nullable=False),
        Column("entity", String(63), nullable=True),
        Column("record_id", BigInteger, nullable=True),
        Column("message_en", Text, nullable=False),
        Column("message_zh", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("read_at", DateTime(timezone=True), nullable=True),
        Index(None, "user_id", "read_at"),
    )
    versions = Table(
        prefix + "flow_version",
        metadata,
        Column("flow", String(63), primary_key=True),
        #: SHA-256 of the flow's definition without its labels (runtime.flow_versions.version_id).
        Column("version_id", String(64), primary_key=True),
        #: 1, 2, 3... in the order the versions were first seen; shown as v1, v2, v3.
        Column("number", Integer, nullable=False),
        #: The flow's YAML document as canonical JSON, from which the version is built again.
        Column("definition", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Index(None, "flow", "number", unique=True),
    )
    return FlowTables(steps, decisions, approvers, delegations, notifications, versions)
