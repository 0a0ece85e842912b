"""File types: detect a file's real type from its bytes, and clean up the names users give files.

Binary types come from the filetype package. ZIP-based office formats are distinguished by
their manifest. Text (txt, csv) is accepted only when it decodes as UTF-8 or GB18030.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import filetype

#: Bytes read at a time when checking that a whole text file decodes.
_READ_SIZE = 64 * 1024

#: Extensions that have no magic number and are recognized by decoding the bytes as text.
TEXT_EXTENSIONS = frozenset({"txt", "csv"})


#: Maximum length of a kept original file name, in characters after NFC normalization.
MAX_FILENAME_LENGTH = 255


#: filetype 1.2 matches against at most this many leading bytes.
_SIGNATURE_BYTES = 8192


#: A file name's last suffix counts as an extension only if it has this form.
_EXTENSION = re.compile(r"[a-z0-9]{1,10}")


#: Other spellings of the same format, mapped to the extension that `StoredFile` reports.
_EXTENSION_ALIASES = {"jpeg": "jpg", "jpe": "jpg", "jfif": "jpg", "tiff": "tif"}


#: Control characters other than tab, line feed, vertical tab, form feed and carriage return.
_BINARY_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")


#: Bidirectional formatting characters, which can make "exe.pdf" display as "fdp.exe".
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


#: Maximum bytes read from one ZIP member while classifying, so a decompression bomb cannot exhaust memory.
_MAX_MANIFEST_BYTES = 1024 * 1024


ZIP_MEDIA_TYPE = "application/zip"


#: Main document content types in an Office Open XML package's [Content_Types].xml.
#: NOTE: macro-enabled (.docm, .xlsm, .pptm) and template packages are not listed, so they are
#: detected as plain ZIP archives.
_OFFICE_OPEN_XML: tuple[tuple[bytes, str, str], ...] = (
    (
        b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    (
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    (
        b"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
)


#: Contents of the `mimetype` member of OpenDocument and EPUB packages, by extension.
_ZIPPED_MIMETYPES = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/epub+zip": "epub",
}


#: Extensions of formats that are ZIP archives inside.
ZIP_CONTAINERS = frozenset({"zip", "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub"})


@dataclass(frozen=True)
class DetectedType:
    """A file type recognized from a file's bytes."""

    extension: str
    media_type: str


def sanitize_filename(filename: str) -> str:
    """Return an uploaded file's name without folders or control characters, NFC-normalized.

    Both "/" and "\\" count as folder separators, because browsers on Windows may send a full
    path. Names longer than `MAX_FILENAME_LENGTH` characters are shortened before the extension.
    The result may be empty.
    """
    name = unicodedata.normalize("NFC", filename)
    name = "".join(
        character
        for character in name
        if unicodedata.category(character) != "Cc" and character not in _BIDI_CONTROLS
    )
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name in {".", ".."}:
        return ""
    if len(name) <= MAX_FILENAME_LENGTH:
        return name

    stem, dot, extension = name.rpartition(".")
    if stem and dot and len(extension) < 32:
        return stem[: MAX_FILENAME_LENGTH - len(extension) - 1].rstrip() + "." + extension
    return name[:MAX_FILENAME_LENGTH]


def declared_extension(filename: str) -> str:
    """Return the lowercase extension of a file name, or "" if it has none.

    Only a last suffix of 1 to 10 ASCII letters and digits with at least one letter counts,
    so "报价单2024.03" has no extension. Aliases are folded, so "a.JPEG" returns "jpg".
    """
    stem, dot, suffix = filename.rpartition(".")
    suffix = suffix.lower()
    if not stem or not dot or _EXTENSION.fullmatch(suffix) is None or suffix.isdigit():
        return ""
    return normalize_extension(suffix)


def normalize_extension(extension: str) -> str:
    extension = extension.lower().lstrip(".")
    return _EXTENSION_ALIASES.get(extension, extension)


def detect_type(path: Path, extension: str = "") -> DetectedType | None:
    """Detect a file's type from its content, or return None if it is not recognized.

    Text has no magic number, so a file is taken as text only when `extension` is "txt" or
    "csv" and the whole file decodes as UTF-8 or GB18030 without binary control characters.
    ZIP-based formats are distinguished by their [Content_Types].xml or `mimetype` member.
    """
    extension = normalize_extension(extension)
    if extension in TEXT_EXTENSIONS:
        charset = text_charset(path)
        if charset is not None:
            media_type = "text/csv" if extension == "csv" else "text/plain"
            return DetectedType(extension, f"{media_type}; charset={charset}")

    with path.open("rb") as stream:
        head = stream.read(_SIGNATURE_BYTES)
    kind = filetype.guess(head)
    if kind is None:
        return None
    detected = DetectedType(normalize_extension(str(kind.extension)), str(kind.mime))
    if detected.extension in ZIP_CONTAINERS:
        return _classify_zip(path)
    return detected


def text_charset(path: Path) -> str | None:
    """Return "utf-8" or "gb18030" if the whole file decodes as text in it, else None.

    A UTF-8 byte order mark is allowed. Text containing control characters other than tab,
    line feed, vertical tab, form feed and carriage return counts as binary.
    """
    for encoding, charset in (("utf-8-sig", "utf-8"), ("gb18030", "gb18030")):
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        try:
            with path.open("rb") as stream:
                for chunk in iter(lambda: stream.read(_READ_SIZE), b""):
                    if _BINARY_CONTROL.search(decoder.decode(chunk)):
                        return None
                if _BINARY_CONTROL.search(decoder.decode(b"", final=True)):
                    return None
        except UnicodeDecodeError:
            continue
        return charset
    return None


def _classify_zip(path: Path) -> DetectedType | None:
    """Distinguish a ZIP archive from the formats built on ZIP. Returns None if it cannot be opened."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "[Content_Types].xml" in names:
                content_types = _read_member(archive, "[Content_Types].xml")
                for marker, extension, media_type in _OFFICE_OPEN_XML:
                    if marker in content_types:
                        return DetectedType(extension, media_type)
            if "mimetype" in names:
                package_type = _read_member(archive, "mimetype").strip().decode("ascii", "replace")
                package_extension = _ZIPPED_MIMETYPES.get(package_type)
                if package_extension is not None:
                    return DetectedType(package_extension, package_type)
    except (zipfile.BadZipFile, EOFError):
        return None
    return DetectedType("zip", ZIP_MEDIA_TYPE)


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    """Return up to `_MAX_MANIFEST_BYTES` of a member, or b"" if it is encrypted or damaged."""
    try:
        with archive.open(name) as member:
            return member.read(_MAX_MANIFEST_BYTES)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, zlib.error):
        return b""
