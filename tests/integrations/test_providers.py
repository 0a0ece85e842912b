"""The provider registry and an application's `Providers`: lookup, lazy building, missing providers and entry points."""

from __future__ import annotations

import json
import logging
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import pytest

from integrations.errors import ProviderError
from integrations.identity import HttpIdentityCheck, SandboxIdentityCheck
from metamodel import load_app
from metamodel.model import AppModel
from runtime import providers as provider_module
from runtime.access import SYSTEM_ACTOR
from runtime.errors import ValidationFailed
from runtime.hooks import HookContext, hook
from runtime.providers import ProviderConfig, ProviderRegistry, Providers, ProviderUnavailable, registry, unprovided
from tests.conftest import AppFactory
from tests.web.conftest import WebApp
from ui.cli import main

#: A shop whose item save runs provider_tests.look_up, registered below.
PROVIDER_APP: dict[str, str | bytes | None] = {
    "entities/item.yaml": """
        name: item
        label: {zh-CN: 商品, en: Item}
        fields:
          - {name: title, type: string, label: {zh-CN: 名称, en: Title}, required: true}
        hooks:
          before_save: [provider_tests.look_up]
    """,
    "integrations/identity_check.yaml": """
        name: identity_check
        interface: identity_check
        provider: sandbox
    """,
    "integrations/weather.yaml": """
        name: weather
        interface: weather
        provider: http
        settings: {timeout_seconds: 10}
    """,
}

built: list[ProviderConfig] = []


@hook("provider_tests.look_up")
def look_up(context: HookContext) -> None:
    """Ask for the provider named in the item's title."""
    assert context.providers is not None
    context.providers[context.record["title"]]


def counting_factory(config: ProviderConfig) -> object:
    built.append(config)
    return object()


registry.register("provider_tests_counter", "sandbox", counting_factory)


def model_of(make_app: AppFactory, files: dict[str, str | bytes | None] | None = None) -> AppModel:
    return load_app(make_app({**PROVIDER_APP, **(files or {})}))


def test_built_once_on_first_use(make_app: AppFactory) -> None:
    model = model_of(make_app, {"integrations/counter.yaml": """
        name: counter
        interface: provider_tests_counter
        provider: sandbox
        settings: {colour: blue}
    """})
    built.clear()
    providers = Providers(model.integrations, {"METADESK_COUNTER_BASE_URL": "http://127.0.0.1:9", "OTHER": "x"})
    assert built == []

    first = providers["counter"]
    assert providers["counter"] is first
    assert len(built) == 1
    assert (built[0].name, built[0].interface, built[0].kind) == ("counter", "provider_tests_counter", "sandbox")
    assert dict(built[0].settings) == {"colour": "blue"}
    assert built[0].env("BASE_URL") == "http://127.0.0.1:9"
    assert built[0].env("SECRET") is None
    assert built[0].variable("SECRET") == "METADESK_COUNTER_SECRET"


def test_close_closes_built_providers(make_app: AppFactory) -> None:
    http_model = model_of(make_app, {"integrations/identity_check.yaml": """
        name: identity_check
        interface: identity_check
        provider: http
    """})
    providers = Providers(http_model.integrations, {"METADESK_IDENTITY_CHECK_BASE_URL": "http://127.0.0.1:9"})
    first = providers["identity_check"]
    assert not first.client.is_closed

    providers.close()
    assert first.client.is_closed
    # A provider asked for after closing is built anew, with an open client.
    second = providers["identity_check"]
    assert second is not first and not second.client.is_closed
    providers.close()


def test_kind_chosen_by_yaml(make_app: AppFactory) -> None:
    model = model_of(make_app)
    assert isinstance(Providers(model.integrations, {})["identity_check"], SandboxIdentityCheck)
    http_model = model_of(make_app, {"integrations/identity_check.yaml": """
        name: identity_check
        interface: identity_check
        provider: http
    """})
    built_http = Providers(http_model.integrations, {"METADESK_IDENTITY_CHECK_BASE_URL": "http://127.0.0.1:9"})["identity_check"]
    assert isinstance(built_http, HttpIdentityCheck)
    built_http.close()


