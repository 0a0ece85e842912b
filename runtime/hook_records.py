"""Running one hook inside an operation: its context, its calls into the runtime, and its failures.

`call_hook` looks the hook up, runs it with the operation's connection bound (so its record
calls join the operation's transaction) and turns every failure into a `ValidationFailed`
that names the hook and what it was doing. The user sees the hook's own message when it
raises `HookError`, and a general one, with the details in the log, for any other error.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy import Connection

from metamodel import model as m
from runtime.access import SYSTEM_ACTOR, Actor
from runtime.errors import FieldError, NotFound, PermissionDenied, RecordError, StaleVersion, ValidationFailed
from runtime.hook_organization import HookOrganization
from runtime.hooks import HookContext, HookError, HookNotRegistered, registry
from runtime.providers import ProviderUnavailable
from runtime.record_query import ListQuery, Page

if TYPE_CHECKING:
    from runtime.records import RecordService

logger = logging.getLogger(__name__)

#: The error path of a problem that concerns the whole record, not one field.
RECORD_PATH = "_record"


class HookRecords:
    """The record service under the acting user, as a hook calls it: every call is checked and audited."""

    def __init__(self, service: RecordService, actor: Actor) -> None:
        self._service = service
        self.actor = actor

    def as_system(self, purpose: str, *, org_unit: str | None = None) -> HookRecords:
        """Return the record service acting as the system, inside the same transaction.

        For a hook that checks a record against what its user may not see: an ID number
        masked for everyone, a blacklist, another unit's records. Reads and writes through it
        pass every permission, so hooks keep it to what they check. `purpose` is logged with the
        acting user each time a hook requests it, so every such use can be traced.

        Records created through it belong to `org_unit`, so that the data scopes of that unit's
        users reach them; without one they belong to no unit and only "all" scopes reach them.
        """
        logger.info("hook of %s reads as the system: %s", self.actor.id, purpose)
        actor = SYSTEM_ACTOR if org_unit is None else dataclasses.replace(SYSTEM_ACTOR, org_unit=org_unit)
        return HookRecords(self._service.system_view(), actor)

    @property
    def model(self) -> m.AppModel:
        """The application's model, for hooks that read labels, flows or choices."""
        return self._service.model

    def get(self, entity: str, record_id: int) -> dict[str, Any]:
        return self._service.get(self.actor, entity, record_id)

    def list(self, entity: str, query: ListQuery | None = None) -> Page:
        return self._service.list(self.actor, entity, query or ListQuery())

    def create(self, entity: str, values: Mapping[str, Any], *, reason: str | None = None) -> dict[str, Any]:
        return self._service.create(self.actor, entity, values, reason=reason)

    def update(self, entity: str, record_id: int, values: Mapping[str, Any], *, version: int,
               reason: str | None = None) -> dict[str, Any]:
        return self._service.update(self.actor, entity, record_id, values, version=version, reason=reason)

    def delete(self, entity: str, record_id: int, *, version: int, reason: str | None = None) -> None:
        self._service.delete(self.actor, entity, record_id, version=version, reason=reason)

    def transition(self, entity: str, record_id: int, name: str, *, version: int, comment: str | None = None) -> dict[str, Any]:
        return self._service.transition(self.actor, entity, record_id, name, version=version, comment=comment)

    def print_pdf(self, entity: str, record_id: int, template: str) -> bytes:
        """Print a record with a template of its entity, as the print screen would for this actor, and return the PDF.

        The print is checked (`print` and `read` grants, data scopes, the template's states) and
        audited like one from the screen, inside the operation's transaction.
        """
        from runtime.printing import RecordPrinting

        return RecordPrinting(self._service).print_record(self.actor, entity, record_id, template).pdf

    def attach(self, entity: str, record_id: int, field: str, data: bytes, *, filename: str, version: int,
               reason: str | None = None) -> dict[str, Any]:
        """Store a file and add it to a record's attachment field, as an upload would; return the record.

        The file is checked against the field's accepted types and size, and raises
        FileRejected when it does not fit.
        """
        from runtime.attachments import Attachments

        if self._service.files is None:
            raise RuntimeError("the record service has no file store, so hooks cannot attach files")
        return Attachments(self._service, self._service.files).attach(self.actor, entity, record_id, field, data, filename=filename,
                                                                      version=version, reason=reason)


