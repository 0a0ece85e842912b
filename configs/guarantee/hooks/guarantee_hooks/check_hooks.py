"""Hooks of forwarding and reviewing an application: identity check, anti-fraud rules and the credit report."""

from __future__ import annotations

import datetime
import logging
from typing import Any, Mapping

from runtime.hook_records import HookRecords
from runtime.hooks import HookContext, HookError, hook
from runtime.record_query import Condition, Group, ListQuery

from .anti_fraud import Facts, Finding, age_on, evaluate, read_rules
from .context import DATA_FOLDER, birth_date_of, created_day, providers_of, records_of, reference_id, required_reference, system_records
from .schedule import add_months

logger = logging.getLogger(__name__)

RULES = read_rules(DATA_FOLDER / "anti_fraud_rules.yaml")
#: The reason of a credit report query when the integration's settings give none.
DEFAULT_QUERY_REASON = "loan_approval"
#: The prefix of the warning line the credit report adds to anti_fraud_warnings.
CREDIT_LINE_PREFIX = "征信："

IDENTITY_MISMATCH = {
    "name_mismatch": ("the name does not match the ID number", "姓名与身份证号不一致"),
    "phone_mismatch": ("the mobile number is not registered to this person", "手机号不属于该身份证持有人"),
    "no_record": ("no record of this ID number was found", "未查到该身份证号的记录"),
}


#: The application's fields that name a person the checks look at, after the borrower.
OTHER_PEOPLE = ("co_borrower", "guarantor")
#: The name of each field's person in messages, in English and Chinese.
ROLE_NAMES = {"customer": ("borrower", "借款人"), "co_borrower": ("co-borrower", "共同借款人"), "guarantor": ("personal guarantor", "保证人")}


def _people(context: HookContext, reader: HookRecords) -> list[tuple[str, dict[str, Any]]]:
    """Return the borrower, then the co-borrower and the personal guarantor when there are, read in clear, with the field each comes from."""
    people = [("customer", reader.get("customer", required_reference(context, "customer", "borrower", "借款人")))]
    for field in OTHER_PEOPLE:
        person = reference_id(context.record.get(field))
        if person is not None:
            people.append((field, reader.get("customer", person)))
    return people


@hook("guarantee.run_identity_check")
def run_identity_check(context: HookContext) -> dict[str, Any]:
    """Check that the name, ID number and mobile of the borrower (and co-borrower and guarantor) belong together."""
    provider = providers_of(context)["identity_check"]
    results = []
    for field, person in _people(context, system_records(context)):
        result = provider.verify(person["name"], person["id_number"], person.get("phone") or None)
        if not result.matched:
            en, zh = IDENTITY_MISMATCH.get(result.reason or "", ("the identity check did not match", "实名认证未通过"))
            raise HookError(f"The identity check of {person['name']} failed: {en}; correct the customer record",
                            f"{person['name']} 实名认证未通过：{zh}；请核对客户信息", field=field)
        results.append(f"{person['name']} 一致（核验号 {result.request_id}）")
    return {"identity_check_result": "；".join(results)}


def _recent_applications(reader: HookRecords, context: HookContext, field: str, value: Any, window_days: int) -> tuple[str, ...]:
    """Return the numbers of other applications of the last `window_days` days whose borrower has `field` equal to `value`."""
    if value is None or str(value).strip() == "":
        return ()
    customers = reader.list("customer", ListQuery(where=Condition(field, "eq", value), limit=500, fields=("name",))).rows
    if not customers:
        return ()
    since = created_day(context.record) - datetime.timedelta(days=window_days)
    where = Group("and", (Condition("customer", "in", [row["id"] for row in customers]), Condition("created_at", "ge", since.isoformat())))
    rows = reader.list("loan_application", ListQuery(where=where, limit=500, fields=("application_no",))).rows
    own_id = int(context.record["id"])
    return tuple(str(row.get("application_no") or f"#{row['id']}") for row in rows if int(row["id"]) != own_id)


@hook("guarantee.run_anti_fraud")
def run_anti_fraud(context: HookContext) -> dict[str, Any]:
    """Screen the borrower with the provider, apply anti_fraud_rules.yaml, stop on a blacklist hit, and record the warnings."""
    return _anti_fraud(context, stop=True)


@hook("guarantee.screen_anti_fraud")
def screen_anti_fraud(context: HookContext) -> dict[str, Any]:
    """Like run_anti_fraud, but a finding that stops is recorded in anti_fraud_stopped for the flow's automatic rejection."""
    return _anti_fraud(context, stop=False)


def _stop_message(outcome_stops: tuple[Finding, ...], people: list[tuple[str, dict[str, Any]]]) -> HookError:
    """Return the refusal of a stopped application, naming the person the finding is about and the field they are in."""
    blacklisted = [(field, person) for field, person in people if person.get("blacklisted")]
    field, person = blacklisted[0] if blacklisted and any(item.rule == "blacklist" for item in outcome_stops) else people[0]
    # Dealer staff forward applications and may not see the blacklist, so the message names no list.
    return HookError(f"{person['name']} did not pass the guarantor's anti-fraud screening, so the application cannot be "
                     "forwarded; contact the guarantor's risk department",
                     f"{person['name']} 未通过担保公司的反欺诈筛查，申请不能转交；请联系担保公司风险管理部", field=field)


