"""Content-addressed storage for uploaded attachments.

`FileStore.put` checks an upload against its attachment field (`accept`, `max_size_mb`),
detects the real file type from the bytes rather than the name, and stores the bytes once
under `root/ab/cd/<sha256>`. The caller keeps the returned `StoredFile`, whose SHA-256 is
both the file id and its checksum, with the record. Permission checks and HTTP serving
belong to other layers: this module only stores, checks and opens files.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import BinaryIO, Iterator, Literal

from metamodel.model import Field
from runtime.file_types import (
    TEXT_EXTENSIONS,
    ZIP_CONTAINERS,
    ZIP_MEDIA_TYPE,
    DetectedType,
    declared_extension,
    detect_type,
    normalize_extension,
    sanitize_filename,
)

logger = logging.getLogger(__name__)

#: Upload limit for an attachment field that declares no `max_size_mb`.
DEFAULT_MAX_SIZE_MB = Decimal(20)
#: Bytes in one megabyte (MB), as `max_size_mb` and the messages count it.
BYTES_PER_MB = 1024 * 1024
#: Extensions accepted by an attachment field that declares no `accept` list.
DEFAULT_ACCEPT: tuple[str, ...] = (
    "pdf",
    "jpg",
    "png",
    "gif",
    "webp",
    "bmp",
    "tif",
    "heic",
    "doc",
    "docx",
    "xls",
    "xlsx",
    "ppt",
    "pptx",
    "odt",
    "ods",
    "odp",
    "zip",
    "txt",
    "csv",
)
#: Bytes read and written per step while streaming an upload.
CHUNK_SIZE = 64 * 1024
#: Age in seconds after which a temporary upload file counts as left behind by a crash.
STALE_UPLOAD_AGE = 24 * 60 * 60

RejectionCode = Literal["too_large", "type_not_accepted", "type_mismatch", "unknown_type", "empty", "duplicate"]

#: Folder under the root for uploads still being written. It is on the same file system as the
#: stored files, so os.replace from it is atomic.
_INCOMING = ".incoming"
_TEMP_PREFIX = "upload-"
_TEMP_SUFFIX = ".part"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class InvalidFileId(ValueError):
    """A file id that is not a SHA-256 digest in 64 lowercase hexadecimal characters."""


class FileRejected(ValueError):
    """An upload that fails its attachment field's checks, with messages for the uploader."""

    def __init__(self, code: RejectionCode, filename: str, message_en: str, message_zh: str) -> None:
        super().__init__(message_en)
        self.code: RejectionCode = code
        #: The sanitized name of the rejected file.
        self.filename = filename
        self.message_en = message_en
        #: The same message in Simplified Chinese.
        self.message_zh = message_zh

    def message(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message_zh


@dataclass(frozen=True)
class StoredFile:
    """A stored upload: what a record keeps to find, check and serve the file."""

    #: Hex SHA-256 of the content, which is both the file id and its checksum.
    sha256: str
    #: Size in bytes.
    size: int
    #: Media type detected from the content, with a charset parameter for text.
    media_type: str
    #: Extension of the detected type, without the dot: "jpg" for JPEG, "tif" for TIFF.
    extension: str
    #: Original file name without folders, NFC-normalized, at most 255 characters.
    filename: str


class FileStore:
    """Uploaded files under `root`, each stored once at `root/ab/cd/<sha256>`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def put(self, data: bytes | BinaryIO, *, filename: str, field: Field) -> StoredFile:
        """Check an upload against `field` and store it, unless the same content is stored already.

        Raises `FileRejected` when the file is empty, larger than the field's limit, of a type
        that its name or the field does not allow, or of a type that cannot be recognized.
        A stream is read in chunks and reading stops as soon as the size limit is passed.
        The temporary file is removed on every exception, so only a killed process leaves one
        behind for `remove_stale_uploads`.
        """
        name = sanitize_filename(filename)
        limit = _size_limit(field)
        if isinstance(data, (bytes, bytearray, memoryview)):
            if len(data) == 0:
                raise _empty(name)
            if len(data) > limit:
                raise _too_large(name, field, len(data))
            chunks = _chunks_of_bytes(bytes(data))
        else:
            chunks = _chunks_of_stream(data)

        incoming = self.root / _INCOMING
        incoming.mkdir(parents=True, exist_ok=True)
        descriptor, temp_name = tempfile.mkstemp(dir=incoming, prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX)
        temp = Path(temp_name)
        try:
            with os.fdopen(descriptor, "wb") as output:
                sha256, size = _write_chunks(output, chunks, limit, name, field)
            if size == 0:
                raise _empty(name)
            detected = _check_type(temp, name, field)
            self._commit(temp, sha256, size)
        except BaseException:
            _remove_quietly(temp)
            raise

        return StoredFile(
            sha256=sha256,
            size=size,
            media_type=detected.media_type,
            extension=detected.extension,
            filename=name or f"unnamed.{detected.extension}",
        )

    def path_of(self, sha256: str) -> Path:
        """Return where the file with this id is stored. Raises `InvalidFileId` for a malformed id."""
        if not isinstance(sha256, str) or _SHA256_HEX.fullmatch(sha256) is None:
            shown_id = repr(sha256)
            if len(shown_id) > 80:
                shown_id = shown_id[:77] + "..."
            raise InvalidFileId(
                f"Invalid file id {shown_id}: expected a SHA-256 digest of 64 lowercase hexadecimal characters."
            )
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        """Open a stored file for reading. Raises FileNotFoundError if it is not stored."""
        return self.path_of(sha256).open("rb")

    def verify(self, sha256: str) -> bool:
        """Recompute the SHA-256 of a stored file and compare it with its id.

        Returns False when the bytes on disk have changed. Raises FileNotFoundError if the file
        is not stored.
        """
        digest = hashlib.sha256()
        with self.open(sha256) as stream:
            for chunk in _chunks_of_stream(stream):
                digest.update(chunk)
        return digest.hexdigest() == sha256

    def remove_stale_uploads(self, older_than: float = STALE_UPLOAD_AGE) -> int:
        """Delete temporary uploads older than `older_than` seconds, and return how many were deleted.

        `put` removes its temporary file on every exception, so only a process killed while
        writing leaves one behind.
        """
        incoming = self.root / _INCOMING
        if not incoming.is_dir():
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for path in incoming.glob(f"{_TEMP_PREFIX}*{_TEMP_SUFFIX}"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def _commit(self, temp: Path, sha256: str, size: int) -> None:
        """Move a checked temporary file to its final path, or drop it if that content is stored."""
        final = self.path_of(sha256)
        try:
            existing_size = final.stat().st_size
        except FileNotFoundError:
            existing_size = None
        if existing_size == size:
            temp.unlink()
            logger.debug("File %s is stored already, so the existing copy was kept", sha256)
            return
        if existing_size is not None:
            logger.warning(
                "Stored file %s has %d bytes instead of %d, so the new upload replaces it",
                sha256,
                existing_size,
                size,
            )

        # Stored files are read-only, because their name is the hash of their content.
        os.chmod(temp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        final.parent.mkdir(parents=True, exist_ok=True)
        # os.replace is atomic on one file system, so a reader sees either no file or a whole
        # one, and two uploads of the same content can both replace without harm.
        os.replace(temp, final)
        _fsync_directory(final.parent)
        logger.debug("Stored file %s (%d bytes)", sha256, size)


def _check_type(path: Path, name: str, field: Field) -> DetectedType:
    """Detect the type of an upload and raise `FileRejected` unless its name and field allow it."""
    declared = declared_extension(name)
    accepted = _accepted_extensions(field)
    detected = detect_type(path, declared)
    if detected is None:
        raise _unknown_type(name, declared, accepted)
    if declared == "zip" and detected.extension in ZIP_CONTAINERS:
        # A .docx or .odt is a valid ZIP archive, so one named .zip is taken as a ZIP archive.
        detected = DetectedType("zip", ZIP_MEDIA_TYPE)
    if declared and declared != detected.extension:
        raise _type_mismatch(name, declared, detected.extension, accepted)
    if detected.extension not in accepted:
        raise _type_not_accepted(name, field, detected.extension, accepted)
    return detected


def _accepted_extensions(field: Field) -> tuple[str, ...]:
    """Return the field's accepted extensions, aliases folded and duplicates dropped, in order."""
    declared = field.accept or DEFAULT_ACCEPT
    return tuple(dict.fromkeys(normalize_extension(extension) for extension in declared))


def _size_limit(field: Field) -> int:
    """Return the largest upload size in bytes that `field` allows."""
    megabytes = DEFAULT_MAX_SIZE_MB if field.max_size_mb is None else field.max_size_mb
    return int((megabytes * BYTES_PER_MB).to_integral_value(rounding=ROUND_FLOOR))


def _chunks_of_bytes(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), CHUNK_SIZE):
        yield bytes(view[start : start + CHUNK_SIZE])


