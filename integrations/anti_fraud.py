"""Anti-fraud screening (反欺诈): is a person on a risk list, and how risky an applicant do they look.

The interface, for hooks (`context.providers["anti_fraud"]`):

    screen(name, id_number, phone, *, device_id=None, ip=None) -> Screening

The screening gives the provider's id of the screening, the lists the person hit, each with
the provider's reason, and a risk score from 0 to 1000. The lists (LISTS) are
court_dishonest (失信被执行人, the courts' list of dishonest judgment debtors),
fraud_blacklist (欺诈黑名单), multi_lender (多头借贷, applications at many lenders in a short
time), phone_risk (a virtual-operator or otherwise risky mobile number), device_risk and
ip_risk. The risk level follows from the score by fixed thresholds, whichever provider
serves the interface: "low" below MEDIUM_RISK_SCORE (400), "medium" below HIGH_RISK_SCORE
(700), "high" from 700 to 1000. A failed call raises ProviderError. An empty name, an invalid
ID number or mobile number, an empty device id or an invalid IP address is rejected with
ProviderError "rejected" before any call.

HTTP provider: POST {BASE_URL}/anti-fraud/screen with {"name", "id_number", "phone",
"device_id", "ip"} (null when not given); the provider returns {"screening_id", "score" (a
JSON integer from 0 to 1000), "hits": [{"list", "reason"}]}, where each list is one of LISTS
and each reason a string. Anything else is "bad_response". Other fields, such as a level of
the provider's own, are ignored, and a reason longer than 200 characters is cut.

Sandbox provider, deterministic by the ID number's sequence digits (the 15th to 17th) and
the mobile number:

- sequence 850 to 899: a multi_lender hit; 880 to 899 also a court_dishonest hit with an
  enforcement case number derived from the ID number.
- a mobile number ending in 9999: a fraud_blacklist hit.
- a mobile number starting with a virtual-operator prefix (162, 165, 167, 170, 171): a
  phone_risk hit.
- the score is a base of 20 to 199, picked by a SHA-256 hash of the ID number and the mobile
  number, plus 400 for multi_lender, 500 for court_dishonest, 700 for fraud_blacklist and 200
  for phone_risk, at most 1000. So a clean person is low risk, multi_lender alone is medium,
  and court_dishonest or fraud_blacklist is high.

The same hash gives the screening id. The sandbox's reasons are Chinese text, as providers
send them. It checks `device_id` and `ip` like the HTTP provider but reports no device_risk
or ip_risk hit.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Mapping

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from integrations.errors import ProviderError
from integrations.http import MAX_REASON_CHARS, HttpProvider
from integrations.identity import masked
from integrations.sms import masked_phone
from runtime.providers import ProviderConfig, register_provider

INTERFACE = "anti_fraud"
#: The lists a screening may hit, with their names in English and Chinese for messages and screens.
LISTS = {
    "court_dishonest": ("dishonest judgment debtor", "失信被执行人"),
    "fraud_blacklist": ("fraud blacklist", "欺诈黑名单"),
    "multi_lender": ("applications at many lenders", "多头借贷"),
    "phone_risk": ("risky mobile number", "风险手机号"),
    "device_risk": ("risky device", "风险设备"),
    "ip_risk": ("risky IP address", "风险 IP 地址"),
}
MAX_SCORE = 1000
#: The minimum scores of the medium and the high risk level.
MEDIUM_RISK_SCORE = 400
HIGH_RISK_SCORE = 700
#: The mobile number prefixes of virtual operators, which the sandbox reports as phone_risk.
VIRTUAL_OPERATOR_PREFIXES = ("162", "165", "167", "170", "171")
#: The points each sandbox hit adds to the base score.
SANDBOX_WEIGHTS = {"multi_lender": 400, "court_dishonest": 500, "fraud_blacklist": 700, "phone_risk": 200}
_MOBILE = re.compile(r"1[3-9][0-9]{9}")


@dataclass(frozen=True)
class ListHit:
    #: One of LISTS.
    list_name: str
    #: The provider's reason, such as the court's case number.
    reason: str


@dataclass(frozen=True)
class Screening:
    #: The provider's id of the screening, to quote to its support.
    screening_id: str
    #: The risk score, from 0 (no risk seen) to 1000.
    score: int
    #: "low", "medium" or "high", from the score.
    level: str
    hits: tuple[ListHit, ...]


def risk_level(score: int) -> str:
    """Return the risk level of a score: "low" below 400, "medium" below 700, "high" from 700."""
    if score >= HIGH_RISK_SCORE:
        return "high"
    if score >= MEDIUM_RISK_SCORE:
        return "medium"
    return "low"


@dataclass(frozen=True)
class _Applicant:
    name: str
    id_number: str
    phone: str
    device_id: str | None
    ip: str | None


def _checked(config: ProviderConfig, name: str, id_number: str, phone: str, device_id: str | None, ip: str | None) -> _Applicant:
    """Return the input in standard form; raise ProviderError "rejected" for an invalid value."""
    if not (name or "").strip():
        raise ProviderError(config.name, "rejected", "Enter the name of the person to screen", "请填写要筛查的人员姓名")
    text = (id_number or "").strip().upper()
    try:
        number = str(ric.validate(text))
    except ValidationError:
        raise ProviderError(config.name, "rejected", f"The ID number {masked(text)} is not valid; check it and try again",
                            f"身份证号 {masked(text)} 无效，请核对后重试") from None
    mobile = re.sub(r"[\s-]", "", phone or "")
    if not _MOBILE.fullmatch(mobile):
        raise ProviderError(config.name, "rejected", f"{masked_phone(mobile)} is not a mainland mobile number; check it",
                            f"{masked_phone(mobile)} 不是有效的中国大陆手机号，请核对")
    device = device_id.strip() if device_id is not None else None
    if device == "":
        raise ProviderError(config.name, "rejected", "The device id is empty. Give the device id or leave it out",
                            "设备号为空；请提供设备号或不传此项")
    address: str | None = None
    if ip is not None:
        try:
            address = str(ipaddress.ip_address(ip.strip()))
        except ValueError:
            # The address is personal data, so the message leaves it out.
            raise ProviderError(config.name, "rejected", "The IP address is not a valid IPv4 or IPv6 address; check it",
                                "IP 地址不是有效的 IPv4 或 IPv6 地址，请核对") from None
    return _Applicant(name.strip(), number, mobile, device, address)


@register_provider(INTERFACE, "http")
class HttpAntiFraud(HttpProvider):
    service_en = "the anti-fraud service"
    service_zh = "反欺诈服务"

    def screen(self, name: str, id_number: str, phone: str, *, device_id: str | None = None, ip: str | None = None) -> Screening:
        applicant = _checked(self.config, name, id_number, phone, device_id, ip)
        payload = {"name": applicant.name, "id_number": applicant.id_number, "phone": applicant.phone,
                   "device_id": applicant.device_id, "ip": applicant.ip}
        document = self.call("POST", "/anti-fraud/screen", payload, operation="screen",
                             ids={"id_number": masked(applicant.id_number), "phone": masked_phone(applicant.phone)})
        return self._screening(document)

    def _screening(self, document: Mapping[str, Any]) -> Screening:
        """Read the provider's result; raise ProviderError "bad_response" unless every field follows the HTTP contract."""
        screening_id, score, hits = document.get("screening_id"), document.get("score"), document.get("hits")
        if not isinstance(screening_id, str) or not screening_id.strip():
            raise self._unreadable()
        if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= MAX_SCORE:
            raise self._unreadable()
        if not isinstance(hits, list):
            raise self._unreadable()
        found: list[ListHit] = []
        for hit in hits:
            if not isinstance(hit, dict) or hit.get("list") not in LISTS or not isinstance(hit.get("reason"), str):
                raise self._unreadable()
            # The reason reaches the user's screen, so a long one is cut.
            found.append(ListHit(hit["list"], hit["reason"][:MAX_REASON_CHARS]))
        return Screening(screening_id, score, risk_level(score), tuple(found))

    def _unreadable(self) -> ProviderError:
        return ProviderError(self.config.name, "bad_response", "The anti-fraud service sent a result that cannot be read; "
                             "try again later", "反欺诈服务返回的结果无法解析，请稍后重试")