def test_failed_build_retried_on_next_use(make_app: AppFactory) -> None:
    model = model_of(make_app, {"integrations/identity_check.yaml": """
        name: identity_check
        interface: identity_check
        provider: http
    """})
    providers = Providers(model.integrations, {})
    for _ in range(2):
        with pytest.raises(ProviderError) as raised:
            providers["identity_check"]
        assert raised.value.code == "not_configured"


def test_undeclared_integration(make_app: AppFactory) -> None:
    providers = Providers(model_of(make_app).integrations, {})
    with pytest.raises(ProviderUnavailable) as raised:
        providers["sms"]
    assert raised.value.en == "The application declares no integration 'sms'; its integrations are identity_check, weather"
    assert raised.value.zh == "应用中没有名为 'sms' 的集成；现有集成：identity_check, weather"


def test_unprovided_interface(make_app: AppFactory) -> None:
    model = model_of(make_app)
    assert [integration.name for integration in unprovided(model)] == ["weather"]
    with pytest.raises(ProviderUnavailable) as raised:
        Providers(model.integrations, {})["weather"]
    assert raised.value.en.startswith("No installed package provides the http provider of 'weather'")


def test_second_registration_rejected() -> None:
    fresh = ProviderRegistry()
    fresh.register("sms", "sandbox", counting_factory)
    fresh.register("sms", "sandbox", counting_factory)
    with pytest.raises(ValueError, match="a sandbox provider of 'sms' is already registered"):
        fresh.register("sms", "sandbox", lambda config: None)


def test_broken_entry_point_logged(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    broken = metadata.EntryPoint("broken", "tests.integrations.no_such_module", provider_module.ENTRY_POINT_GROUP)
    monkeypatch.setattr(metadata, "entry_points", lambda group: [broken])
    fresh = ProviderRegistry()
    with caplog.at_level(logging.ERROR, logger="runtime.providers"):
        assert fresh.known() == []
    assert "loading providers from tests.integrations.no_such_module failed" in caplog.text


def test_installed_providers_registered() -> None:
    assert {("identity_check", "http"), ("identity_check", "sandbox"), ("sms", "http"), ("sms", "sandbox")} <= set(registry.known())


def test_check_warns_of_unprovided(make_app: AppFactory, capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app(PROVIDER_APP)
    code = main(["check", str(app), "--format", "json", "--lang", "en"])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [(item["code"], Path(item["file"]).name) for item in report["diagnostics"]] == [("integration.W001", "weather.yaml")]


@pytest.mark.parametrize(("title", "message"), [
    ("weather", "Saving the item failed: No installed package provides the http provider of 'weather'"),
    ("sms", "Saving the item failed: The application declares no integration 'sms'"),
])
def test_hook_reports_unavailable_provider(make_app: AppFactory, make_web_app: Callable[..., WebApp], title: str,
                                           message: str) -> None:
    web_app = make_web_app(make_app(PROVIDER_APP))
    with pytest.raises(ValidationFailed) as raised:
        web_app.runtime.records.create(SYSTEM_ACTOR, "item", {"title": title})
    [error] = raised.value.errors["_record"]
    assert error.code == "hook.provider"
    assert error.message_en.startswith(message)
    assert web_app.runtime.records.list(SYSTEM_ACTOR, "item").rows == []


def test_hook_reaches_provider(make_app: AppFactory, make_web_app: Callable[..., WebApp]) -> None:
    web_app = make_web_app(make_app(PROVIDER_APP))
    created = web_app.runtime.records.create(SYSTEM_ACTOR, "item", {"title": "identity_check"})
    assert created["title"] == "identity_check"

