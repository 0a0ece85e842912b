"""A migrated guarantee app with one user per role, valid master data, and helpers that move a loan along its flow."""

from __future__ import annotations

import datetime
import importlib
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import stdnum.cn.ric
import stdnum.cn.uscc
from stdnum import luhn
from vininfo import Vin

from integrations.e_signature import sandbox_pdf
from runtime.access import SYSTEM_ACTOR, Actor
from runtime.app import Runtime
from runtime.attachments import Attachments
from runtime.errors import ValidationFailed
from runtime.hook_records import HookRecords
from runtime.hooks import HookContext, registry
from runtime.hook_loading import load_app_hooks
from runtime.migrate import migrate
from runtime.permission_admin import PermissionAdmin
from runtime.records import RecordService
from runtime.settings import Settings
from tests.conftest import REPOSITORY

GUARANTEE = REPOSITORY / "configs" / "guarantee"
SYSTEM = Actor(id="seed", roles=("system",), org_unit="head_office")
DEALER_UNIT, OTHER_DEALER_UNIT, BRANCH = "dealer_bj_yizhuang", "dealer_sh_pudong", "beijing_branch"
#: The user of each role, with the unit they work in.
USERS = {
    "dealer": ("dealer_staff", DEALER_UNIT), "other_dealer": ("dealer_staff", OTHER_DEALER_UNIT),
    "credit": ("credit_officer", BRANCH), "risk": ("risk_officer", BRANCH), "risk2": ("risk_officer", BRANCH), "bank": ("bank_liaison", BRANCH),
    "operations": ("operations_officer", BRANCH), "finance": ("finance", "finance_department"),
    "committee1": ("committee_member", "risk_department"), "committee2": ("committee_member", "risk_department"),
}
#: The values of the money steps after approval, as the users of each role enter them.
ADVANCE = {"advance_amount": Decimal("120000"), "advance_date": datetime.date(2026, 3, 2)}
#: The mortgage registration the operations officer enters, less the application.
REGISTRATION = {"authority": "北京市公安局公安交通管理局车辆管理所", "mortgagee": "bank", "registered_on": datetime.date(2026, 3, 5),
                "registration_certificate_no": "110012345678", "certificate_custody": "guarantor"}
DISBURSEMENT = {"disbursed_amount": Decimal("120000"), "disbursed_on": datetime.date(2026, 3, 10),
                "first_due_date": datetime.date(2026, 4, 30)}
#: The document checklist of the products the tests create, as the standard products of the catalog have it.
CHECKLIST = {"submit": ["id_card", "driving_licence", "income_proof", "purchase_contract", {"type": "vehicle_licence", "when": "used_vehicle"},
                        {"type": "marriage_certificate", "when": "married"}],
             "credit_approve": ["bank_statement"], "advance": ["down_payment_receipt", "purchase_invoice"]}
#: The document types a new application gets, enough for every step of CHECKLIST with a new car and an unmarried borrower.
DOCUMENTS = ("id_card", "driving_licence", "income_proof", "purchase_contract", "bank_statement", "down_payment_receipt",
             "purchase_invoice")


def disbursement_values(record: dict[str, Any]) -> dict[str, Any]:
    """Return what the bank liaison enters on the disbursement step: DISBURSEMENT and the notice's own number."""
    return {**DISBURSEMENT, "disbursement_notice_no": f"FK{record['id']:06d}"}


def deduction_values(record: dict[str, Any]) -> dict[str, Any]:
    """Return what finance enters on the deduction step: the bank's reference of the deduction."""
    return {"deduction_bank_reference": f"HK{record['id']:06d}"}


def hooks_module(name: str) -> ModuleType:
    """Return a module of the app's hook package, loading the app's hooks first."""
    load_app_hooks(GUARANTEE, "guarantee")
    return importlib.import_module(f"guarantee_hooks.{name}")


def resident_id(sequence: int, birth: str = "19850505") -> str:
    """Return a valid resident ID number with the given sequence digits (the 15th to 17th)."""
    prefix = f"110105{birth}{sequence:03d}"
    return prefix + stdnum.cn.ric.calc_check_digit(prefix + "0")


def card_number(serial: int) -> str:
    body = f"622202{serial:012d}"
    return body + luhn.calc_check_digit(body)


def messages(error: ValidationFailed, lang: str = "en") -> str:
    """Return the messages of a refused operation as one line, each after the field it names."""
    return " | ".join(f"{path}: {item.message_en if lang == 'en' else item.message_zh}"
                      for path, items in error.errors.items() for item in items)


