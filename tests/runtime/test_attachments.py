"""Files on records: uploaded through the record, served only through a record the actor may read."""

from __future__ import annotations

import struct
import zlib

import pytest
from sqlalchemy import ColumnElement, Table

from runtime.access import Actor, FieldAccess, SystemAccess
from runtime.attachments import Attachments
from runtime.errors import NotFound, ValidationFailed
from runtime.files import FileRejected
from runtime.records import RecordService
from tests.runtime.conftest import ACTOR, ShopRuntime


def png_bytes() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


@pytest.fixture
def product(shop: ShopRuntime) -> dict:
    return shop.records.create(ACTOR, "product", {"name": "龙井", "price": 10})


def test_upload_then_open(shop: ShopRuntime, product: dict) -> None:
    updated = shop.attachments.attach(ACTOR, "product", product["id"], "photos", png_bytes(), filename="正面.png", version=1)

    photo = updated["photos"][0]
    assert photo["filename"] == "正面.png"
    assert photo["media_type"] == "image/png"
    assert updated["version"] == 2
    description, stream = shop.attachments.open(ACTOR, "product", product["id"], "photos", photo["sha256"])
    with stream:
        assert stream.read() == png_bytes()
    assert description["size"] == len(png_bytes())


def test_same_content_twice_rejected(shop: ShopRuntime, product: dict) -> None:
    shop.attachments.attach(ACTOR, "product", product["id"], "photos", png_bytes(), filename="正面.png", version=1)

    with pytest.raises(FileRejected) as raised:
        shop.attachments.attach(ACTOR, "product", product["id"], "photos", png_bytes(), filename="背面.png", version=2)

    assert raised.value.code == "duplicate"
    assert raised.value.message_zh == "背面.png 与已上传的 正面.png 内容完全相同，未重复添加；如要上传其他资料，请选择相应的文件。"
    stored = shop.records.get(ACTOR, "product", product["id"])
    assert (stored["version"], [photo["filename"] for photo in stored["photos"]]) == (2, ["正面.png"])


def test_wrong_type_leaves_record_unchanged(shop: ShopRuntime, product: dict) -> None:
    with pytest.raises(FileRejected) as raised:
        shop.attachments.attach(ACTOR, "product", product["id"], "manual", png_bytes(), filename="说明书.pdf", version=1)

    assert raised.value.code == "type_mismatch"
    assert shop.records.get(ACTOR, "product", product["id"])["version"] == 1


def test_input_cannot_name_other_files(shop: ShopRuntime, product: dict) -> None:
    other = shop.records.create(ACTOR, "product", {"name": "普洱", "price": 10})
    stored = shop.attachments.attach(ACTOR, "product", other["id"], "photos", png_bytes(), filename="a.png", version=1)
    clerk = Actor(id="u9", roles=("clerk",))
    service = RecordService(shop.model, shop.schema, shop.engine, access=ClerkAccess(), keys=shop.keys)

    with pytest.raises(ValidationFailed) as raised:
        service.update(clerk, "product", product["id"], {"photos": stored["photos"]}, version=1)

    assert raised.value.errors["photos"][0].code == "attachment"


def test_input_may_drop_files(shop: ShopRuntime, product: dict) -> None:
    stored = shop.attachments.attach(ACTOR, "product", product["id"], "photos", png_bytes(), filename="a.png", version=1)
    service = RecordService(shop.model, shop.schema, shop.engine, access=ClerkAccess(), keys=shop.keys)

    updated = service.update(Actor(id="u9"), "product", product["id"], {"photos": []}, version=stored["version"])

    assert updated["photos"] == []


def test_file_served_only_through_readable_record(shop: ShopRuntime, product: dict) -> None:
    stored = shop.attachments.attach(ACTOR, "product", product["id"], "photos", png_bytes(), filename="a.png", version=1)
    sha256 = stored["photos"][0]["sha256"]
    outsider = Attachments(
        RecordService(shop.model, shop.schema, shop.engine, access=NothingInScope(), keys=shop.keys), shop.attachments.files
    )

    with pytest.raises(NotFound):
        outsider.open(Actor(id="u7"), "product", product["id"], "photos", sha256)
    with pytest.raises(NotFound):
        shop.attachments.open(ACTOR, "product", product["id"], "photos", "0" * 64)


def test_detach_removes_file(shop: ShopRuntime, product: dict) -> None:
    stored = shop.attachments.attach(ACTOR, "product", product["id"], "photos", png_bytes(), filename="a.png", version=1)

    updated = shop.attachments.detach(ACTOR, "product", product["id"], "photos", stored["photos"][0]["sha256"], version=2)

    assert updated["photos"] == []


class ClerkAccess(SystemAccess):
    """Every action, but with the field rules of an ordinary user."""

    def fields(self, actor: Actor, entity: str) -> FieldAccess:
        return FieldAccess()


class NothingInScope(SystemAccess):
    def scope(self, actor: Actor, entity: str, table: Table, action: str = "read") -> ColumnElement[bool] | None:
        return table.c.id < 0
