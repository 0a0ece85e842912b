"""A record's history as the History tab shows it: who, when, what, and each changed field old -> new."""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field
from typing import Any, Mapping

from metamodel import model as m
from metamodel.values import check_value
from runtime.history import FieldChange, HistoryEntry
from ui.web import i18n
from ui.web.display import ReferenceTitles, format_value, local_time
from ui.web.state import WebState

_ACTIONS = {
    "create": ("Created", "创建"),
    "update": ("Changed", "修改"),
    "delete": ("Deleted", "删除"),
    "restore": ("Restored", "恢复"),
    "purge": ("Purged", "彻底删除"),
    "flow_migrate": ("Moved to the current flow version", "迁移到流程的当前版本"),
}
#: Flow engine entries, logged as "<kind>:<transition>"; {} is the transition's label.
_FLOW_ACTIONS = {
    "sign": ("Signed “{}”", "签署“{}”"),
    "add_approver": ("Added an approver to “{}”", "为“{}”加签"),
    "sla_reminder": ("Time limit reminder for “{}”", "“{}”时限提醒"),
    "sla_escalation": ("“{}” overdue, escalated", "“{}”超时升级"),
}
#: Labels of the values the flow engine logs besides the state, by the key it logs them under.
_FLOW_CHANGES = {
    "on_behalf_of": ("Acting for", "代办对象"),
    "level": ("Approval level", "审批级别"),
    "signatures": ("Signatures", "签署进度"),
    "approver": ("Added approver", "加签人"),
    "escalated_to": ("Escalated to", "升级至"),
    "notified": ("Notified", "已通知"),
    "timed_out": ("Time limit", "时限"),
}
#: Actors that are no user: the runtime's own jobs and the command line.
_MACHINE_ACTORS = {
    "system": ("the system", "系统"),
    "cli": ("the command line", "命令行"),
}
#: Field types whose logged values are text (JSON keeps Decimals and dates as text) to read back first.
_PARSED_TYPES = frozenset({"money", "decimal", "percent", "date", "datetime"})


@dataclass(frozen=True)
class ChangeView:
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class EntryView:
    when: str
    who: str
    action: str
    reason: str
    changes: list[ChangeView]


@dataclass
class HistoryFormatter:
    state: WebState
    entity: m.Entity
    lang: str
    titles: ReferenceTitles
    _names: dict[str, str] = field(default_factory=dict)

    def entries(self, history: list[HistoryEntry]) -> list[EntryView]:
        return [
            EntryView(
                when=local_time(entry.at, self.lang, self._timezone()),
                who=self._who(entry.actor),
                action=self._action(entry),
                reason=entry.reason or "",
                changes=[self._change(change) for change in entry.changes],
            )
            for entry in history
        ]

    def _timezone(self) -> str:
        return str(self.state.model.app.settings.get("timezone") or "Asia/Shanghai")

    def _who(self, user_id: str | None) -> str:
        if not user_id:
            return i18n.pick(self.lang, *_MACHINE_ACTORS["system"])
        if user_id not in self._names:
            user = self.state.accounts.user(user_id)
            if user:
                self._names[user_id] = str(user["display_name"])
            else:
                en, zh = _MACHINE_ACTORS.get(user_id, (user_id, user_id))
                self._names[user_id] = i18n.pick(self.lang, en, zh)
        return self._names[user_id]

    def _action(self, entry: HistoryEntry) -> str:
        name = entry.transition
        if name is not None:
            return self._transition(name)
        kind, _, transition = entry.action.partition(":")
        if kind == "action" and transition:
            action = next((item for item in self.entity.actions if item.name == transition), None)
            return i18n.label(action.label, self.lang) if action is not None else transition
        if transition and kind in _FLOW_ACTIONS:
            en, zh = _FLOW_ACTIONS[kind]
            return i18n.pick(self.lang, en, zh).format(self._transition(transition))
        en, zh = _ACTIONS.get(entry.action, (entry.action, entry.action))
        return i18n.pick(self.lang, en, zh)

    def _transition(self, name: str) -> str:
        for flow in self.state.model.flows_for(self.entity.name):
            if name in flow.transitions:
                return i18n.label(flow.transitions[name].label, self.lang)
        return name

    def _change(self, change: FieldChange) -> ChangeView:
        if change.field is None and change.name in _FLOW_CHANGES:
            en, zh = _FLOW_CHANGES[change.name]
            return ChangeView(i18n.pick(self.lang, en, zh), self._flow_value(change.name, change.old),
                              self._flow_value(change.name, change.new))
        if change.field is None:
            label = i18n.pick(self.lang, "State", "状态") if change.name == "state" else change.name
            return ChangeView(label, self._state(change.old), self._state(change.new))
        spec = change.field
        return ChangeView(i18n.label(spec.label, self.lang), self.text(spec, change.old), self.text(spec, change.new))

    def _flow_value(self, name: str, value: Any) -> str:
        """Return a value the flow engine logged: users by name, levels and roles by label."""
        if value is None:
            return ""
        if name in ("on_behalf_of", "approver"):
            return self._who(str(value))
        if name == "timed_out":
            return i18n.pick(self.lang, "ran out", "已到期")
        if name == "notified" and isinstance(value, list):
            separator = ", " if self.lang == "en" else "、"
            return separator.join(self._who(str(user)) for user in value)
        if name == "escalated_to":
            role = self.state.model.permissions.roles.get(str(value))
            return i18n.label(role.label, self.lang) if role is not None else str(value)
        if name == "level":
            for flow in self.state.model.flows_for(self.entity.name):
                for transition in flow.transitions.values():
                    for level in transition.approval.steps() if transition.approval is not None else ():
                        if level.name == value:
                            return i18n.label(level.label, self.lang)
        return str(value)

    def _state(self, value: Any) -> str:
        if value is None:
            return ""
        for flow in self.state.model.flows_for(self.entity.name):
            if value in flow.states:
                return i18n.label(flow.states[value].label, self.lang)
        return str(value)

    def text(self, spec: m.Field, value: Any) -> str:
        """Return a logged value as text in the user's language."""
        if value is None or value == "" or value == []:
            return ""
        if spec.type == "reference":
            return self.titles.get(spec.entity or "", value).title if spec.entity else str(value)
        if spec.type == "multi_reference":
            return ", ".join(item.title for item in self.titles.many(spec.entity, list(value) if isinstance(value, list) else [value]))
        if spec.type == "child" and isinstance(value, list):
            return "; ".join(self._row(spec, row) for row in value if isinstance(row, Mapping))
        if spec.type in ("attachment", "attachments"):
            files: list[Any] = []
            if isinstance(value, Mapping):
                files = [value]
            elif isinstance(value, list):
                files = list(value)
            return ", ".join(str(item.get("filename") or "") for item in files if isinstance(item, Mapping))
        return format_value(spec, _read_back(spec, value), self.lang, self._timezone())

    def _row(self, spec: m.Field, row: Mapping[str, Any]) -> str:
        parts = (format_value(row_field, _read_back(row_field, row.get(row_field.name)), self.lang) for row_field in spec.fields)
        return ", ".join(part for part in parts if part)


def _read_back(spec: m.Field, value: Any) -> Any:
    """Turn a value the log keeps as text back into its type, so it is formatted like the record's own."""
    if not isinstance(value, str) or spec.type not in _PARSED_TYPES:
        return value
    loose = dataclasses.replace(spec, required=False, min=None, max=None)
    checked, problems = check_value(loose, value)
    if problems:
        return value
    if isinstance(checked, datetime.datetime) and checked.tzinfo is None:
        return checked.replace(tzinfo=datetime.timezone.utc)
    return checked
