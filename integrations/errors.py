"""The failure of a provider call, as hooks and users see it."""

from __future__ import annotations

from runtime.hooks import HookError

#: Failure codes: the provider did not respond in time, could not be reached, responded with
#: something unreadable, rejected the request, or is missing settings.
CODES = ("timeout", "unavailable", "bad_response", "rejected", "not_configured")


class ProviderError(HookError):
    """A provider call that failed, with its code and a message in English and Chinese.

    It is a HookError, so a hook that lets it pass stops the operation, nothing is written,
    and the user reads the message.
    """

    def __init__(self, integration: str, code: str, en: str, zh: str) -> None:
        super().__init__(en, zh)
        self.integration = integration
        self.code = code
        # A missing or invalid setting is the administrator's to fix, so the message users read asks them to contact one.
        self.for_administrator = code == "not_configured"
