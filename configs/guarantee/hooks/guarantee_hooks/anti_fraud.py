"""Anti-fraud rules (反欺诈规则), read from anti_fraud_rules.yaml, applied to the facts of one application.

Each rule has an action: "stop" rejects forwarding the application with the finding's
message, "warn" records the finding on the application for the reviewers. The hooks gather
the facts (the blacklist flags, the provider's screening, other applications with the same
mobile number or address, the borrower's age, the dealer); `evaluate` is pure.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import yaml

from integrations.anti_fraud import LISTS as PROVIDER_LISTS

ACTIONS = ("stop", "warn")
RULES = ("blacklist", "same_phone", "same_address", "age_at_term_end", "dealer_watch", "provider_warnings")
#: The settings each rule takes besides `action`.
SETTINGS = {
    "blacklist": ("provider_lists",),
    "same_phone": ("window_days", "max_other_applications"),
    "same_address": ("window_days", "max_other_applications"),
    "age_at_term_end": ("min_years", "max_years"),
    "dealer_watch": ("ratings", "cooperation_statuses"),
    "provider_warnings": ("provider_lists",),
}


class RulesError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    action: str
    settings: dict[str, Any]


@dataclass(frozen=True)
class Finding:
    rule: str
    en: str
    zh: str


@dataclass(frozen=True)
class Facts:
    """What the rules look at, gathered by the hook."""

    #: Names of the borrower, co-borrower and personal guarantor on the guarantee company's blacklist.
    blacklisted: tuple[str, ...] = ()
    #: The provider's list hits as (list name, reason).
    provider_hits: tuple[tuple[str, str], ...] = ()
    #: Application numbers (or ids) of other recent applications with the same mobile number, or address.
    same_phone: tuple[str, ...] = ()
    same_address: tuple[str, ...] = ()
    #: The borrower's age in whole years at the end of the term, when the birth date is known.
    age_at_term_end: int | None = None
    #: The co-borrower's and personal guarantor's ages at the end of the term, as (role in English, role in Chinese, name, age).
    other_ages: tuple[tuple[str, str, str, int | None], ...] = ()
    dealer_name: str = ""
    dealer_rating: str | None = None
    dealer_status: str | None = None


@dataclass(frozen=True)
class Outcome:
    stops: tuple[Finding, ...] = field(default_factory=tuple)
    warnings: tuple[Finding, ...] = field(default_factory=tuple)

    def text(self, lang: str = "zh-CN") -> str:
        """Return the findings as lines for the application's record, stops first."""
        items = self.stops + self.warnings
        return "\n".join(item.zh if lang == "zh-CN" else item.en for item in items)


def read_rules(path: Path) -> dict[str, Rule]:
    """Read and check anti_fraud_rules.yaml; raise RulesError naming the file and the rule of a problem."""
    document = _load(path)
    if not isinstance(document, dict) or set(document) != set(RULES):
        found = sorted(document) if isinstance(document, dict) else document
        raise RulesError(f"{path}: expected exactly the rules {', '.join(RULES)}; found {found!r}")
    rules = {}
    for name in RULES:
        spec = document[name]
        if not isinstance(spec, dict) or spec.get("action") not in ACTIONS:
            raise RulesError(f"{path}: {name}.action must be one of {', '.join(ACTIONS)}")
        unknown = sorted(str(key) for key in spec if key != "action" and key not in SETTINGS[name])
        if unknown:
            raise RulesError(f"{path}: {name} has the unknown setting(s) {', '.join(unknown)}. "
                             f"Its settings are action, {', '.join(SETTINGS[name])}")
        rules[name] = Rule(spec["action"], {key: value for key, value in spec.items() if key != "action"})
    for name in ("same_phone", "same_address"):
        for key in ("window_days", "max_other_applications"):
            if not _whole(rules[name].settings.get(key)) or rules[name].settings[key] < 0:
                raise RulesError(f"{path}: {name}.{key} must be a whole number of at least 0")
    ages = rules["age_at_term_end"].settings
    if not _whole(ages.get("min_years")) or not _whole(ages.get("max_years")) or ages["min_years"] > ages["max_years"]:
        raise RulesError(f"{path}: age_at_term_end needs whole min_years and max_years, min_years not above max_years")
    for key in ("ratings", "cooperation_statuses"):
        values = rules["dealer_watch"].settings.get(key)
        if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
            raise RulesError(f"{path}: dealer_watch.{key} must be a list of the dealer's {key.replace('_', ' ')} (empty for none)")
    for name in ("blacklist", "provider_warnings"):
        lists = rules[name].settings.get("provider_lists")
        if not isinstance(lists, list):
            raise RulesError(f"{path}: {name}.provider_lists must be a list of the provider's list names")
        unknown = [str(item) for item in lists if item not in PROVIDER_LISTS]
        if unknown:
            raise RulesError(f"{path}: {name}.provider_lists names {', '.join(unknown)}, which the anti-fraud service does not "
                             f"report; its lists are {', '.join(PROVIDER_LISTS)}")
    return rules


