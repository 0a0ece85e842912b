"""Tests of content-addressed attachment storage, on real files under tmp_path."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import time
import unicodedata
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import pytest

from metamodel.model import Field, Label, Source
from runtime.file_types import MAX_FILENAME_LENGTH, declared_extension, sanitize_filename
from runtime.files import CHUNK_SIZE, FileRejected, FileStore, InvalidFileId, StoredFile

SOURCE = Source("entities/contract.yaml", 1, 1)
ALL_TYPES = ("pdf", "jpg", "png", "gif", "webp", "bmp", "tif", "heic", "docx", "xlsx", "zip", "txt", "csv")


def attachment(accept: tuple[str, ...] = ALL_TYPES, max_size_mb: str | None = "10") -> Field:
    return Field(
        name="scan",
        type="attachment",
        label=Label(zh_cn="合同扫描件", en="Contract scan"),
        source=SOURCE,
        accept=accept,
        max_size_mb=None if max_size_mb is None else Decimal(max_size_mb),
    )


# Small valid samples of each format, built here rather than shipped as binary files.


def pdf_bytes(text: str = "hello") -> bytes:
    return (
        b"%PDF-1.4\n"
        b"1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
        b"2 0 obj <</Type /Pages /Kids [] /Count 0>> endobj\n"
        + f"% {text}\n".encode()
        + b"trailer <</Root 1 0 R>>\n%%EOF\n"
    )


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes() -> bytes:
    """Return a 1x1 grayscale PNG."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x7f")
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", pixels)
        + png_chunk(b"IEND", b"")
    )


def jpeg_bytes() -> bytes:
    app0 = b"JFIF\x00" + struct.pack(">BBBHHBB", 1, 1, 0, 1, 1, 0, 0)
    return b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0 + b"\xff\xd9"


def gif_bytes() -> bytes:
    screen = struct.pack("<HHBBB", 1, 1, 0, 0, 0)
    image = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + image + b";"


def webp_bytes() -> bytes:
    payload = b"VP8L" + struct.pack("<I", 5) + b"\x2f\x00\x00\x00\x00" + b"\x00"
    return b"RIFF" + struct.pack("<I", 4 + len(payload)) + b"WEBP" + payload


def bmp_bytes() -> bytes:
    pixel_row = b"\xff\xff\xff\x00"
    info = struct.pack("<IiiHHIIiiII", 40, 1, 1, 1, 24, 0, len(pixel_row), 2835, 2835, 0, 0)
    offset = 14 + len(info)
    header = b"BM" + struct.pack("<IHHI", offset + len(pixel_row), 0, 0, offset)
    return header + info + pixel_row


def tiff_bytes() -> bytes:
    # Little-endian header pointing at an image file directory with no entries.
    return b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 0) + struct.pack("<I", 0)


def heic_bytes() -> bytes:
    brands = b"mif1heic"
    ftyp = struct.pack(">I", 16 + len(brands)) + b"ftyp" + b"heic" + struct.pack(">I", 0) + brands
    return ftyp + struct.pack(">I", 8) + b"free"


def office_bytes(main_part: str, content_type: str, content_types_last: bool = False) -> bytes:
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/{main_part}" ContentType="{content_type}"/>'
        "</Types>"
    )
    parts = [
        ("_rels/.rels", '<?xml version="1.0"?><Relationships/>'),
        (main_part, '<?xml version="1.0"?><root/>'),
    ]
    if content_types_last:
        # Custom XML parts first and the manifest last, an order that defeats a check of
        # only the first few entries.
        parts.insert(0, ("customXml/item1.xml", '<?xml version="1.0"?><item/>'))
        parts.append(("[Content_Types].xml", content_types))
    else:
        parts.insert(0, ("[Content_Types].xml", content_types))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts:
            archive.writestr(name, text)
    return buffer.getvalue()


def docx_bytes() -> bytes:
    return office_bytes(
        "word/document.xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    )


def xlsx_bytes(content_types_last: bool = False) -> bytes:
    return office_bytes(
        "xl/workbook.xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        content_types_last=content_types_last,
    )


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "photos of the site visit")
    return buffer.getvalue()


