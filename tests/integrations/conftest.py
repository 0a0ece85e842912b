"""Fixtures for provider tests: a mock provider API on 127.0.0.1, provider settings, and the web fixtures."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
import stdnum.cn.ric

from runtime.providers import ProviderConfig
from tests.integrations.mock_provider import MockProvider
# The web app fixtures, for the callback and hook tests that run the hooks example app.
from tests.web.conftest import fast_password_hashes, make_web_app, shared_app_models  # noqa: F401

KEY_ID = "metadesk-test"
SECRET = "s3cret-for-tests-only"
#: Settings that keep a test of timeouts and retries short.
FAST = {"timeout_seconds": 0.3, "retries": 2, "backoff_seconds": 0.01}


def id_number(sequence: int, *, birth: str = "19900505") -> str:
    """Return a valid resident ID number of Beijing Chaoyang with the given sequence digits (the 15th to 17th)."""
    first = f"110105{birth}{sequence:03d}"
    return first + stdnum.cn.ric.calc_check_digit(first + "0")


def config(name: str, interface: str, kind: str = "http", *, url: str | None = None, signed: bool = True,
           **settings: Any) -> ProviderConfig:
    """Return the settings of an integration named `name` as the runtime builds them, with its environment."""
    prefix = f"METADESK_{name.upper()}_"
    environ = {}
    if url is not None:
        environ[prefix + "BASE_URL"] = url
    if signed:
        environ[prefix + "KEY_ID"] = KEY_ID
        environ[prefix + "SECRET"] = SECRET
    return ProviderConfig(name, interface, kind, {**FAST, **settings}, environ)


@pytest.fixture
def mock_provider() -> Iterator[MockProvider]:
    """A provider API on a free port of 127.0.0.1 that returns 200 {} until the test programs other replies."""
    mock = MockProvider()
    mock.start()
    yield mock
    mock.stop()
