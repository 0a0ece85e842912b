"""The inbox and the home page counts: hand transitions, approvals waiting for a signature, and work done for a delegator."""

from __future__ import annotations

import datetime
import re
from typing import Any, Callable

from sqlalchemy import select
from starlette.testclient import TestClient

from runtime.delegations import Delegations
from tests.conftest import REPOSITORY
from tests.runtime.test_approvals import START, Clock
from tests.web.conftest import WebApp, csrf_of

APPROVALS = REPOSITORY / "tests" / "apps" / "approvals"
USERS = (
    ("qian", "clerk", "east", "钱经办"), ("li", "manager", "east", "李经理"), ("zhou", "manager", "west", "周经理"),
    ("chen", "director", "company", "陈总监"), ("m1", "member", "company", "委员一"), ("m2", "member", "company", "委员二"),
    ("deputy", None, "company", "代办人"),
)
_SUMMARY = re.compile(r'<a href="([^"]*)"[^>]*>([^<]+)<span class="count">([\d,]+)</span></a>')
_ROW = re.compile(r'<td><a href="/records/expense/(\d+)">([^<]+)</a>')


class Office:
    """The expense app served with a clock the test moves, and its users."""

    def __init__(self, make_web_app: Callable[..., WebApp]) -> None:
        self.web_app = make_web_app(APPROVALS)
        self.clock = Clock()
        self.web_app.state.records.clock = self.clock
        self.actors = {user: self.web_app.add_user(user, (role,) if role else (), unit, name=name) for user, role, unit, name in USERS}
        self.clients: dict[str, TestClient] = {}

    @property
    def records(self) -> Any:
        return self.web_app.state.records

    def client(self, user: str) -> TestClient:
        if user not in self.clients:
            self.clients[user] = self.web_app.client(user)
        return self.clients[user]

    def expense(self, procedure: str, amount: str = "5000", *, submit: bool = True, title: str = "差旅报销", **values: Any) -> dict[str, Any]:
        qian = self.actors["qian"]
        record = self.records.create(qian, "expense", {"title": title, "amount": amount, "procedure": procedure, **values})
        if submit:
            record = self.records.transition(qian, "expense", record["id"], "submit", version=record["version"])
        return dict(record)

    def inbox(self, user: str, query: str = "") -> str:
        page = self.client(user).get("/inbox" + query)
        assert page.status_code == 200, page.text
        return page.text

    def fire(self, user: str, record_id: int, name: str, **data: str) -> Any:
        """Post a transition from the inbox as its row's form does: back to the inbox afterwards."""
        page = self.inbox(user)
        version = re.search(rf'action="/records/expense/{record_id}/transitions/{name}".*?name="_version" value="(\d+)"', page, re.S)
        assert version is not None, f"no {name} button for record {record_id} in {user}'s inbox"
        form = {"csrf_token": csrf_of(page), "_version": version.group(1), "_next": "/inbox", **data}
        return self.client(user).post(f"/records/expense/{record_id}/transitions/{name}", data=form)


def summary(html: str) -> dict[str, int]:
    """Return the counts of the inbox summary by label."""
    return {label: int(count.replace(",", "")) for _, label, count in _SUMMARY.findall(html)}


def rows(html: str) -> list[int]:
    return [int(record_id) for record_id, _ in _ROW.findall(html)]


def buttons(html: str, record_id: int) -> set[str]:
    return set(re.findall(rf'action="/records/expense/{record_id}/transitions/(\w+)"', html))


def test_hand_transition_fired_from_inbox(make_web_app: Callable[..., WebApp]) -> None:
    office = Office(make_web_app)
    draft = office.expense("single", submit=False)

    page = office.inbox("qian")
    assert summary(page)["待我办理"] == 1
    assert rows(page) == [draft["id"]]
    assert buttons(page, draft["id"]) == {"submit"}
    assert 'name="_next" value="/inbox"' in page
    assert summary(office.client("qian").get("/").text)["待我办理"] == 1
    # The manager has nothing to do on a draft.
    assert rows(office.inbox("li")) == []

    response = office.fire("qian", draft["id"], "submit")
    assert response.status_code == 303
    assert response.headers["location"] == "/inbox"
    assert office.records.get(office.actors["qian"], "expense", draft["id"])["state"] == "review"
    # A withdrawal is not waiting work, so the submitted claim leaves the clerk's inbox.
    page = office.inbox("qian")
    assert summary(page)["待我办理"] == 0
    assert rows(page) == []


def test_signed_approvals_leave_inbox(make_web_app: Callable[..., WebApp]) -> None:
    office = Office(make_web_app)
    single = office.expense("single")
    quorum = office.expense("quorum")

    # The manager of the east branch signs single approvals; the one of the west branch is out of scope.
    assert rows(office.inbox("li")) == [single["id"]]
    assert summary(office.inbox("li"))["待我审批"] == 1
    assert rows(office.inbox("zhou")) == []
    page = office.inbox("m1")
    assert summary(page) == {"全部": 1, "待我办理": 0, "待我审批": 1}
    assert rows(page) == [quorum["id"]]
    assert buttons(page, quorum["id"]) == {"approve", "send_back", "reject"}
    assert "同意 · 已签 0 / 2" in page

    response = office.fire("m1", quorum["id"], "approve")
    assert response.status_code == 303
    assert response.headers["location"] == "/inbox"
    assert rows(office.inbox("m1")) == []
    assert summary(office.inbox("m1"))["待我审批"] == 0
    page = office.inbox("m2")
    assert rows(page) == [quorum["id"]]
    assert "同意 · 已签 1 / 2" in page

    # An approver added to the step finds it in the inbox too.
    current = office.records.get(office.actors["m2"], "expense", quorum["id"])
    office.records.add_approver(office.actors["m2"], "expense", quorum["id"], "approve", "chen", version=current["version"])
    assert rows(office.inbox("chen")) == [quorum["id"]]


