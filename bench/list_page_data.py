"""Test data of the list-page benchmark: reference records through the runtime, loan applications straight into the table.

The referenced records (banks and products from the catalogs, dealers, customers, vehicles)
are created through the record service, as an import would, so they pass every check. The
loan applications are inserted with Core executemany in batches, with the values the
runtime would have computed and a state spread over the flow: this is setup, not a measured path.
"""

from __future__ import annotations

import datetime
import random
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import stdnum.cn.ric
import stdnum.cn.uscc
from sqlalchemy import insert, select
from vininfo import Vin

from runtime.access import SYSTEM_ACTOR, Actor
from runtime.app import Runtime
from runtime.catalogs import sync_catalogs
from runtime.permission_admin import PermissionAdmin

ENTITY = "loan_application"
DEALER_UNITS = ("dealer_bj_yizhuang", "dealer_sh_pudong")
DEALERS = 20
CUSTOMERS = 500
VEHICLES = 300
#: Terms drawn with equal weight, so that the filter term_months=36 matches about a third of the rows.
TERMS = (12, 24, 36)
FILTER_TERM = 36
#: Rough share of applications in each state of the standard flow, as a portfolio of two years would have them.
STATE_WEIGHTS = {
    "draft": 3, "submitted": 2, "received": 2, "credit_review": 3, "risk_review": 2, "committee_review": 1,
    "bank_review": 2, "returned": 2, "approved": 2, "card_issued": 1, "advanced": 2, "mortgaged": 2,
    "disbursed": 3, "repaying": 45, "settled": 12, "released": 8, "rejected": 6, "cancelled": 2,
}
_REASON = "基准测试数据 / benchmark data"
_CENTS = Decimal("0.01")


@dataclass(frozen=True)
class References:
    #: (dealer id, the dealer's org unit) pairs.
    dealers: list[tuple[int, str]]
    customers: list[int]
    vehicles: list[int]
    #: Product id -> (guarantee fee rate, annual rate, flow name, flow version).
    products: dict[int, tuple[Decimal, Decimal, str | None, str | None]]


def _creator(unit: str) -> Actor:
    return Actor(id="bench_loader", name="基准数据", roles=("system",), org_unit=unit)


def _customer_values(number: int) -> dict[str, Any]:
    birth = datetime.date(1970 + number % 30, 1 + number % 12, 1 + number % 28)
    prefix = f"110105{birth:%Y%m%d}{number % 1000:03d}"
    return {
        "name": f"客户{number:04d}",
        "id_number": prefix + stdnum.cn.ric.calc_check_digit(prefix + "0"),
        "phone": f"139{number:08d}",
        "birth_date": birth,
    }


def _dealer_values(number: int) -> dict[str, Any]:
    first = f"91110000{600037300 + number:09d}"
    return {"name": f"基准经销商{number:02d}", "credit_code": first + stdnum.cn.uscc.calc_check_digit(first),
            "legal_representative": "张三"}


def _vin(number: int) -> str:
    serial = f"LSVAU2180N2{number:06d}"
    return next(candidate for candidate in (serial[:8] + check + serial[9:] for check in "0123456789X")
                if Vin(candidate).verify_checksum(check_year=False))


def create_references(runtime: Runtime) -> References:
    """Create the records the applications point to, through the record service."""
    records = runtime.records
    sync_catalogs(records)
    dealers = []
    for number in range(DEALERS):
        unit = DEALER_UNITS[number % len(DEALER_UNITS)]
        dealer = records.create(_creator(unit), "dealer", _dealer_values(number), reason=_REASON)
        dealers.append((int(dealer["id"]), unit))
    customers = [int(records.create(_creator(DEALER_UNITS[number % 2]), "customer", _customer_values(number))["id"])
                 for number in range(CUSTOMERS)]
    vehicles = [int(records.create(_creator(DEALER_UNITS[number % 2]), "vehicle",
                                   {"brand": "大众", "vin": _vin(number), "price": Decimal(150_000 + number * 100)})["id"])
                for number in range(VEHICLES)]
    products = _products(runtime, dealers, customers, vehicles)
    return References(dealers, customers, vehicles, products)


def _products(runtime: Runtime, dealers: list[tuple[int, str]], customers: list[int], vehicles: list[int]) -> dict[int, Any]:
    """Return each product's rates and the flow its applications run in.

    The flow and its version are read from one application per product created through the
    runtime, so the loaded rows carry what the runtime itself would have written.
    """
    table = runtime.schema.entities["loan_product"].table
    applications = runtime.schema.entities[ENTITY].table
    with runtime.engine.connect() as connection:
        rows = connection.execute(select(table.c.id, table.c.guarantee_fee_rate, table.c.annual_rate)).all()
    products: dict[int, Any] = {}
    for index, (product_id, fee_rate, annual_rate) in enumerate(rows):
        dealer_id, unit = dealers[index % len(dealers)]
        created = runtime.records.create(_creator(unit), ENTITY, {
            "application_no": f"LA-SAMPLE-{index:04d}", "customer": customers[index], "dealer": dealer_id,
            "product": product_id, "vehicle": vehicles[index], "vehicle_price": Decimal("200000"),
            "down_payment": Decimal("80000"), "loan_amount": Decimal("100000"), "term_months": 36,
        })
        with runtime.engine.connect() as connection:
            flow = connection.execute(select(applications.c.flow, applications.c.flow_version)
                                      .where(applications.c.id == created["id"])).one()
        products[int(product_id)] = (Decimal(fee_rate or 0), Decimal(annual_rate or 0), flow.flow, flow.flow_version)
    return products