def exe_bytes() -> bytes:
    # A DOS header: "MZ", padding, and the offset of a PE header at 0x3C.
    return b"MZ" + b"\x90\x00" + b"\x00" * 56 + struct.pack("<I", 64) + b"PE\x00\x00" + b"\x00" * 20


def blobs(root: Path) -> list[Path]:
    """Return every stored file under root, outside the temporary folder."""
    return sorted(path for path in root.rglob("*") if path.is_file() and ".incoming" not in path.parts)


def temporary_files(root: Path) -> list[Path]:
    incoming = root / ".incoming"
    return sorted(incoming.iterdir()) if incoming.exists() else []


def rejection(store: FileStore, data: Any, filename: str, field: Field) -> FileRejected:
    with pytest.raises(FileRejected) as caught:
        store.put(data, filename=filename, field=field)
    return caught.value


class CountingStream(io.BytesIO):
    """An in-memory upload that records how many bytes were read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


class FailingStream(io.BytesIO):
    """An upload whose connection breaks after the first chunk."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads = 0

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        if self.reads > 1:
            raise ConnectionResetError("client went away")
        return super().read(size)


# Storing and reading back.


def test_put_stores_pdf_by_hash(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    data = pdf_bytes()

    stored = store.put(data, filename="contract.pdf", field=attachment())

    digest = hashlib.sha256(data).hexdigest()
    assert stored == StoredFile(
        sha256=digest,
        size=len(data),
        media_type="application/pdf",
        extension="pdf",
        filename="contract.pdf",
    )
    expected_path = tmp_path / "files" / digest[:2] / digest[2:4] / digest
    assert store.path_of(digest) == expected_path
    assert expected_path.read_bytes() == data
    assert store.exists(digest)
    assert blobs(tmp_path / "files") == [expected_path]


def test_open_returns_stored_bytes(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    stored = store.put(png_bytes(), filename="stamp.png", field=attachment())

    with store.open(stored.sha256) as stream:
        content = stream.read()

    assert content == png_bytes()


def test_stored_file_is_read_only(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    stored = store.put(pdf_bytes(), filename="a.pdf", field=attachment())

    mode = store.path_of(stored.sha256).stat().st_mode

    assert mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) == 0


def test_put_reads_binary_stream(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    source = tmp_path / "upload.pdf"
    source.write_bytes(pdf_bytes("from disk"))

    with source.open("rb") as stream:
        stored = store.put(stream, filename="upload.pdf", field=attachment())

    assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert stored.size == source.stat().st_size
    assert store.verify(stored.sha256)


def test_put_streams_multiple_chunks(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    data = pdf_bytes("x" * (3 * CHUNK_SIZE))

    stored = store.put(io.BytesIO(data), filename="long.pdf", field=attachment())

    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert store.path_of(stored.sha256).read_bytes() == data


def test_missing_file_not_found(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    missing = "0" * 64

    assert not store.exists(missing)
    with pytest.raises(FileNotFoundError):
        store.open(missing)
    with pytest.raises(FileNotFoundError):
        store.verify(missing)


# Type detection from the bytes.


@pytest.mark.parametrize(
    ("filename", "make", "extension", "media_type"),
    [
        ("contract.pdf", pdf_bytes, "pdf", "application/pdf"),
        ("photo.jpg", jpeg_bytes, "jpg", "image/jpeg"),
        ("photo.JPEG", jpeg_bytes, "jpg", "image/jpeg"),
        ("stamp.png", png_bytes, "png", "image/png"),
        ("anim.gif", gif_bytes, "gif", "image/gif"),
        ("shot.webp", webp_bytes, "webp", "image/webp"),
        ("scan.bmp", bmp_bytes, "bmp", "image/bmp"),
        ("scan.tiff", tiff_bytes, "tif", "image/tiff"),
        ("phone.heic", heic_bytes, "heic", "image/heic"),
        (
            "report.docx",
            docx_bytes,
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            "ledger.xlsx",
            xlsx_bytes,
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("photos.zip", zip_bytes, "zip", "application/zip"),
        ("no extension", pdf_bytes, "pdf", "application/pdf"),
    ],
)
def test_type_detected_from_content(
    tmp_path: Path, filename: str, make: Callable[[], bytes], extension: str, media_type: str
) -> None:
    store = FileStore(tmp_path)

    stored = store.put(make(), filename=filename, field=attachment())

    assert stored.extension == extension
    assert stored.media_type == media_type
    assert stored.filename == filename


def test_xlsx_detected_when_manifest_last(tmp_path: Path) -> None:
    store = FileStore(tmp_path)

    stored = store.put(xlsx_bytes(content_types_last=True), filename="ledger.xlsx", field=attachment())

    assert stored.extension == "xlsx"


def test_docx_named_zip_stored_as_zip(tmp_path: Path) -> None:
    store = FileStore(tmp_path)

    stored = store.put(docx_bytes(), filename="bundle.zip", field=attachment())

    assert stored.extension == "zip"
    assert stored.media_type == "application/zip"


def test_utf8_csv_accepted_as_text(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    data = "\ufeff名称,数量\r\n苹果,3\r\n".encode("utf-8")

    stored = store.put(data, filename="stock.csv", field=attachment())

    assert stored.extension == "csv"
    assert stored.media_type == "text/csv; charset=utf-8"


def test_gb18030_text_accepted(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    data = "名称,数量\n苹果,3\n".encode("gb18030")

    stored = store.put(data, filename="stock.txt", field=attachment())

    assert stored.extension == "txt"
    assert stored.media_type == "text/plain; charset=gb18030"


def test_text_starting_like_bmp_accepted(tmp_path: Path) -> None:
    # "BM" is also the BMP signature, but a .csv that decodes as text is text.
    store = FileStore(tmp_path)

    stored = store.put(b"BMW,3 Series\nAudi,A4\n", filename="cars.csv", field=attachment())

    assert stored.extension == "csv"


def test_text_needs_text_extension(tmp_path: Path) -> None:
    store = FileStore(tmp_path)

    error = rejection(store, b"just some words\n", "notes.pdf", attachment())

    assert error.code == "unknown_type"


def test_binary_named_txt_rejected(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    data = "hello".encode("utf-16")

    error = rejection(store, data, "notes.txt", attachment())

    assert error.code == "unknown_type"
    assert "UTF-8" in error.message_en
    assert "notes.txt 不是 UTF-8 或 GB18030 编码的文本" in error.message_zh


def test_unrecognized_bytes_rejected(tmp_path: Path) -> None:
    store = FileStore(tmp_path)

    error = rejection(store, bytes(range(256)) * 4, "data.pdf", attachment(accept=("pdf", "png")))

    assert error.code == "unknown_type"
    assert "data.pdf" in error.message_en
    assert error.message_zh.endswith("请上传 PDF、PNG 格式的文件。")


def test_damaged_docx_rejected(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    truncated = docx_bytes()[:120]

    error = rejection(store, truncated, "report.docx", attachment())

    assert error.code == "unknown_type"


# Size limits.


def test_size_limit_rejects_bytes(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    field = attachment(max_size_mb="0.001")
    data = pdf_bytes("x" * 2000)

    error = rejection(store, data, "合同.pdf", field)

    assert error.code == "too_large"
    assert error.filename == "合同.pdf"
    assert "0.001 MB" in error.message_en
    assert "Contract scan" in error.message_en
    assert error.message_zh.startswith("合同.pdf 为 2.")
    assert "超过「合同扫描件」的上限 0.001 MB；请压缩或拆分后重新上传。" in error.message_zh
    assert blobs(tmp_path) == []
    assert temporary_files(tmp_path) == []


def test_size_message_in_megabytes(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    data = pdf_bytes() + b"\x00" * int(25.3 * 1024 * 1024)

    error = rejection(store, data, "合同.pdf", attachment(max_size_mb="10"))

    assert error.message_zh == "合同.pdf 为 25.3 MB，超过「合同扫描件」的上限 10 MB；请压缩或拆分后重新上传。"


def test_size_limit_stops_stream_early(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    data = pdf_bytes() + b"\x00" * (50 * CHUNK_SIZE)
    stream = CountingStream(data)

    error = rejection(store, stream, "big.pdf", attachment(max_size_mb="0.001"))

    assert error.code == "too_large"
    assert "larger than the 0.001 MB limit" in error.message_en
    assert stream.bytes_read <= CHUNK_SIZE
    assert temporary_files(tmp_path) == []
    assert blobs(tmp_path) == []


def test_size_exactly_at_limit_accepted(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    limit = 1048  # 0.001 MB of 1,048,576 bytes, rounded down
    head = pdf_bytes()
    data = head + b"\n" * (limit - len(head))

    stored = store.put(data, filename="edge.pdf", field=attachment(max_size_mb="0.001"))

    assert stored.size == limit
    error = rejection(store, data + b"\n", "edge.pdf", attachment(max_size_mb="0.001"))
    assert error.code == "too_large"


def test_default_limit_is_20_mb(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    field = attachment(max_size_mb=None)
    data = pdf_bytes() + b"\x00" * (20 * 1024 * 1024)

    error = rejection(store, io.BytesIO(data), "huge.pdf", field)

    assert error.code == "too_large"
    assert "20 MB" in error.message_en
    assert temporary_files(tmp_path) == []


# Accepted types and mismatches.


def test_type_not_accepted(tmp_path: Path) -> None:
    store = FileStore(tmp_path)

    error = rejection(store, gif_bytes(), "anim.gif", attachment(accept=("pdf", "jpg", "jpeg", "png")))

    assert error.code == "type_not_accepted"
    assert error.message_en == (
        "anim.gif is in GIF format, but Contract scan accepts only PDF, JPG or PNG. "
        "Convert it to one of these formats and upload it again."
    )
    assert error.message_zh == (
        "anim.gif 是 GIF 文件，「合同扫描件」只接受 PDF、JPG、PNG 文件；请转换为其中一种格式后重新上传。"
    )
    assert blobs(tmp_path) == []


@pytest.mark.parametrize(
    ("accept", "filename"),
    [(("jpeg",), "photo.jpg"), (("jpg",), "photo.jpeg"), (("JPG",), "photo.JFIF")],
)
def test_jpg_and_jpeg_equivalent(tmp_path: Path, accept: tuple[str, ...], filename: str) -> None:
    store = FileStore(tmp_path)

    stored = store.put(jpeg_bytes(), filename=filename, field=attachment(accept=accept))

    assert stored.extension == "jpg"
    assert stored.media_type == "image/jpeg"


def test_png_named_pdf_mismatch(tmp_path: Path) -> None:
    store = FileStore(tmp_path)

    error = rejection(store, png_bytes(), "合同.pdf", attachment(accept=("pdf", "png")))

    assert error.code == "type_mismatch"
    assert "its content is in PNG format" in error.message_en
    assert "rename it to .png" in error.message_en
    assert error.message_zh == (
        "合同.pdf 的扩展名是 .pdf，但内容是 PNG 格式；请确认选择了正确的文件，或将扩展名改为 .png 后重新上传。"
    )
    assert blobs(tmp_path) == []
    assert temporary_files(tmp_path) == []


def test_exe_renamed_pdf_mismatch(tmp_path: Path) -> None:
    store = FileStore(tmp_path)

    error = rejection(store, exe_bytes(), "invoice.pdf", attachment(accept=("pdf",)))

    assert error.code == "type_mismatch"
    assert "EXE" in error.message_en
    assert "rename" not in error.message_en
    assert error.message_zh.endswith("请确认选择了正确的文件后重新上传。")


def test_docx_named_xlsx_mismatch(tmp_path: Path) -> None:
    store = FileStore(tmp_path)

    error = rejection(store, docx_bytes(), "ledger.xlsx", attachment())

    assert error.code == "type_mismatch"
    assert "DOCX" in error.message_en


def test_png_named_txt_mismatch(tmp_path: Path) -> None:
    store = FileStore(tmp_path)

    error = rejection(store, png_bytes(), "notes.txt", attachment())

    assert error.code == "type_mismatch"


def test_default_accept_rejects_executable(tmp_path: Path) -> None:
    store = FileStore(tmp_path)

    error = rejection(store, exe_bytes(), "setup", attachment(accept=()))

    assert error.code == "type_not_accepted"


# Empty files.


@pytest.mark.parametrize("data", [b"", io.BytesIO(b"")], ids=["bytes", "stream"])
def test_empty_file_rejected(tmp_path: Path, data: Any) -> None:
    store = FileStore(tmp_path)

    error = rejection(store, data, "blank.pdf", attachment())

    assert error.code == "empty"
    assert error.message_en == "blank.pdf is empty (0 bytes). Check that you chose the right file, then upload it again."
    assert error.message_zh == "blank.pdf 是空文件（0 字节）；请确认选择了正确的文件后重新上传。"
    assert temporary_files(tmp_path) == []


# Deduplication and concurrency.


def test_same_content_stored_once(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    data = pdf_bytes()

    first = store.put(data, filename="a.pdf", field=attachment())
    before = store.path_of(first.sha256).stat()
    second = store.put(io.BytesIO(data), filename="b.pdf", field=attachment())
    after = store.path_of(first.sha256).stat()

    assert first.sha256 == second.sha256
    assert first.filename == "a.pdf"
    assert second.filename == "b.pdf"
    assert blobs(tmp_path) == [store.path_of(first.sha256)]
    assert after.st_ino == before.st_ino
    assert after.st_mtime_ns == before.st_mtime_ns
    assert temporary_files(tmp_path) == []


def test_truncated_copy_replaced_on_put(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    data = pdf_bytes()
    stored = store.put(data, filename="a.pdf", field=attachment())
    path = store.path_of(stored.sha256)
    path.chmod(0o644)
    path.write_bytes(data[:10])

    store.put(data, filename="a.pdf", field=attachment())

    assert path.read_bytes() == data
    assert store.verify(stored.sha256)


def test_concurrent_puts_same_content(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    data = pdf_bytes("y" * (2 * CHUNK_SIZE))

    def upload(index: int) -> StoredFile:
        return store.put(io.BytesIO(data), filename=f"copy-{index}.pdf", field=attachment())

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(upload, range(16)))

    digests = {result.sha256 for result in results}
    assert digests == {hashlib.sha256(data).hexdigest()}
    digest = digests.pop()
    assert store.verify(digest)
    assert store.path_of(digest).read_bytes() == data
    assert blobs(tmp_path) == [store.path_of(digest)]
    assert temporary_files(tmp_path) == []


# File ids.


@pytest.mark.parametrize(
    "file_id",
    [
        "../../etc/passwd",
        "ab/../../../outside",
        "/etc/passwd",
        "..",
        "",
        "a" * 63,
        "a" * 65,
        "A" * 64,
        "a" * 64 + "\n",
        "g" * 64,
        "ab/cd/" + "a" * 58,
        "\u0661" * 64,
    ],
)
def test_malformed_id_rejected(tmp_path: Path, file_id: str) -> None:
    store = FileStore(tmp_path)

    with pytest.raises(InvalidFileId):
        store.path_of(file_id)
    with pytest.raises(InvalidFileId):
        store.open(file_id)
    with pytest.raises(InvalidFileId):
        store.exists(file_id)
    with pytest.raises(InvalidFileId):
        store.verify(file_id)


def test_valid_id_stays_under_root(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    digest = hashlib.sha256(b"anything").hexdigest()

    path = store.path_of(digest)

    assert path.is_relative_to((tmp_path / "files").resolve())
    assert path.name == digest


# Checksums.


def test_verify_detects_corruption(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    stored = store.put(pdf_bytes(), filename="a.pdf", field=attachment())
    path = store.path_of(stored.sha256)
    assert store.verify(stored.sha256)

    path.chmod(0o644)
    content = bytearray(path.read_bytes())
    content[20] ^= 0x01
    path.write_bytes(bytes(content))

    assert not store.verify(stored.sha256)


# File names.


def test_chinese_filename_preserved(tmp_path: Path) -> None:
    store = FileStore(tmp_path)

    stored = store.put(pdf_bytes(), filename="营业执照（副本）2024.pdf", field=attachment())

    assert stored.filename == "营业执照（副本）2024.pdf"


def test_filename_normalized_to_nfc(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    decomposed = unicodedata.normalize("NFD", "résumé.pdf")

    stored = store.put(pdf_bytes(), filename=decomposed, field=attachment())

    assert stored.filename == "résumé.pdf"
    assert unicodedata.is_normalized("NFC", stored.filename)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("C:\\Users\\张三\\Desktop\\合同.pdf", "合同.pdf"),
        ("../../etc/passwd", "passwd"),
        ("folder/sub/scan.png", "scan.png"),
        ("  spaced.pdf  ", "spaced.pdf"),
        ("line\nbreak.pdf", "linebreak.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("..", ""),
        ("", ""),
    ],
)
def test_sanitize_filename(raw: str, clean: str) -> None:
    assert sanitize_filename(raw) == clean


def test_long_filename_keeps_extension() -> None:
    name = sanitize_filename("合" * 300 + ".pdf")

    assert len(name) == MAX_FILENAME_LENGTH
    assert name.endswith(".pdf")


def test_empty_name_gets_default(tmp_path: Path) -> None:
    store = FileStore(tmp_path)

    stored = store.put(pdf_bytes(), filename="../", field=attachment())

    assert stored.filename == "unnamed.pdf"


@pytest.mark.parametrize(
    ("filename", "extension"),
    [
        ("a.PDF", "pdf"),
        ("a.jpeg", "jpg"),
        ("a.tiff", "tif"),
        ("报价单2024.03", ""),
        ("noext", ""),
        (".bashrc", ""),
        ("archive.tar.gz", "gz"),
        ("张三.身份证", ""),
    ],
)
def test_declared_extension(filename: str, extension: str) -> None:
    assert declared_extension(filename) == extension


# Temporary files.


def test_no_temporary_files_after_rejections(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    uploads: list[tuple[Any, str, Field]] = [
        (b"", "a.pdf", attachment()),
        (pdf_bytes("z" * 3000), "a.pdf", attachment(max_size_mb="0.001")),
        (io.BytesIO(pdf_bytes("z" * 3000)), "a.pdf", attachment(max_size_mb="0.001")),
        (gif_bytes(), "a.gif", attachment(accept=("pdf",))),
        (png_bytes(), "a.pdf", attachment()),
        (bytes(range(256)), "a.bin", attachment()),
    ]

    for data, filename, field in uploads:
        with pytest.raises(FileRejected):
            store.put(data, filename=filename, field=field)

    assert temporary_files(tmp_path) == []
    assert blobs(tmp_path) == []


def test_broken_stream_leaves_nothing(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    stream = FailingStream(pdf_bytes("w" * (3 * CHUNK_SIZE)))

    with pytest.raises(ConnectionResetError):
        store.put(stream, filename="a.pdf", field=attachment())

    assert temporary_files(tmp_path) == []
    assert blobs(tmp_path) == []


def test_remove_stale_uploads(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    incoming = tmp_path / ".incoming"
    incoming.mkdir()
    stale = incoming / "upload-crashed.part"
    stale.write_bytes(b"half")
    old = time.time() - 2 * 24 * 60 * 60
    os.utime(stale, (old, old))
    fresh = incoming / "upload-running.part"
    fresh.write_bytes(b"half")

    removed = store.remove_stale_uploads()

    assert removed == 1
    assert not stale.exists()
    assert fresh.exists()


# The rejection itself.


def test_rejection_is_value_error(tmp_path: Path) -> None:
    store = FileStore(tmp_path)

    error = rejection(store, b"", "a.pdf", attachment())

    assert isinstance(error, ValueError)
    assert str(error) == error.message_en
    assert error.message("en") == error.message_en
    assert error.message("zh-CN") == error.message_zh
