"""Fixtures shared by the whole suite."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable

import pytest

from metamodel import CheckResult, check_app

REPOSITORY = Path(__file__).resolve().parent.parent

#: The smallest valid application; tests add or replace files to break it one way at a time.
BASE_APP: dict[str, str] = {
    "app.yaml": """
        name: shop
        label: {zh-CN: 小店, en: Shop}
        menus:
          - name: main
            label: {zh-CN: 主菜单, en: Main}
            items:
              - entity: item
    """,
    "entities/item.yaml": """
        name: item
        label: {zh-CN: 商品, en: Item}
        fields:
          - name: title
            type: string
            label: {zh-CN: 名称, en: Title}
            required: true
          - name: price
            type: money
            label: {zh-CN: 价格, en: Price}
            min: 0
    """,
}

AppFactory = Callable[..., Path]


@pytest.fixture
def make_app(tmp_path: Path) -> AppFactory:
    """Write BASE_APP with the given files added or replaced (None deletes one) and return its folder."""

    def factory(files: dict[str, str | bytes | None] | None = None) -> Path:
        root = tmp_path / "app"
        merged: dict[str, str | bytes | None] = {**BASE_APP, **(files or {})}
        for name, content in merged.items():
            if content is None:
                continue
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
        return root

    return factory


@pytest.fixture
def check(make_app: AppFactory) -> Callable[..., CheckResult]:
    """Check BASE_APP changed by the given files."""

    def run(files: dict[str, str | bytes | None] | None = None) -> CheckResult:
        return check_app(make_app(files))

    return run
