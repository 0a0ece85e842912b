"""Importing this module registers every provider of the package; the `metadesk.providers` entry point names it."""

from __future__ import annotations

from integrations import identity, sms

__all__ = ["identity", "sms"]
