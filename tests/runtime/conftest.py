"""Fixtures for runtime tests: small applications on the test's database (see tests/conftest.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import Engine

from metamodel import load_app
from metamodel.model import AppModel
from runtime.access import Actor, SystemAccess
from runtime.attachments import Attachments
from runtime.crypto import KeyRing
from runtime.files import FileStore
from runtime.migrate import migrate
from runtime.records import RecordService
from runtime.schema import Schema, build_schema

ACTOR = Actor(id="u1", name="张三", roles=("clerk",), org_unit="head_office", address="127.0.0.1")

#: A small application for runtime tests: a shop with categories, products and orders.
SHOP_APP: dict[str, str] = {
    "app.yaml": """
        name: shop
        label: {zh-CN: 小店, en: Shop}
    """,
    "entities/category.yaml": """
        name: category
        label: {zh-CN: 类别, en: Category}
        fields:
          - {name: code, type: string, label: {zh-CN: 编码, en: Code}, required: true, unique: true, length: {max: 20}}
          - {name: name, type: string, label: {zh-CN: 名称, en: Name}, required: true, searchable: true}
    """,
    "entities/product.yaml": """
        name: product
        label: {zh-CN: 商品, en: Product}
        fields:
          - {name: name, type: string, label: {zh-CN: 名称, en: Name}, required: true, searchable: true, length: {max: 100}}
          - {name: sku, type: string, label: {zh-CN: 货号, en: SKU}, unique: true, length: {max: 30}}
          - {name: price, type: money, label: {zh-CN: 单价, en: Price}, required: true, min: 0}
          - {name: cost, type: money, label: {zh-CN: 成本, en: Cost}, min: 0}
          - {name: margin, type: money, label: {zh-CN: 毛利, en: Margin}, computed: price - cost}
          - {name: stock, type: integer, label: {zh-CN: 库存, en: Stock}, min: 0, default: 0}
          - {name: status, type: enum, label: {zh-CN: 状态, en: Status}, default: active,
             choices: [{value: active, label: {zh-CN: 在售, en: Active}}, {value: retired, label: {zh-CN: 停售, en: Retired}}]}
          - {name: category, type: reference, entity: category, label: {zh-CN: 类别, en: Category}}
          - {name: released_on, type: date, label: {zh-CN: 上市日期, en: Released on}}
          - {name: supplier_phone, type: mobile, label: {zh-CN: 供应商电话, en: Supplier phone}, masked: true}
          - {name: supplier_id, type: resident_id, label: {zh-CN: 供应商身份证, en: Supplier ID}, encrypted: true, masked: true, searchable: true}
          - name: parts
            type: child
            label: {zh-CN: 配件, en: Parts}
            fields:
              - {name: part_name, type: string, label: {zh-CN: 配件名, en: Part}, required: true}
              - {name: quantity, type: integer, label: {zh-CN: 数量, en: Quantity}, min: 1}
          - {name: related, type: multi_reference, entity: category, label: {zh-CN: 相关类别, en: Related}}
          - {name: photos, type: attachments, label: {zh-CN: 照片, en: Photos}, accept: [png, jpg], max_size_mb: 1}
          - {name: manual, type: attachment, label: {zh-CN: 说明书, en: Manual}, accept: [pdf]}
        list:
          columns: [name, price, stock]
          filters: [status, price]
          sort: [-price]
        rules:
          - name: cost_below_price
            check: is_empty(cost) or cost <= price
            message: {zh-CN: 成本不能高于单价, en: The cost cannot exceed the price}
            fields: [cost]
    """,
}


def write_app(root: Path, files: dict[str, str | None]) -> Path:
    for name, content in files.items():
        path = root / name
        if content is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root


class ShopRuntime:
    """A migrated shop application with a record service acting as the system."""

    def __init__(self, root: Path, engine: Engine, tmp_path: Path) -> None:
        self.root = root
        self.engine = engine
        self.backup_root = tmp_path / "backups"
        self.files_root = tmp_path / "files"
        self.keys = KeyRing.generate()
        self.reload()

    def reload(self, files: dict[str, str | None] | None = None, *, allow_destructive: bool = False) -> Any:
        """Rewrite files of the app, reload it and migrate; return the migration result."""
        if files:
            write_app(self.root, files)
        self.model: AppModel = load_app(self.root)
        self.schema: Schema = build_schema(self.model)
        result = migrate(self.engine, self.schema, self.model, backup_root=self.backup_root, allow_destructive=allow_destructive)
        self.records = RecordService(self.model, self.schema, self.engine, access=SystemAccess(), keys=self.keys)
        self.attachments = Attachments(self.records, FileStore(self.files_root))
        return result


@pytest.fixture
def shop(tmp_path: Path, engine: Engine) -> ShopRuntime:
    root = write_app(tmp_path / "shop", SHOP_APP)
    return ShopRuntime(root, engine, tmp_path)


ShopFactory = Callable[..., ShopRuntime]
