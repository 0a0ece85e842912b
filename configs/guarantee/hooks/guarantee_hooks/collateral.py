"""The collateral of a loan before the mortgage step: its three contracts, the mortgage registration and the GPS devices.

Plain functions over record values, so the rules can be tested without a database:
contract numbers and templates, the signing summary of a loan, the IMEI check digit, how
many GPS devices a vehicle needs, and what is still missing before register_mortgage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from stdnum import luhn

from .funding import Refusal


@dataclass(frozen=True)
class ContractKind:
    name: str
    #: The suffix of the contract number after the application number (拼音 initials: 担保, 抵押, 代扣).
    suffix: str
    #: The print template that generates the contract from the loan application.
    template: str
    zh: str
    en: str


#: The contracts every loan signs, in the order they are generated and listed.
CONTRACT_KINDS = (
    ContractKind("guarantee", "DB", "guarantee_contract", "担保合同", "guarantee contract"),
    ContractKind("mortgage", "DY", "mortgage_contract", "抵押合同", "mortgage contract"),
    ContractKind("deduction_authorization", "DK", "deduction_authorization", "代扣授权书", "deduction authorization"),
)
KIND_BY_NAME = {kind.name: kind for kind in CONTRACT_KINDS}
#: Contract statuses after which a contract may be generated and sent again.
RESENDABLE = ("draft", "declined", "expired")


def contract_number(application_no: str, kind: ContractKind) -> str:
    return f"{application_no}-{kind.suffix}"


def signing_summary(statuses: Sequence[str]) -> str | None:
    """Return the loan's signing status from its contracts': declined or expired when one is, signed when all three are."""
    if not statuses:
        return None
    for failed in ("declined", "expired"):
        if failed in statuses:
            return failed
    if len(statuses) >= len(CONTRACT_KINDS) and all(status == "signed" for status in statuses):
        return "signed"
    return "sent"


def full_imei(digits: str) -> str:
    """Return the full 15-digit IMEI, or raise ValueError naming what is wrong with the device number.

    Fourteen digits get their check digit (Luhn) appended, as the label of some devices
    prints only those.
    """
    number = "".join(digits.split())
    if not number.isdigit() or len(number) not in (14, 15):
        raise ValueError("length")
    if len(number) == 14:
        return number + luhn.calc_check_digit(number)
    if not luhn.is_valid(number):
        raise ValueError("check")
    return number


def devices_needed(condition: str | None) -> tuple[int, tuple[str, ...]]:
    """Return how many bound devices a vehicle needs and which kinds must be among them.

    A new car needs one device. A used car needs two, one wired and one wireless, because
    a used car is easier to resell with a tracker removed and the two kinds fail differently.
    """
    if condition == "used":
        return 2, ("wired", "wireless")
    return 1, ()


def collateral_refusal(contracts: Sequence[Mapping[str, Any]], registrations: int, devices: Sequence[Mapping[str, Any]],
                       condition: str | None) -> Refusal | None:
    """Return everything register_mortgage still lacks, or None when the contracts, registration and devices are complete."""
    zh: list[str] = []
    en: list[str] = []

    status_of = {str(row.get("kind")): str(row.get("status") or "draft") for row in contracts}
    unsigned = [kind for kind in CONTRACT_KINDS if status_of.get(kind.name) != "signed"]
    if unsigned:
        zh.append("以下合同尚未签署：" + "、".join(f"{kind.zh}（{_status_zh(status_of.get(kind.name))}）" for kind in unsigned))
        en.append("these contracts are not signed: " + ", ".join(f"the {kind.en} ({_status_en(status_of.get(kind.name))})"
                                                                 for kind in unsigned))
    if registrations == 0:
        zh.append("尚未录入抵押登记")
        en.append("no mortgage registration is recorded")

    needed, kinds = devices_needed(condition)
    bound = [row for row in devices if row.get("status") == "bound"]
    missing_kinds = [kind for kind in kinds if not any(row.get("kind") == kind for row in bound)]
    if len(bound) < needed or missing_kinds:
        which_zh = "（二手车须有线、无线各一台）" if kinds else ""
        which_en = " (a used car needs one wired and one wireless)" if kinds else ""
        zh.append(f"已绑定的 GPS 设备 {len(bound)} 台，至少需要 {needed} 台{which_zh}")
        en.append(f"{len(bound)} GPS device(s) are bound where {needed} are needed{which_en}")

    if not zh:
        return None
    return Refusal("The mortgage cannot be registered yet: " + "; ".join(en) + ".",
                   "暂不能完成抵押登记：" + "；".join(zh) + "。")


_STATUS = {"draft": ("未发起签署", "not sent"), "sent": ("待签署", "sent, awaiting signature"), "declined": ("已拒签", "declined"),
           "expired": ("已过期", "expired")}


def _status_zh(status: str | None) -> str:
    return _STATUS.get(status or "", ("未生成", "not generated"))[0]


def _status_en(status: str | None) -> str:
    return _STATUS.get(status or "", ("未生成", "not generated"))[1]