def _load(path: Path) -> Any:
    # Reading from the open file makes YAML's syntax errors name the file, with the line and column.
    try:
        with path.open(encoding="utf-8") as stream:
            return yaml.safe_load(stream)
    except yaml.YAMLError as problem:
        raise RulesError(f"{path}: invalid YAML: {problem}") from None


def _whole(value: Any) -> TypeGuard[int]:
    """Return whether a YAML value is a whole number; YAML's true and false are not."""
    return isinstance(value, int) and not isinstance(value, bool)


def age_on(birth_date: datetime.date, day: datetime.date) -> int:
    """Return the age in whole years on `day`."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def evaluate(rules: dict[str, Rule], facts: Facts) -> Outcome:
    """Apply every rule to the facts and return the findings, split by action."""
    findings = _blacklist(rules["blacklist"], facts) + _repeated(rules, facts) + _age(rules["age_at_term_end"], facts)
    findings += _dealer(rules["dealer_watch"], facts) + _provider_warnings(rules["provider_warnings"], facts)
    stops = tuple(item for item in findings if rules[item.rule].action == "stop")
    warnings = tuple(item for item in findings if rules[item.rule].action == "warn")
    return Outcome(stops, warnings)


def _blacklist(rule: Rule, facts: Facts) -> list[Finding]:
    found = [Finding("blacklist", f"{name} is on the guarantor's blacklist", f"{name} 在本公司黑名单中") for name in facts.blacklisted]
    lists = set(rule.settings["provider_lists"])
    found += [Finding("blacklist", f"The anti-fraud service lists the borrower as {list_name}: {reason}",
                      f"反欺诈服务命中名单 {list_name}：{reason}")
              for list_name, reason in facts.provider_hits if list_name in lists]
    return found


def _repeated(rules: dict[str, Rule], facts: Facts) -> list[Finding]:
    found = []
    for name, others, what_en, what_zh in (("same_phone", facts.same_phone, "mobile number", "手机号"),
                                           ("same_address", facts.same_address, "residential address", "居住地址")):
        settings = rules[name].settings
        if len(others) > settings["max_other_applications"]:
            listed = ", ".join(others)
            found.append(Finding(name, f"The same {what_en} is on {len(others)} other application(s) of the last "
                                       f"{settings['window_days']} days: {listed}",
                                 f"近 {settings['window_days']} 天内另有 {len(others)} 笔申请使用相同{what_zh}：{listed}"))
    return found


def _age(rule: Rule, facts: Facts) -> list[Finding]:
    low, high = rule.settings["min_years"], rule.settings["max_years"]
    found = []
    for en, zh, age in (("The borrower", "借款人", facts.age_at_term_end),
                        *((f"The {role_en} {name}", f"{role_zh} {name} ", age) for role_en, role_zh, name, age in facts.other_ages)):
        if age is None:
            found.append(Finding("age_at_term_end", f"{en}'s date of birth is not recorded, so the age rule could not be checked",
                                 f"{zh}未登记出生日期，无法核对年龄规则"))
        elif not low <= age <= high:
            found.append(Finding("age_at_term_end", f"{en} is {age} at the end of the term, outside {low} to {high}",
                                 f"{zh}在贷款到期时 {age} 周岁，不在 {low} 至 {high} 周岁之间"))
    return found


def _dealer(rule: Rule, facts: Facts) -> list[Finding]:
    found = []
    if facts.dealer_rating is not None and facts.dealer_rating in rule.settings["ratings"]:
        found.append(Finding("dealer_watch", f"The dealer {facts.dealer_name} is on watch: rating {facts.dealer_rating}",
                             f"经销商 {facts.dealer_name} 处于关注名单：评级 {facts.dealer_rating}"))
    if facts.dealer_status is not None and facts.dealer_status in rule.settings["cooperation_statuses"]:
        found.append(Finding("dealer_watch", f"The dealer {facts.dealer_name} is on watch: cooperation {facts.dealer_status}",
                             f"经销商 {facts.dealer_name} 处于关注名单：合作状态 {facts.dealer_status}"))
    return found


def _provider_warnings(rule: Rule, facts: Facts) -> list[Finding]:
    lists = set(rule.settings["provider_lists"])
    return [Finding("provider_warnings", f"The anti-fraud service reports {list_name}: {reason}", f"反欺诈服务提示 {list_name}：{reason}")
            for list_name, reason in facts.provider_hits if list_name in lists]
