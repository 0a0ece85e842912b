"""Importing this module registers every provider of the package; the `metadesk.providers` entry point names it."""

from __future__ import annotations

from integrations import anti_fraud, bank, credit_report, e_signature, gps, identity, sms

__all__ = ["anti_fraud", "bank", "credit_report", "e_signature", "gps", "identity", "sms"]