class World:
    def __init__(self, database_url: str, data_dir: Path, app: Path = GUARANTEE) -> None:
        settings = Settings(data_dir=data_dir, database_url=database_url, redis_url=None, secret_key="test-secret")
        self.runtime = Runtime.open(app, settings)
        migrate(self.runtime.engine, self.runtime.schema, self.runtime.model, backup_root=self.runtime.backup_root)
        admin = PermissionAdmin(self.runtime.permissions())
        for user, (role, unit) in USERS.items():
            admin.add_user(SYSTEM, user, user, user, unit)
            admin.assign(SYSTEM, user, role, unit)
        self.users: RecordService = self.runtime.records_for_users()
        self.attachments = Attachments(self.users, self.runtime.files)
        self.count = 0
        bank = self.system_create("bank", {"code": "ICBC", "name": "中国工商银行"})
        self.bank = bank

    def close(self) -> None:
        self.runtime.close()

    def actor(self, user: str) -> Actor:
        role, unit = USERS[user]
        return Actor(id=user, name=user, roles=(role,), org_unit=unit)

    def system_create(self, entity: str, values: dict[str, Any], unit: str = DEALER_UNIT) -> int:
        reason = "test data" if self.runtime.model.entities[entity].reason_required else None
        actor = Actor(id="seed", roles=("system",), org_unit=unit)
        return int(self.runtime.records.create(actor, entity, values, reason=reason)["id"])

    def product(self, flow: str = "standard", method: str = "equal_instalment", **extra: Any) -> int:
        self.count += 1
        values = {"code": f"P_{self.count:03d}", "name": f"产品{self.count}", "bank": self.bank, "repayment_method": method,
                  "terms": [12, 24, 36], "annual_rate": Decimal("0.06") if method != "card_instalment" else Decimal(0),
                  "fee_rate": Decimal("0.0035") if method == "card_instalment" else Decimal(0),
                  "guarantee_fee_rate": Decimal("0.015"), "min_down_payment_ratio": Decimal("0.3"), "max_ltv": Decimal("0.7"),
                  "max_amount": Decimal("800000"), "flow": flow, "document_checklist": CHECKLIST, **extra}
        return self.system_create("loan_product", values, "head_office")

    def customer(self, sequence: int = 123, unit: str = DEALER_UNIT, **extra: Any) -> int:
        self.count += 1
        values = {"name": f"客户{self.count}", "id_number": resident_id(sequence + self.count % 10), "phone": f"139{self.count:08d}",
                  "birth_date": datetime.date(1985, 5, 5), "monthly_income": Decimal("30000"), "address": f"北京市朝阳区测试路{self.count}号",
                  "consent_signed_at": datetime.datetime(2026, 1, 5, 9, 30, tzinfo=datetime.timezone.utc), **extra}
        return self.system_create("customer", values, unit)

    def dealer(self, unit: str = DEALER_UNIT, **extra: Any) -> int:
        self.count += 1
        first = f"91110000{600037300 + self.count:09d}"
        name = f"经销商{self.count}"
        values = {"name": name, "credit_code": first + stdnum.cn.uscc.calc_check_digit(first), "legal_representative": "张三",
                  "cooperation_status": "active", "rating": "A", "bank_name": "中国工商银行北京亦庄支行", "account_name": name,
                  "bank_account": card_number(self.count), "quota": Decimal("5000000"), **extra}
        return self.system_create("dealer", values, unit)

    def vehicle(self, unit: str = DEALER_UNIT, **extra: Any) -> int:
        self.count += 1
        serial = f"LSVAU2180N218{self.count:04d}"
        vin = next(candidate for candidate in (serial[:8] + check + serial[9:] for check in "0123456789X")
                   if Vin(candidate).verify_checksum(check_year=False))
        return self.system_create("vehicle", {"brand": "大众", "vin": vin, "price": Decimal("200000"), **extra}, unit)

    def application(self, product: int, *, customer: int | None = None, dealer: int | None = None,
                    loan_amount: str = "120000", user: str = "dealer", documents: tuple[str, ...] = DOCUMENTS,
                    **extra: Any) -> dict[str, Any]:
        """Create a draft as dealer staff and attach a file of each of `documents`; `extra` replaces or adds field values."""
        values = {"customer": customer or self.customer(), "dealer": dealer or self.dealer(), "product": product,
                  "vehicle": self.vehicle(), "vehicle_price": Decimal("200000"), "down_payment": Decimal("60000"),
                  "loan_amount": Decimal(loan_amount), "term_months": 36, **extra}
        record = self.users.create(self.actor(user), "loan_application", values)
        for kind in documents:
            record = self.upload(record, kind, user)
        return record

    def upload(self, record: dict[str, Any], kind: str, user: str = "dealer") -> dict[str, Any]:
        """Attach a small PDF as a document of type `kind` (the field doc_<kind>)."""
        return self.attachments.attach(self.actor(user), "loan_application", record["id"], f"doc_{kind}", sandbox_pdf([kind]),
                                       filename=f"{kind}.pdf", version=record["version"])

    def home_visit(self, record: dict[str, Any], conclusion: str = "pass", user: str = "credit", **extra: Any) -> dict[str, Any]:
        """File a home-visit report on the application as the credit officer; return the application as it is then."""
        values = {"application": record["id"], "visited_on": datetime.date(2026, 2, 20), "visitor": "信审专员",
                  "address_visited": "北京市朝阳区测试路 1 号", "residence_confirmed": True, "conclusion": conclusion,
                  "remarks": None if conclusion == "pass" else "邻居称借款人已搬离", **extra}
        self.users.create(self.actor(user), "home_visit", values)
        return self.read(record, user)

    def fire(self, record: dict[str, Any], transition: str, user: str, comment: str | None = None,
             values: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.users.transition(self.actor(user), "loan_application", record["id"], transition, version=record["version"],
                                     comment=comment, values=values)

    def read(self, record: dict[str, Any], user: str = "finance") -> dict[str, Any]:
        return self.users.get(self.actor(user), "loan_application", record["id"])


def to_approved_standard(world: World, record: dict[str, Any]) -> dict[str, Any]:
    """Move a draft of the standard flow to approved."""
    record = world.fire(record, "submit", "dealer")
    record = world.fire(record, "forward", "dealer")
    record = world.fire(record, "start_credit_review", "credit")
    record = world.fire(world.home_visit(record), "credit_approve", "credit")
    record = world.fire(record, "risk_approve", "risk")
    return world.fire(record, "bank_approve", "bank")


def imei(serial: int, *, offline: bool = False) -> str:
    """Return a valid 15-digit IMEI from the serial onwards; the GPS sandbox reports it offline when its check digit is 0."""
    while True:
        body = f"86{serial:012d}"
        number = body + luhn.calc_check_digit(body)
        if number.endswith("0") == offline:
            return number
        serial += 1


def send_contracts(world: World, record: dict[str, Any]) -> dict[str, Any]:
    """Generate and send the loan's contracts as the operations officer."""
    return world.users.run_action(world.actor("operations"), "loan_application", record["id"], "send_contracts",
                                  version=record["version"])


def register(world: World, record: dict[str, Any], serial: int | None = None) -> dict[str, Any]:
    """Enter the loan's mortgage registration as the operations officer."""
    world.count += 1
    values = {"application": record["id"], "mortgage_no": f"DY{serial or world.count:08d}", **REGISTRATION}
    return world.users.create(world.actor("operations"), "mortgage_registration", values)


def install_gps(world: World, record: dict[str, Any], serial: int | None = None, kind: str = "wired",
                bind: bool = True, offline: bool = False) -> dict[str, Any]:
    """Record a GPS device on the loan's vehicle and, with `bind`, bind it through the GPS platform, as the operations officer."""
    world.count += 1
    values = {"imei": imei(serial or 1000 + world.count * 10, offline=offline), "vendor": "途强", "kind": kind, "application": record["id"],
              "installed_on": datetime.date(2026, 3, 4), "installer": "李师傅"}
    device = world.users.create(world.actor("operations"), "gps_device", values)
    if bind:
        device = world.users.run_action(world.actor("operations"), "gps_device", device["id"], "bind", version=device["version"])
    return device


def collateral(world: World, record: dict[str, Any]) -> dict[str, Any]:
    """Send the contracts (the sandbox signs them at once), register the mortgage and bind one GPS device; return the loan."""
    record = send_contracts(world, record)
    register(world, record)
    install_gps(world, record)
    return world.read(record, "operations")


def after_approval(world: World, record: dict[str, Any]) -> dict[str, Any]:
    """Move an approved loan to repaying."""
    record = world.fire(record, "issue_card", "bank", values={"repayment_card": card_number(999)})
    record = world.fire(record, "advance", "finance", values=ADVANCE)
    record = world.fire(collateral(world, record), "register_mortgage", "operations")
    record = world.fire(record, "disburse", "bank", values=disbursement_values(record))
    return world.fire(record, "deduct", "finance", values=deduction_values(record))


def pay_all(world: World, record: dict[str, Any]) -> dict[str, Any]:
    """Record every instalment as paid in full on its due date, as finance."""
    rows = [{**row, "paid_on": row["due_date"], "paid_amount": row["amount"]} for row in world.read(record)["instalments"]]
    return world.users.update(world.actor("finance"), "loan_application", record["id"], {"instalments": rows}, version=record["version"])


def compute_overdue(world: World, day: datetime.date) -> None:
    """Run the daily overdue schedule's hook as the system, with `day` as the business date."""
    context = HookContext(SYSTEM_ACTOR, "", {}, "schedule", records=HookRecords(world.runtime.records, SYSTEM_ACTOR),
                          extra={"today": day})
    registry.get("guarantee.compute_overdue")(context)
