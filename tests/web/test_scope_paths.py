"""Every way out of the system shows a user the same records: list screen, API, export, report and print.

Each user of the guarantee app, in a dealer unit, a post-loan department or head office, gets the
loan applications and customers of their data scope by each path, and the paths must agree id
for id. A record outside the scope is as absent from the API and from printing as one that
does not exist.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from runtime.access import SYSTEM_ACTOR
from runtime.record_query import ListQuery
from tests.runtime.test_permission_matrix import leaf_units
from tests.web.test_lists import LOANS, USERS, Seeded, csv_of, numbers_in, seed
from tests.web.test_print_screens import advanced

#: Loan applications (and, one each, their customers) each user's scope contains among the five seeded:
#: three of the Beijing dealer, two of the Shanghai dealer, none in repayment.
VISIBLE = {"admin": 5, "viewer": 5, "bj_manager": 3, "sh_staff": 2, "collector": 0}
#: Entities whose paths are compared, with the column that names a record in lists and exports.
ENTITIES = {"loan_application": "application_no", "customer": "name"}


@pytest.fixture
def seeded(web_app: Any) -> Seeded:
    return seed(web_app)


def api_ids(seeded: Seeded, user: str, entity: str) -> set[int] | None:
    """Return the ids the JSON API lists for the user, or None when it refuses the list."""
    token = seeded.web_app.state.accounts.create_token(SYSTEM_ACTOR, user, "scope paths")
    client = seeded.web_app.client()
    response = client.get(f"/api/{entity}", params={"limit": 100}, headers={"Authorization": f"Bearer {token}"})
    if response.status_code == 403:
        return None
    assert response.status_code == 200, response.text
    return {row["id"] for row in response.json()["data"]}


def api_reachable(seeded: Seeded, user: str, entity: str, ids: list[int]) -> set[int]:
    token = seeded.web_app.state.accounts.create_token(SYSTEM_ACTOR, user, "scope paths, one by one")
    client = seeded.web_app.client()
    reached = set()
    for record_id in ids:
        response = client.get(f"/api/{entity}/{record_id}", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code in (200, 404), (user, entity, record_id, response.status_code)
        if response.status_code == 200:
            reached.add(record_id)
    return reached


def all_ids(seeded: Seeded, entity: str) -> list[int]:
    if entity == "loan_application":
        return [loan for loans in seeded.loans.values() for loan in loans]
    return [customer for customers in seeded.customers.values() for customer in customers]


@pytest.mark.parametrize("user", sorted(USERS))
def test_list_api_and_export_agree(seeded: Seeded, user: str) -> None:
    client = seeded.client(user)
    state = seeded.web_app.state
    account = state.accounts.user(user)
    assert account is not None
    actor = state.accounts.actor(account)
    for entity, name_field in ENTITIES.items():
        listed_ids = api_ids(seeded, user, entity)
        page = client.get(f"/records/{entity}")
        if listed_ids is None:
            assert page.status_code == 403, (user, entity)
            assert api_reachable(seeded, user, entity, all_ids(seeded, entity)) == set()
            continue
        assert page.status_code == 200
        assert len(listed_ids) == VISIBLE[user], (user, entity, listed_ids)
        assert api_reachable(seeded, user, entity, all_ids(seeded, entity)) == listed_ids, (user, entity)
        linked = set(re.findall(rf'href="/records/{entity}/(\d+)"', page.text))
        assert {int(value) for value in linked} == listed_ids, (user, entity)
        if entity == "loan_application":
            assert sorted(numbers_in(page.text)) == sorted(seeded.numbers[loan] for loan in listed_ids)

        exported = client.get(f"/records/{entity}/export.csv")
        if not state.records.access.allows(actor, "export", entity):
            assert exported.status_code == 403, (user, entity)
            continue
        rows = csv_of(exported)
        column = rows[0].index(state.model.entities[entity].fields[name_field].label.zh_cn)
        names = {record_id: str(state.records.get(SYSTEM_ACTOR, entity, record_id)[name_field]) for record_id in listed_ids}
        # The users here export with the scope they read with, so the file contains the whole list.
        assert sorted(row[column] for row in rows[1:]) == sorted(names.values()), (user, entity)


def printable(seeded: Seeded, user: str, ids: list[int]) -> set[int] | None:
    """Return the loan applications whose contract the user gets as a PDF, or None when printing is refused."""
    client = seeded.client(user)
    printed = set()
    for record_id in ids:
        response = client.get(f"{LOANS}/{record_id}/print/guarantee_contract")
        if response.status_code == 403:
            return None
        assert response.status_code in (200, 404), (user, record_id, response.status_code)
        if response.status_code == 200:
            assert response.headers["content-type"] == "application/pdf"
            printed.add(record_id)
    return printed


@pytest.mark.parametrize("user", sorted(USERS))
def test_report_and_print_agree_with_the_list(seeded: Seeded, user: str) -> None:
    state = seeded.web_app.state
    client = seeded.client(user)
    listed_ids = api_ids(seeded, user, "loan_application")
    page = client.get("/reports/applications_by_state")
    exported = client.get("/reports/applications_by_state/export.csv")
    if listed_ids is None:
        assert page.status_code == exported.status_code == 403, user
        return
    assert page.status_code == 200
    # Every application of the five is in draft: the report's one group and its total count the list.
    assert ('href="/records/loan_application?state=draft"' in page.text) == bool(listed_ids), user
    account = state.accounts.user(user)
    assert account is not None
    if state.records.access.allows(state.accounts.actor(account), "export", "loan_application"):
        rows = csv_of(exported)
        assert rows[-1][0] == "合计"
        assert int(rows[-1][rows[0].index("申请笔数")]) == len(listed_ids), user
    else:
        assert exported.status_code == 403

    printed = printable(advanced(seeded), user, all_ids(seeded, "loan_application"))
    if printed is not None:
        assert printed == listed_ids, user


def test_api_list_matches_runtime_for_every_role(seeded: Seeded) -> None:
    """Every role of the app, held in two leaf units: the JSON API lists exactly the runtime's list, entity by entity."""
    state = seeded.web_app.state
    model = state.model
    first, second = leaf_units(model)
    compared = 0
    for role in sorted(model.permissions.roles):
        for unit in (first, second):
            user = f"{role}.{unit}"
            actor = seeded.web_app.add_user(user, (role,), unit)
            for entity in model.entities:
                ids = api_ids(seeded, user, entity)
                if not state.records.access.allows(actor, "read", entity):
                    assert ids is None, (user, entity)
                    continue
                runtime_ids = {row["id"] for row in state.records.list(actor, entity, ListQuery(limit=100)).rows}
                assert ids == runtime_ids, (user, entity)
                compared += 1
    assert compared > 0