def _chunks_of_stream(stream: BinaryIO) -> Iterator[bytes]:
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if not chunk:
            return
        yield chunk


def _write_chunks(
    output: BinaryIO, chunks: Iterator[bytes], limit: int, name: str, field: Field
) -> tuple[str, int]:
    """Write chunks to `output` and return their SHA-256 and size, raising once `limit` is passed."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _too_large(name, field, None)
        digest.update(chunk)
        output.write(chunk)
    output.flush()
    os.fsync(output.fileno())
    return digest.hexdigest(), size


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        logger.warning("Could not delete temporary upload %s: %s", path, error)


def _fsync_directory(path: Path) -> None:
    """Flush a folder's entries to disk so a rename survives a power failure, where supported."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        # Windows cannot open a folder with os.open, so there the rename is not flushed.
        return
    try:
        os.fsync(descriptor)
    except OSError:
        logger.debug("The file system does not support fsync on folder %s", path)
    finally:
        os.close(descriptor)


# Messages. Each names the file, states what is wrong and what to do next, in English and in
# Simplified Chinese.


def duplicate_file(name: str, attached_as: str) -> FileRejected:
    """Build the rejection for a file whose content the field holds already, under `attached_as`."""
    if name == attached_as:
        return FileRejected("duplicate", name, f"{name} is attached here already; nothing was added.",
                            f"{name} 已上传过，未重复添加。")
    return FileRejected(
        "duplicate",
        name,
        f"{name} has the same content as {attached_as}, which is attached here already; nothing was added. "
        "If you meant another document, choose that file.",
        f"{name} 与已上传的 {attached_as} 内容完全相同，未重复添加；如要上传其他资料，请选择相应的文件。",
    )


