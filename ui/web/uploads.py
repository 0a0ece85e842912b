"""Files chosen in a form: stored when the form is submitted, and kept when the save fails.

A record service attaches files only to a stored record, so a form stores each upload in
the file store first (which checks its type and size) and attaches it once the record is
saved. When the save fails, the form comes back carrying each stored upload as a signed
token, so the user need not choose the files again. A token names the user, the entity
and the field it was uploaded for, and expires after PENDING_MAX_AGE seconds. A token that
does not match is ignored, so a user can attach only files they uploaded themselves.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, Mapping

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from metamodel import model as m
from runtime.errors import FieldError
from runtime.files import FileRejected, duplicate_file
from ui.web.state import actor_of, web

logger = logging.getLogger(__name__)

#: Suffix of the hidden inputs that carry the tokens of uploads not yet attached.
PENDING_SUFFIX = ".pending"
#: Seconds a pending upload's token stays valid: a working day to correct the form.
PENDING_MAX_AGE = 24 * 60 * 60
_SALT = "metadesk.pending-upload"


@dataclass(frozen=True)
class PendingFile:
    """An upload stored but not yet attached to the record."""

    token: str
    field: str
    sha256: str
    filename: str
    size: int


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(web(request).runtime.settings.signing_secret(), salt=_SALT)


def carried_uploads(request: Request, entity: m.Entity, form: FormData, fields: list[m.Field]) -> dict[str, list[PendingFile]]:
    """Return the uploads a resubmitted form carries for the given fields, each verified."""
    serializer = _serializer(request)
    user = actor_of(request).id
    carried: dict[str, list[PendingFile]] = {}
    for field in fields:
        for token in form.getlist(field.name + PENDING_SUFFIX):
            if not isinstance(token, str) or not token:
                continue
            try:
                data = serializer.loads(token, max_age=PENDING_MAX_AGE)
            except BadSignature:
                logger.info("ignored an invalid or expired upload token for %s.%s from %s", entity.name, field.name, user)
                continue
            if not isinstance(data, dict) or (data.get("user"), data.get("entity"), data.get("field")) != (user, entity.name, field.name):
                continue
            carried.setdefault(field.name, []).append(
                PendingFile(token, field.name, str(data["sha256"]), str(data["filename"]), int(data["size"]))
            )
    return carried


def store_uploads(
    request: Request, entity: m.Entity, form: FormData, fields: list[m.Field]
) -> tuple[dict[str, list[PendingFile]], dict[str, list[FieldError]]]:
    """Store the files chosen in the form for the given fields; return them as pending uploads, and the rejections."""
    files = web(request).runtime.files
    serializer = _serializer(request)
    user = actor_of(request).id
    stored: dict[str, list[PendingFile]] = {}
    errors: dict[str, list[FieldError]] = {}
    for field in fields:
        uploads = [item for item in form.getlist(field.name) if isinstance(item, UploadFile) and item.filename]
        if field.type == "attachment" and len(uploads) > 1:
            errors.setdefault(field.name, []).append(FieldError(
                "files", "This field accepts one file; choose only one.", "此项只能上传一个文件，请只选择一个。"))
            continue
        for upload in uploads:
            try:
                saved = files.put(upload.file, filename=upload.filename or "", field=field)
            except FileRejected as rejected:
                errors.setdefault(field.name, []).append(FieldError(rejected.code, rejected.message_en, rejected.message_zh))
                continue
            data = {"user": user, "entity": entity.name, "field": field.name, **dataclasses.asdict(saved)}
            token = str(serializer.dumps(data))
            stored.setdefault(field.name, []).append(PendingFile(token, field.name, saved.sha256, saved.filename, saved.size))
    return stored, errors


def without_duplicates(
    new: Mapping[str, list[PendingFile]], stored: Mapping[str, Any], carried: Mapping[str, list[PendingFile]],
    errors: dict[str, list[FieldError]],
) -> dict[str, list[PendingFile]]:
    """Drop new uploads whose content the field holds already, stored or chosen before, and add an error for each."""
    kept: dict[str, list[PendingFile]] = {}
    for name, items in new.items():
        present = stored.get(name)
        known = {str(item.get("sha256")): str(item.get("filename") or "")
                 for item in ([present] if isinstance(present, Mapping) else list(present or [])) if isinstance(item, Mapping)}
        known.update((item.sha256, item.filename) for item in carried.get(name, []))
        for item in items:
            if item.sha256 in known:
                rejected = duplicate_file(item.filename, known[item.sha256])
                errors.setdefault(name, []).append(FieldError(rejected.code, rejected.message_en, rejected.message_zh))
                continue
            known[item.sha256] = item.filename
            kept.setdefault(name, []).append(item)
    return kept


def merge_pending(*groups: Mapping[str, list[PendingFile]]) -> dict[str, list[PendingFile]]:
    """Join pending uploads by field, each file once."""
    merged: dict[str, list[PendingFile]] = {}
    for group in groups:
        for name, items in group.items():
            known = {item.sha256 for item in merged.get(name, [])}
            for item in items:
                if item.sha256 not in known:
                    merged.setdefault(name, []).append(item)
                    known.add(item.sha256)
    return merged


def attach_pending(
    request: Request, entity_name: str, record: Mapping[str, Any], pending: Mapping[str, list[PendingFile]], reason: str | None
) -> dict[str, Any]:
    """Attach pending uploads to a saved record, one after another; return the record as it ends up."""
    state = web(request)
    actor = actor_of(request)
    current = dict(record)
    for name, items in pending.items():
        for item in items:
            with state.runtime.files.open(item.sha256) as stream:
                current = state.attachments.attach(
                    actor, entity_name, int(current["id"]), name, stream,
                    filename=item.filename, version=int(current["version"]), reason=reason,
                )
    return current
