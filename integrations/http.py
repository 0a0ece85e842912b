"""The HTTP client every `http` provider uses: address and credentials from the environment, timeouts, retries, signing.

Settings of the integration's YAML: `timeout_seconds` (default 10), `retries` and
`backoff_seconds`. `retries` counts the extra attempts after a timeout, a connection
failure, a 5xx or a 429 (default 2). `backoff_seconds` is the wait before the first retry,
doubled before each next (default 0.5). A 429 or 503 with a Retry-After header (seconds or an
HTTP date) waits at least that long; when it asks for more than `max_wait_seconds` (default
30), the call fails at once with the wait in its message instead of holding the caller.
The environment gives METADESK_<NAME>_BASE_URL (required), and METADESK_<NAME>_KEY_ID with
METADESK_<NAME>_SECRET, which sign each request (integrations/signing.py) when both are set;
setting only one of the two is a configuration error. A setting or variable that is
missing or invalid raises ProviderError "not_configured" when the provider is built.

Only a 2xx response with a JSON object is a result. Redirects are not followed, so a 3xx
is "bad_response", like an unreadable body. Any other 4xx is "rejected", with the provider's
`message`, and is not retried.

Each attempt is logged on one line with the integration, the operation, the ids the caller
names, the outcome and the duration. Bodies are never logged, so neither ID numbers nor
secrets reach the log. Every attempt of one call carries the same Idempotency-Key header.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import logging
import math
import time
import uuid
from typing import Any, Mapping

import httpx

from integrations.errors import ProviderError
from integrations.signing import signed_headers
from runtime.providers import ProviderConfig

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_RETRIES = 2
DEFAULT_BACKOFF_SECONDS = 0.5
DEFAULT_MAX_WAIT_SECONDS = 30.0
#: The numeric settings of every HTTP provider: name, default, minimum, whether a whole number.
NUMERIC_SETTINGS: tuple[tuple[str, float, float, bool], ...] = (
    ("retries", DEFAULT_RETRIES, 0, True),
    ("backoff_seconds", DEFAULT_BACKOFF_SECONDS, 0, False),
    ("timeout_seconds", DEFAULT_TIMEOUT_SECONDS, 0.001, False),
    ("max_wait_seconds", DEFAULT_MAX_WAIT_SECONDS, 0, False),
)
#: The maximum length, in characters, of a provider's rejection message shown to the user.
MAX_REASON_CHARS = 200


class HttpProvider:
    """Calls one provider's JSON API; subclasses add the interface's operations."""

    #: The service's name in messages, such as "实名认证" / "identity check".
    service_en = "the provider"
    service_zh = "第三方服务"

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        base_url = config.env("BASE_URL")
        if base_url is None or not base_url.startswith(("http://", "https://")):
            raise ProviderError(
                config.name, "not_configured",
                f"Set {config.variable('BASE_URL')} to the address of {self.service_en}, such as https://host/path",
                f"请将 {config.variable('BASE_URL')} 设置为{self.service_zh}的地址，例如 https://host/path")
        self.key_id = config.env("KEY_ID")
        self.secret = config.env("SECRET")
        if bool(self.key_id) != bool(self.secret):
            pair = f"{config.variable('KEY_ID')} and {config.variable('SECRET')}"
            missing = config.variable("SECRET" if self.key_id else "KEY_ID")
            raise ProviderError(
                config.name, "not_configured",
                f"Set {missing} as well: requests are signed only when both {pair} are set; set both or neither",
                f"请同时设置 {missing}：只有 {pair.replace(' and ', ' 和 ')} 都设置时才会对请求签名；请两者都设置或都不设置")
        self.retries = int(_setting(config, "retries", DEFAULT_RETRIES, minimum=0, whole=True))
        self.backoff = _setting(config, "backoff_seconds", DEFAULT_BACKOFF_SECONDS, minimum=0)
        self.max_wait = _setting(config, "max_wait_seconds", DEFAULT_MAX_WAIT_SECONDS, minimum=0)
        timeout = _setting(config, "timeout_seconds", DEFAULT_TIMEOUT_SECONDS, minimum=0.001)
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, trust_env=False)
        self.prefix = httpx.URL(base_url).path.rstrip("/")

    def close(self) -> None:
        self.client.close()

    @classmethod
    def check_settings(cls, config: ProviderConfig) -> list[ProviderError]:
        """Return an error for each numeric setting of the YAML the client cannot use, for `metadesk check`."""
        problems = []
        for key, default, minimum, whole in NUMERIC_SETTINGS:
            try:
                _setting(config, key, default, minimum=minimum, whole=whole)
            except ProviderError as problem:
                problem.field = key
                problems.append(problem)
        return problems

    def call(self, method: str, path: str, payload: Mapping[str, Any] | None, *, operation: str,
             ids: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Send one request, retrying what may pass on a second try; return the JSON object of the response."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8") if payload is not None else b""
        request_id = uuid.uuid4().hex
        shown = " ".join(f"{key}={value}" for key, value in (ids or {}).items())
        failure = ProviderError(self.config.name, "unavailable", "", "")
        for attempt in range(1, self.retries + 2):
            requested_wait: float | None = None
            headers = {"Content-Type": "application/json", "Idempotency-Key": request_id}
            if self.key_id and self.secret:
                headers.update(signed_headers(self.key_id, self.secret, method, self.prefix + path, body))
            started = time.monotonic()
            try:
                response = self.client.request(method, path, content=body, headers=headers)
            except httpx.TimeoutException:
                failure = self._error("timeout", "did not respond in time", "响应超时")
                self._log(operation, shown, "timed out", started, attempt)
            except httpx.TransportError as error:
                failure = self._error("unavailable", "could not be reached", "无法连接")
                self._log(operation, shown, f"failed: {type(error).__name__}", started, attempt)
            except httpx.RequestError as error:
                # A body that cannot be decoded (DecodingError): a second try gets the same.
                self._log(operation, shown, f"failed: {type(error).__name__}", started, attempt)
                raise self._error("bad_response", "sent a response that cannot be read", "返回的内容无法解析") from None
            else:
                self._log(operation, shown, f"HTTP {response.status_code}", started, attempt)
                if response.is_success:
                    return self._json(response, operation)
                if response.status_code < 400:
                    raise self._error("bad_response", f"answered HTTP {response.status_code}, which is not a result",
                                      f"返回了 HTTP {response.status_code}，不是有效的结果")
                if response.status_code != 429 and response.status_code < 500:
                    raise self._rejected(response)
                failure = self._error("unavailable", f"answered HTTP {response.status_code}",
                                      f"返回 HTTP {response.status_code}")
                requested_wait = retry_after(response)
                if requested_wait is not None and requested_wait > self.max_wait and attempt <= self.retries:
                    seconds = math.ceil(requested_wait)
                    raise ProviderError(
                        self.config.name, "unavailable",
                        f"{self.service_en.capitalize()} is busy (HTTP {response.status_code}) and asks to wait "
                        f"{seconds} seconds; try again after that",
                        f"{self.service_zh}繁忙（HTTP {response.status_code}），要求等待 {seconds} 秒；请稍后重试")
            if attempt <= self.retries:
                time.sleep(max(self.backoff * 2 ** (attempt - 1), requested_wait or 0.0))
        raise failure

    def _json(self, response: httpx.Response, operation: str) -> dict[str, Any]:
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            logger.warning("%s %s: the response is not a JSON object", self.config.name, operation)
            raise self._error("bad_response", "sent a response that cannot be read", "返回的内容无法解析")
        return document

    def _rejected(self, response: httpx.Response) -> ProviderError:
        """Return the error of a 4xx response, with the provider's own message where it gives one."""
        try:
            document = response.json()
        except ValueError:
            document = {}
        reason = str(document.get("message") or "") if isinstance(document, dict) else ""
        # The provider's message reaches the user's screen, so a long one is cut.
        reason = reason[:MAX_REASON_CHARS]
        detail = f": {reason}" if reason else ""
        return ProviderError(self.config.name, "rejected",
                             f"{self.service_en.capitalize()} rejected the request (HTTP {response.status_code}){detail}",
                             f"{self.service_zh}拒绝了请求（HTTP {response.status_code}）{('：' + reason) if reason else ''}")

    def _error(self, code: str, en: str, zh: str) -> ProviderError:
        return ProviderError(self.config.name, code, f"{self.service_en.capitalize()} {en}; try again later",
                             f"{self.service_zh}{zh}，请稍后重试")

    def _log(self, operation: str, ids: str, outcome: str, started: float, attempt: int) -> None:
        logger.info("%s %s %s: %s in %.0f ms (attempt %s of %s)", self.config.name, operation, ids, outcome,
                    (time.monotonic() - started) * 1000, attempt, self.retries + 1)


def retry_after(response: httpx.Response) -> float | None:
    """Return the seconds a 429 or 503 response requests the client to wait, or None without a Retry-After header."""
    if response.status_code not in (429, 503):
        return None
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, (moment - datetime.datetime.now(datetime.timezone.utc)).total_seconds())


def _setting(config: ProviderConfig, key: str, default: float, *, minimum: float, whole: bool = False) -> float:
    """Return a numeric setting of the integration's YAML; raise ProviderError "not_configured" for an invalid one."""
    value = config.settings.get(key, default)
    number: float | None = None
    if not isinstance(value, bool):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
    if number is None or not math.isfinite(number) or number < minimum or (whole and number != int(number)):
        kind_en, kind_zh = ("a whole number", "整数") if whole else ("a number", "数字")
        raise ProviderError(config.name, "not_configured",
                            f"The setting {key} of the integration {config.name} must be {kind_en} of at least {minimum:g}, "
                            f"not {value!r}; correct it in the integration's YAML",
                            f"集成 {config.name} 的设置 {key} 应为不小于 {minimum:g} 的{kind_zh}，而不是 {value!r}；请在集成的 YAML 中修改")
    return number