def _empty(name: str) -> FileRejected:
    return FileRejected(
        "empty",
        name,
        f"{name} is empty (0 bytes). Check that you chose the right file, then upload it again.",
        f"{name} 是空文件（0 字节）；请确认选择了正确的文件后重新上传。",
    )


def _too_large(name: str, field: Field, size: int | None) -> FileRejected:
    """Build the rejection for a file over the field's limit. `size` is None when a stream was cut short."""
    limit = DEFAULT_MAX_SIZE_MB if field.max_size_mb is None else field.max_size_mb
    limit_text = f"{format(limit.normalize(), 'f')} MB"
    if size is None:
        size_en = f"{name} is larger than the {limit_text} limit of {field.label.en}"
        size_zh = f"{name} 超过「{field.label.zh_cn}」的上限 {limit_text}"
    else:
        size_en = f"{name} is {_format_size(size, 'en')}, over the {limit_text} limit of {field.label.en}"
        size_zh = f"{name} 为 {_format_size(size, 'zh')}，超过「{field.label.zh_cn}」的上限 {limit_text}"
    return FileRejected(
        "too_large",
        name,
        f"{size_en}. Compress or split the file, then upload it again.",
        f"{size_zh}；请压缩或拆分后重新上传。",
    )


def _type_not_accepted(name: str, field: Field, extension: str, accepted: tuple[str, ...]) -> FileRejected:
    return FileRejected(
        "type_not_accepted",
        name,
        f"{name} is in {extension.upper()} format, but {field.label.en} accepts only "
        f"{_list_types(accepted, 'en')}. Convert it to one of these formats and upload it again.",
        f"{name} 是 {extension.upper()} 文件，「{field.label.zh_cn}」只接受 {_list_types(accepted, 'zh')} "
        "文件；请转换为其中一种格式后重新上传。",
    )


def _type_mismatch(name: str, declared: str, detected: str, accepted: tuple[str, ...]) -> FileRejected:
    if detected in accepted:
        fix_en = f"Check that you chose the right file, or rename it to .{detected}, then upload it again."
        fix_zh = f"请确认选择了正确的文件，或将扩展名改为 .{detected} 后重新上传。"
    else:
        fix_en = "Check that you chose the right file, then upload it again."
        fix_zh = "请确认选择了正确的文件后重新上传。"
    return FileRejected(
        "type_mismatch",
        name,
        f"{name} has the extension .{declared}, but its content is in {detected.upper()} format. {fix_en}",
        f"{name} 的扩展名是 .{declared}，但内容是 {detected.upper()} 格式；{fix_zh}",
    )


def _unknown_type(name: str, declared: str, accepted: tuple[str, ...]) -> FileRejected:
    if declared in TEXT_EXTENSIONS:
        return FileRejected(
            "unknown_type",
            name,
            f"{name} is not text in UTF-8 or GB18030 encoding. Save it as UTF-8 text and upload it again.",
            f"{name} 不是 UTF-8 或 GB18030 编码的文本；请另存为 UTF-8 编码后重新上传。",
        )
    return FileRejected(
        "unknown_type",
        name,
        f"The format of {name} could not be recognized from its content, so the file may be damaged "
        f"or of an unsupported type. Upload a file in {_list_types(accepted, 'en')} format.",
        f"无法从内容识别 {name} 的格式，文件可能已损坏或类型不受支持；请上传 "
        f"{_list_types(accepted, 'zh')} 格式的文件。",
    )


def _list_types(extensions: tuple[str, ...], lang: str) -> str:
    names = [extension.upper() for extension in extensions]
    if lang != "en":
        return "、".join(names)
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _format_size(size: int, lang: str) -> str:
    if size >= BYTES_PER_MB:
        return f"{size / BYTES_PER_MB:.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size} bytes" if lang == "en" else f"{size} 字节"
