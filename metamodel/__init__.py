"""The metamodel: reads an application's YAML into a validated, immutable `AppModel`."""

from metamodel.diagnostics import ConfigError, Diagnostic
from metamodel.loader import CheckResult, check_app, load_app
from metamodel.model import AppModel

__all__ = ["AppModel", "CheckResult", "ConfigError", "Diagnostic", "check_app", "load_app"]
