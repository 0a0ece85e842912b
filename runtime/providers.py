"""Third-party service providers, chosen per application in integrations/*.yaml and handed to hooks.

An integration document names an interface (such as `sms`), a provider kind (`http` or
`sandbox`) and settings. Provider packages register a factory per interface and kind with
`register_provider`, or through the entry-point group `metadesk.providers`, where each entry
point names a module whose import registers its providers. This repository's
`integrations` package is one. A hook reaches the provider of an integration as
`context.providers["sms"]`, by the integration's name. Each provider is built on first use
from a `ProviderConfig`: the settings of the YAML and the environment, where its address
and credentials live as METADESK_<NAME>_BASE_URL, METADESK_<NAME>_KEY_ID and
METADESK_<NAME>_SECRET.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Mapping

from metamodel import model as m

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "metadesk.providers"


@dataclass(frozen=True)
class ProviderConfig:
    """The input a provider is built from: its integration's YAML and the environment."""

    name: str
    interface: str
    kind: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=dict)
    #: The application's data folder (METADESK_DATA_DIR), where a sandbox provider may keep what it sent; None keeps nothing.
    data_dir: Path | None = None

    def variable(self, key: str) -> str:
        """Return the name of the environment variable that gives `key` for this integration."""
        return f"METADESK_{self.name.upper()}_{key}"

    def env(self, key: str) -> str | None:
        return self.environ.get(self.variable(key)) or None


ProviderFactory = Callable[[ProviderConfig], Any]


class ProviderUnavailable(LookupError):
    """Raised for an integration the application does not declare, or whose provider no package registers."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh


class ProviderRegistry:
    def __init__(self) -> None:
        self._factories: dict[tuple[str, str], ProviderFactory] = {}
        self._entry_points_loaded = False
        # Reentrant, so a provider module that looks up a provider while it is imported does not deadlock.
        self._lock = threading.RLock()

    def register(self, interface: str, kind: str, factory: ProviderFactory) -> None:
        key = (interface, kind)
        if key in self._factories and self._factories[key] is not factory:
            raise ValueError(f"a {kind} provider of {interface!r} is already registered by {self._factories[key].__module__}")
        self._factories[key] = factory

    def get(self, interface: str, kind: str) -> ProviderFactory | None:
        self._load_entry_points()
        return self._factories.get((interface, kind))

    def known(self) -> list[tuple[str, str]]:
        self._load_entry_points()
        return sorted(self._factories)

    def _load_entry_points(self) -> None:
        with self._lock:
            if self._entry_points_loaded:
                return
            self._entry_points_loaded = True
            for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
                logger.info("loading providers from %s", entry_point.value)
                try:
                    entry_point.load()
                except Exception:
                    # The other packages' providers still load; `metadesk check` reports the missing ones.
                    logger.exception("loading providers from %s failed; its providers are not available", entry_point.value)


#: The registry applications look providers up in.
registry = ProviderRegistry()


def register_provider(interface: str, kind: str) -> Callable[[ProviderFactory], ProviderFactory]:
    """Register the decorated class or function as the `kind` provider of `interface`."""

    def register(factory: ProviderFactory) -> ProviderFactory:
        registry.register(interface, kind, factory)
        return factory

    return register


class Providers:
    """The providers of one application, built on first use and kept for the life of the process."""

    def __init__(self, integrations: Mapping[str, m.Integration], environ: Mapping[str, str], data_dir: Path | None = None) -> None:
        self._integrations = integrations
        self._environ = dict(environ)
        self._data_dir = data_dir
        self._built: dict[str, Any] = {}
        self._lock = threading.Lock()
        for integration in integrations.values():
            variable = ProviderConfig(integration.name, integration.interface, integration.provider).variable("BASE_URL")
            if integration.provider == "http" and not self._environ.get(variable):
                logger.warning("integration %s uses the http provider, but %s is not set: every call will fail until it is "
                               "set and the server restarted", integration.name, variable)

    def __getitem__(self, name: str) -> Any:
        with self._lock:
            if name not in self._built:
                self._built[name] = self._build(name)
            return self._built[name]

    def declared(self, name: str) -> m.Integration | None:
        return self._integrations.get(name)

    def close(self) -> None:
        """Close every provider built so far that has a `close` method (HTTP clients hold pooled connections)."""
        with self._lock:
            built, self._built = self._built, {}
        for name, provider in built.items():
            closer = getattr(provider, "close", None)
            if not callable(closer):
                continue
            try:
                closer()
            except Exception:  # noqa: BLE001 - one provider failing to close must not keep the others open
                logger.exception("provider %s could not be closed", name)

    def _build(self, name: str) -> Any:
        integration = self._integrations.get(name)
        if integration is None:
            names = ", ".join(sorted(self._integrations)) or "-"
            raise ProviderUnavailable(
                f"The application declares no integration {name!r}; its integrations are {names}",
                f"应用中没有名为 {name!r} 的集成；现有集成：{names}")
        factory = registry.get(integration.interface, integration.provider)
        if factory is None:
            raise ProviderUnavailable(
                f"No installed package provides the {integration.provider} provider of {integration.interface!r} "
                f"({integration.source.file}); install it or choose another provider",
                f"没有已安装的包提供 {integration.interface!r} 的 {integration.provider} 实现（{integration.source.file}）；"
                "请安装相应的包或改用其他实现")
        config = ProviderConfig(name, integration.interface, integration.provider, dict(integration.settings), self._environ,
                                self._data_dir)
        logger.info("provider %s: %s %s", name, integration.provider, integration.interface)
        return factory(config)


def unprovided(model: m.AppModel) -> list[m.Integration]:
    """Return the application's integrations whose interface and provider kind no package registers."""
    return [integration for integration in model.integrations.values()
            if registry.get(integration.interface, integration.provider) is None]