@register_provider(INTERFACE, "sandbox")
class SandboxAntiFraud:
    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    def screen(self, name: str, id_number: str, phone: str, *, device_id: str | None = None, ip: str | None = None) -> Screening:
        applicant = _checked(self.config, name, id_number, phone, device_id, ip)
        number, mobile = applicant.id_number, applicant.phone
        sequence = int(number[14:17])
        digest = hashlib.sha256(f"{number}|{mobile}".encode("utf-8")).digest()

        hits: list[ListHit] = []
        if 850 <= sequence <= 899:
            hits.append(ListHit("multi_lender", "近3个月在多家机构申请借贷"))
        if 880 <= sequence <= 899:
            # The case is the person's, so its number depends on the ID number alone.
            case = int.from_bytes(hashlib.sha256(number.encode("utf-8")).digest()[:4], "big") % 90000 + 10000
            hits.append(ListHit("court_dishonest", f"（2023）京0105执{case}号 未履行生效法律文书确定的义务"))
        if mobile.endswith("9999"):
            hits.append(ListHit("fraud_blacklist", "手机号关联已确认的欺诈案件"))
        if mobile.startswith(VIRTUAL_OPERATOR_PREFIXES):
            hits.append(ListHit("phone_risk", "虚拟运营商号段"))

        base = 20 + int.from_bytes(digest[:8], "big") % 180
        score = min(MAX_SCORE, base + sum(SANDBOX_WEIGHTS[hit.list_name] for hit in hits))
        screening_id = "sbx-" + digest.hex()[:20]
        return Screening(screening_id, score, risk_level(score), tuple(hits))


def describe(screening: Screening) -> dict[str, Any]:
    """Return a screening as JSON data, as a hook may store it on a record."""
    return {"screening_id": screening.screening_id, "score": screening.score, "level": screening.level,
            "hits": [{"list": hit.list_name, "reason": hit.reason} for hit in screening.hits]}