def test_sequential_levels_wait_for_the_earlier_level(make_web_app: Callable[..., WebApp]) -> None:
    office = Office(make_web_app)
    claim = office.expense("levels", amount="30000", grade="A")

    assert rows(office.inbox("li")) == [claim["id"]]
    assert rows(office.inbox("chen")) == []
    assert summary(office.inbox("chen"))["待我审批"] == 0

    assert office.fire("li", claim["id"], "approve").status_code == 303
    assert rows(office.inbox("li")) == []
    page = office.inbox("chen")
    assert rows(page) == [claim["id"]]
    assert summary(page)["待我审批"] == 1
    assert "同意 · 总监审批 · 已签 0 / 1" in page


def test_delegated_approvals_within_the_date_range(make_web_app: Callable[..., WebApp]) -> None:
    office = Office(make_web_app)
    claim = office.expense("quorum")
    delegations = Delegations(office.records)
    delegations.create(office.actors["m2"], "m2", "deputy", datetime.date(2026, 12, 1), datetime.date(2026, 12, 2), reason="出差")
    delegations.create(office.actors["li"], "li", "deputy", datetime.date(2026, 12, 5), datetime.date(2026, 12, 9))

    page = office.inbox("deputy")
    assert summary(page) == {"全部": 1, "待我办理": 0, "待我审批": 0, "代 委员二 办理": 1}
    assert rows(page) == [claim["id"]]
    assert "代 委员二 办理</span>" in page
    assert 'name="_for" value="m2"' in page
    only_m2 = office.inbox("deputy", "?for=m2")
    assert rows(only_m2) == [claim["id"]]
    assert rows(office.inbox("deputy", "?kind=approve&for=deputy")) == []
    # The delegate may open the record, read as the delegator, without a read permission of their own.
    detail = office.client("deputy").get(f"/records/expense/{claim['id']}")
    assert detail.status_code == 200
    assert "您正在代 委员二 办理。" in detail.text

    # The day after the delegation ends, the work is gone, and the deputy, who may read no claim, may not open it.
    office.clock.now = START + datetime.timedelta(days=1)
    page = office.inbox("deputy")
    assert summary(page) == {"全部": 0, "待我办理": 0, "待我审批": 0}
    assert rows(page) == []
    assert office.client("deputy").get(f"/records/expense/{claim['id']}").status_code == 403
    # The day before it starts, too.
    office.clock.now = START - datetime.timedelta(days=2)
    assert rows(office.inbox("deputy")) == []

    office.clock.now = START
    response = office.fire("deputy", claim["id"], "approve", _for="m2")
    assert response.status_code == 303
    assert response.headers["location"] == "/inbox"
    decisions = office.records.schema.flows.decisions
    with office.records.engine.connect() as connection:
        assert connection.execute(select(decisions.c.approver, decisions.c.signed_by)).all() == [("m2", "deputy")]
    assert rows(office.inbox("deputy")) == []
    # The delegator's own inbox drops the record as well: the signature is theirs.
    assert rows(office.inbox("m2")) == []
    assert rows(office.inbox("m1")) == [claim["id"]]


def test_delegated_role_and_hand_work(make_web_app: Callable[..., WebApp]) -> None:
    office = Office(make_web_app)
    claim = office.expense("single")
    draft = office.expense("single", submit=False, title="办公用品")
    Delegations(office.records).create(office.actors["li"], "li", "deputy", datetime.date(2026, 12, 1), datetime.date(2026, 12, 31),
                                       role="manager")
    Delegations(office.records).create(office.actors["qian"], "qian", "deputy", datetime.date(2026, 12, 1),
                                       datetime.date(2026, 12, 31), role="clerk")

    page = office.inbox("deputy")
    assert summary(page)["代 李经理 办理"] == 1
    assert summary(page)["代 钱经办 办理"] == 1
    assert rows(office.inbox("deputy", "?for=li")) == [claim["id"]]
    assert rows(office.inbox("deputy", "?for=qian")) == [draft["id"]]
    assert buttons(office.inbox("deputy", "?for=qian"), draft["id"]) == {"submit"}


def test_pages_newest_first(make_web_app: Callable[..., WebApp]) -> None:
    office = Office(make_web_app)
    drafts = []
    for number in range(23):
        office.clock.now = START + datetime.timedelta(minutes=number)
        drafts.append(office.expense("single", submit=False, title=f"草稿{number:02d}")["id"])

    first = office.inbox("qian")
    assert summary(first)["待我办理"] == 23
    assert rows(first) == list(reversed(drafts))[:20]
    assert "第 1 / 2 页，共 23 条" in first
    assert 'href="/inbox?page=2" rel="next"' in first
    second = office.inbox("qian", "?page=2")
    assert rows(second) == list(reversed(drafts))[20:]
    assert 'name="_next" value="/inbox?page=2"' in second
    assert rows(office.inbox("qian", "?kind=approve&for=qian")) == []


def test_inbox_in_english(make_web_app: Callable[..., WebApp]) -> None:
    office = Office(make_web_app)
    office.expense("quorum")
    Delegations(office.records).create(office.actors["m2"], "m2", "deputy", datetime.date(2026, 12, 1), datetime.date(2026, 12, 2))
    client = office.web_app.client("deputy", lang="en")
    page = client.get("/inbox").text
    assert summary(page) == {"Everything": 1, "To do": 0, "To approve": 0, "Acting for 委员二": 1}
    assert "Acting for 委员二</span>" in page
    assert "Approve · signed 0 / 2" in page
    home = client.get("/").text
    assert summary(home)["Acting for 委员二"] == 1
    assert '<a href="/delegations"' in home