def _monthly_payment(loan: Decimal, annual_rate: Decimal, months: int) -> Decimal:
    """Return the equal-instalment payment; a rate of zero spreads the principal evenly."""
    if annual_rate == 0:
        return (loan / months).quantize(_CENTS, ROUND_HALF_UP)
    monthly = annual_rate / 12
    factor = (1 + monthly) ** months
    return (loan * monthly * factor / (factor - 1)).quantize(_CENTS, ROUND_HALF_UP)


def _row(number: int, generator: random.Random, references: References, product_ids: list[int], states: list[str],
         weights: list[int], now: datetime.datetime, codec: Any) -> dict[str, Any]:
    created = now - datetime.timedelta(seconds=generator.uniform(0, 2 * 365 * 24 * 3600))
    dealer_id, unit = generator.choice(references.dealers)
    product_id = generator.choice(product_ids)
    fee_rate, annual_rate, flow, flow_version = references.products[product_id]
    price = Decimal(generator.randrange(800, 4_000)) * 100
    down = (price * Decimal(generator.randrange(30, 50)) / 100).quantize(_CENTS)
    loan = price - down
    term = generator.choice(TERMS)
    state = generator.choices(states, weights)[0]
    application_no = f"LA{created:%Y%m}{number:08d}"
    score = generator.randrange(350, 900)
    risk_level = "high"
    if score >= 700:
        risk_level = "low"
    elif score >= 550:
        risk_level = "medium"
    return {
        "created_at": created,
        "created_by": f"dealer_staff_{unit}",
        "updated_at": created + datetime.timedelta(hours=generator.uniform(0, 72)),
        "updated_by": f"dealer_staff_{unit}",
        "org_unit": unit,
        "version": 1,
        "deleted_at": None,
        "state": state,
        "flow": flow,
        "flow_version": flow_version,
        "search_text": codec.search_text({"application_no": application_no}),
        "application_no": application_no,
        "customer": generator.choice(references.customers),
        "co_borrower": None,
        "dealer": dealer_id,
        "product": product_id,
        "vehicle": generator.choice(references.vehicles),
        "vehicle_price": price,
        "down_payment": down,
        "loan_amount": loan,
        "term_months": term,
        "ltv": (loan / price).quantize(Decimal("0.0001"), ROUND_HALF_UP),
        "down_payment_ratio": (down / price).quantize(Decimal("0.0001"), ROUND_HALF_UP),
        "guarantee_fee": (loan * fee_rate).quantize(_CENTS, ROUND_HALF_UP),
        "monthly_payment": _monthly_payment(loan, annual_rate, term),
        "apr": annual_rate,
        "scorecard_score": score,
        "risk_level": risk_level,
        "home_visit_done": generator.random() < 0.6,
        "gps_installed": state in ("advanced", "mortgaged", "disbursed", "repaying", "settled", "released"),
    }


def bulk_load(runtime: Runtime, references: References, rows: int, batch: int = 10_000) -> float:
    """Insert `rows` loan applications in batches of `batch`, rebuild the indexes and ANALYZE; return the seconds taken."""
    table = runtime.schema.entities[ENTITY].table
    codec = runtime.records.codecs[ENTITY]
    generator = random.Random(2026)
    now = datetime.datetime.now(datetime.timezone.utc)
    product_ids = sorted(references.products)
    states, weights = list(STATE_WEIGHTS), list(STATE_WEIGHTS.values())
    started = time.perf_counter()
    # Indexes are built once after the load: updating two dozen of them row by row took most of the load time.
    indexes = sorted(table.indexes, key=lambda index: str(index.name))
    with runtime.engine.begin() as connection:
        for index in indexes:
            index.drop(connection)
    loaded = 0
    while loaded < rows:
        size = min(batch, rows - loaded)
        chunk = [_row(number, generator, references, product_ids, states, weights, now, codec)
                 for number in range(loaded, loaded + size)]
        with runtime.engine.begin() as connection:
            connection.execute(insert(table), chunk)
        loaded += size
        if loaded % 100_000 == 0 or loaded == rows:
            print(f"  loaded {loaded:,} rows in {time.perf_counter() - started:.0f} s", flush=True)
    with runtime.engine.begin() as connection:
        for index in indexes:
            index.create(connection)
    print(f"  created {len(indexes)} indexes in {time.perf_counter() - started:.0f} s", flush=True)
    if runtime.engine.dialect.name == "postgresql":
        # VACUUM sets the visibility map, as autovacuum would on a live table, so that index-only scans need not
        # visit the heap. It cannot run inside a transaction.
        with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    else:
        # make_engine issues BEGIN on every SQLite connection use, so ANALYZE needs a committed transaction.
        with runtime.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def add_reader(runtime: Runtime, user_id: str, password: str, role: str, unit: str) -> None:
    """Create a user with one role in one unit and a password, as an administrator would."""
    permission_admin = PermissionAdmin(runtime.permissions())
    permission_admin.add_user(SYSTEM_ACTOR, user_id, user_id, "基准管理员", unit)
    permission_admin.assign(SYSTEM_ACTOR, user_id, role, unit)
    runtime.accounts().set_password(SYSTEM_ACTOR, user_id, password)
