"""The guarantee app's report screens as its users meet them: which reports are offered, and the filter controls."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.test_lists import Seeded, seed


@pytest.fixture
def seeded(web_app: Any) -> Seeded:
    return seed(web_app)


def test_reports_a_user_cannot_run_are_not_offered(seeded: Seeded) -> None:
    """Collectors may not read dealers, so the report by dealer is neither listed nor in the menu; the one by state is."""
    client = seeded.client("collector")
    index = client.get("/reports")
    assert index.status_code == 200
    home = client.get("/").text
    for page in (index.text, home):
        assert 'href="/reports/applications_by_dealer"' not in page
    assert 'href="/reports/applications_by_state"' in index.text
    # The side menu leads to every report and to the user's exports.
    assert 'href="/reports"' in home
    assert 'href="/exports"' in home
    refused = client.get("/reports/applications_by_dealer")
    assert refused.status_code == 403
    # The message names the field as users know it, not by its path.
    assert "经销商 · 经销商名称是经销商的字段，您无权查看经销商。" in refused.text
    assert "dealer.name" not in refused.text


def test_state_filter_offers_the_flow_states(seeded: Seeded) -> None:
    page = seeded.client("admin").get("/reports/applications_by_dealer").text
    assert '<select id="f-state" name="state">' in page
    assert '<option value="draft">草稿</option>' in page
    assert '<option value="repaying">还款中</option>' in page