def _anti_fraud(context: HookContext, *, stop: bool) -> dict[str, Any]:
    reader = system_records(context)
    people = _people(context, reader)
    borrower = people[0][1]
    provider = providers_of(context)["anti_fraud"]
    screening = provider.screen(borrower["name"], borrower["id_number"], borrower["phone"])
    dealer = reader.get("dealer", required_reference(context, "dealer", "dealer", "经销商"))

    birth = birth_date_of(borrower)
    term_end = add_months(created_day(context.record), int(context.record.get("term_months") or 0))
    phone_rule, address_rule = RULES["same_phone"].settings, RULES["same_address"].settings
    facts = Facts(
        blacklisted=tuple(person["name"] for _, person in people if person.get("blacklisted")),
        provider_hits=tuple((hit.list_name, hit.reason) for hit in screening.hits),
        same_phone=_recent_applications(reader, context, "phone", borrower.get("phone"), phone_rule["window_days"]),
        same_address=_recent_applications(reader, context, "address", borrower.get("address"), address_rule["window_days"]),
        age_at_term_end=age_on(birth, term_end) if birth is not None else None,
        other_ages=tuple((ROLE_NAMES[field][0], ROLE_NAMES[field][1], str(person["name"]), _age_at(person, term_end))
                         for field, person in people[1:]),
        dealer_name=str(dealer.get("name") or ""),
        dealer_rating=dealer.get("rating"),
        dealer_status=dealer.get("cooperation_status"),
    )
    outcome = evaluate(RULES, facts)
    if outcome.stops:
        logger.info("loan_application %s stopped by anti-fraud rules %s", context.record.get("id"),
                    ", ".join(sorted({item.rule for item in outcome.stops})))
        if stop:
            raise _stop_message(outcome.stops, people)
    return {"anti_fraud_score": screening.score, "anti_fraud_warnings": outcome.text() or None,
            "anti_fraud_stopped": bool(outcome.stops)}


def _age_at(person: Mapping[str, Any], day: datetime.date) -> int | None:
    birth = birth_date_of(person)
    return age_on(birth, day) if birth is not None else None


def credit_warning(report: Any) -> str | None:
    """Return the warning line of a credit report with anything overdue, or None for a clean one."""
    if not (report.current_overdue_count or report.overdue_count_24m):
        return None
    return (f"{CREDIT_LINE_PREFIX}当前逾期账户 {report.current_overdue_count} 个，逾期金额 {report.overdue_amount:,.2f} 元；"
            f"近 24 个月逾期 {report.overdue_count_24m} 个月，最长连续 {report.max_overdue_months} 个月")


def with_credit_line(warnings: str | None, line: str | None) -> str | None:
    """Return the warnings with the credit report's line replaced by `line`."""
    kept = [item for item in (warnings or "").splitlines() if item and not item.startswith(CREDIT_LINE_PREFIX)]
    if line:
        kept.append(line)
    return "\n".join(kept) or None


#: The credit_check party of each application field a person comes from.
PARTIES = {"customer": "borrower", "co_borrower": "co_borrower", "guarantor": "guarantor"}


def credit_check_values(application: Mapping[str, Any], field: str, person: Mapping[str, Any], consent: str, reason: str,
                        report: Any) -> dict[str, Any]:
    """Return the credit_check record of one query: who, under which consent, and the report's summary counts."""
    return {
        "application": int(application["id"]), "person": int(person["id"]), "party": PARTIES[field], "report_id": report.report_id,
        "queried_at": report.queried_at, "consent": consent, "query_reason": reason, "thin_file": report.thin_file,
        "current_overdue_count": report.current_overdue_count, "overdue_amount": report.overdue_amount,
        "overdue_count_24m": report.overdue_count_24m, "max_overdue_months": report.max_overdue_months,
        "loan_count": report.loan_count, "loan_balance": report.loan_balance, "credit_card_used": report.credit_card_used,
        "queries_3m": report.queries_3m, "queries_6m": report.queries_6m,
    }


def authorization_id(customer: Mapping[str, Any], field: str = "customer") -> str:
    """Return the id of the person's signed authorization: the customer and the time of the consent on record."""
    signed = customer.get("consent_signed_at")
    if not isinstance(signed, datetime.datetime):
        raise HookError(f"{customer['name']} has not signed the personal information consent, which the credit report query "
                        "needs; record the consent on the customer first",
                        f"{customer['name']} 尚未签署个人信息授权，不能查询征信；请先在客户档案中登记授权时间", field=field)
    return f"C{customer['id']}-{signed:%Y%m%d%H%M%S}"


@hook("guarantee.pull_credit_report")
def pull_credit_report(context: HookContext) -> dict[str, Any]:
    """Query the credit report of the borrower, the co-borrower and the personal guarantor, keep a credit_check record of each query,
    and store the borrower's overdue counts on the application, where the scorecard reads them."""
    providers = providers_of(context)
    reader = system_records(context)
    people = _people(context, reader)
    declared = providers.declared("credit_report")
    reason = str(declared.settings.get("query_reason") or DEFAULT_QUERY_REASON) if declared is not None else DEFAULT_QUERY_REASON
    # The records belong to the application's unit, so the reviewers who read the application read them too.
    writer = records_of(context).as_system(f"credit checks of loan_application {context.record.get('id')}",
                                           org_unit=context.record.get("org_unit"))
    reports = []
    for field, person in people:
        consent = authorization_id(person, field)
        report = providers["credit_report"].query(person["name"], person["id_number"], consent, reason=reason)
        writer.create("credit_check", credit_check_values(context.record, field, person, consent, reason, report))
        reports.append(report)
    report = reports[0]
    return {
        "credit_report_id": report.report_id,
        "credit_current_overdue_count": report.current_overdue_count,
        "credit_overdue_count_24m": report.overdue_count_24m,
        "credit_max_overdue_months": report.max_overdue_months,
        "anti_fraud_warnings": with_credit_line(context.record.get("anti_fraud_warnings"), credit_warning(report)),
    }
