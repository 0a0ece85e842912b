"""The fixture every guarantee test uses: a migrated guarantee app on the test's database."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from guarantee_world import World


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    built = World(database_url, tmp_path / "data")
    yield built
    built.close()