def call_hook(
    service: RecordService, connection: Connection, name: str, context: HookContext, entity: m.Entity, *, doing: m.Label,
) -> Any:
    """Run hook `name` with `context` inside `connection`'s transaction and return what it returns.

    `doing` names the work the hook ran for ("saving", a transition's label) in the messages.
    """
    record_id = context.record.get("id")
    try:
        function = registry.get(name)
    except HookNotRegistered:
        logger.error("hook %s is not registered; %s %s stopped", name, entity.name, record_id)
        raise _failed(entity, RECORD_PATH, "hook.missing",
                      f"{doing.en} runs {name}, which is not installed, so nothing was saved; ask the administrator",
                      f"{doing.zh_cn}需要运行 {name}，但系统中没有安装它，因此未保存任何内容；请联系管理员") from None
    store = service.permission_store() if service.permission_store is not None else None
    organization = HookOrganization(service, store, context.actor, connection) if store is not None else None
    bound = HookContext(context.actor, context.entity, context.record, context.event, context.comment, context.extra,
                        HookRecords(service, context.actor), service.providers, organization)
    try:
        with service.within(connection):
            return function(bound)
    except HookError as stopped:
        if stopped.for_administrator:
            logger.error("hook %s on %s %s needs an administrator: %s", name, entity.name, record_id, stopped.en)
            raise _failed(entity, RECORD_PATH, "hook.setup", f"{doing.en} failed: a service it uses is not set up yet; "
                          "ask the administrator, who finds the missing setting in the log",
                          f"{doing.zh_cn}失败：所用的服务尚未配置；请联系管理员（缺少的配置项见系统日志）") from stopped
        logger.info("hook %s stopped %s %s: %s", name, entity.name, record_id, stopped.en)
        raise _failed(entity, stopped.field or RECORD_PATH, "hook.stopped", stopped.en, stopped.zh) from stopped
    except ProviderUnavailable as missing:
        logger.error("hook %s on %s %s: %s", name, entity.name, record_id, missing.en)
        raise _failed(entity, RECORD_PATH, "hook.provider", f"{doing.en} failed: {missing.en}",
                      f"{doing.zh_cn}失败：{missing.zh}") from missing
    except (ValidationFailed, PermissionDenied, NotFound, StaleVersion) as refused:
        logger.info("hook %s on %s %s made a call the runtime rejected: %s", name, entity.name, record_id, refused)
        raise _failed(entity, RECORD_PATH, "hook.rejected", f"{doing.en} failed in {name}: {_message(refused, 'en')}",
                      f"{doing.zh_cn}在 {name} 中失败：{_message(refused, 'zh-CN')}") from refused
    except Exception as error:
        logger.exception("hook %s failed on %s %s", name, entity.name, record_id)
        raise _failed(entity, RECORD_PATH, "hook.failed",
                      f"{doing.en} failed in {name}, so nothing was saved; ask the administrator, who finds the error in the log",
                      f"{doing.zh_cn}在 {name} 中出错，因此未保存任何内容；请联系管理员（错误详情见系统日志）") from error


def _message(error: RecordError, lang: str) -> str:
    """Return an error of the runtime as one line of text in `lang`."""
    if isinstance(error, ValidationFailed):
        lines: builtins.list[str] = []
        for path, items in error.errors.items():
            lines.extend(f"{path}: {item.message_en if lang == 'en' else item.message_zh}" for item in items)
        return "; ".join(lines)
    text = getattr(error, "message_en" if lang == "en" else "message_zh", None)
    return str(text or error)


def _failed(entity: m.Entity, path: str, code: str, en: str, zh: str) -> ValidationFailed:
    return ValidationFailed(entity.name, {path: [FieldError(code, en, zh)]})
