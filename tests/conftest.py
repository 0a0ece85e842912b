"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import textwrap
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from metamodel import CheckResult, check_app
from runtime.database import make_engine

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


# Databases: with METADESK_DATABASE_URL unset each test gets a SQLite file in its tmp_path. With it
# set (CI's second run), each test gets its own PostgreSQL database, created from that URL and
# dropped afterwards.


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    base = os.environ.get("METADESK_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    name = f"md_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(base).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    created = make_engine(database_url)
    yield created
    created.dispose()
