"""Menus from the application YAML, showing only what the user may open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from metamodel import model as m
from runtime.access import Actor
from runtime.reports import ReportRunner
from ui.web import i18n

if TYPE_CHECKING:
    from ui.web.state import WebState

#: Built-in pages a menu item may name, with their address and the system action they need (None: everyone).
#: Menu items naming other pages are left out until the application serves them.
PAGES: dict[str, tuple[str, str | None, m.Label]] = {
    "home": ("/", None, m.Label("首页", "Home")),
    "inbox": ("/inbox", None, m.Label("待办事项", "Inbox")),
    "reports": ("/reports", None, m.Label("报表", "Reports")),
    "exports": ("/exports", None, m.Label("我的导出", "My exports")),
    "admin": ("/admin", "administer", m.Label("系统管理", "Administration")),
    "jobs": ("/admin/jobs", "jobs", m.Label("任务调度", "Jobs")),
}


@dataclass(frozen=True)
class MenuLink:
    label: str
    url: str
    active: bool


@dataclass(frozen=True)
class MenuGroup:
    name: str
    label: str
    icon: str | None
    links: tuple[MenuLink, ...]


#: Every user's page of the delegations they give and receive, listed after the inbox wherever a menu names it.
DELEGATIONS_URL = "/delegations"
DELEGATIONS_LABEL = m.Label("我的委托", "My delegations")


def _active(current_path: str, url: str) -> bool:
    return current_path == url or (url != "/" and current_path.startswith(url + "/"))


def entity_url(entity: str) -> str:
    return f"/records/{entity}"


def menus_for(state: WebState, actor: Actor, current_path: str) -> list[MenuGroup]:
    """Return the application's menus with the items the actor may open; empty groups are left out."""
    model = state.model
    lang = actor.lang
    groups = []
    for menu in model.app.menus:
        links = []
        for item in menu.items:
            target = _target(state, actor, item)
            if target is None:
                continue
            url, default_label = target
            text = i18n.label(item.label or default_label, lang)
            links.append(MenuLink(text, url, _active(current_path, url)))
            if item.page == "inbox":
                # Delegations hand over inbox work, so their page sits beside the inbox.
                links.append(MenuLink(i18n.label(DELEGATIONS_LABEL, lang), DELEGATIONS_URL, _active(current_path, DELEGATIONS_URL)))
        if links:
            groups.append(MenuGroup(menu.name, i18n.label(menu.label, lang), menu.icon, tuple(links)))
    return groups


def _target(state: WebState, actor: Actor, item: m.MenuItem) -> tuple[str, m.Label] | None:
    model = state.model
    allows = state.permissions.allows
    if item.entity is not None:
        if not allows(actor, "read", item.entity):
            return None
        return entity_url(item.entity), model.entities[item.entity].label
    if item.page is not None and item.page in PAGES:
        url, action, page_label = PAGES[item.page]
        if action is not None and not allows(actor, action, m.SYSTEM_RESOURCE):
            return None
        return url, page_label
    if item.report is not None and item.report in model.reports:
        report = model.reports[item.report]
        if not ReportRunner(state.records).runnable(actor, report):
            return None
        return f"/reports/{report.name}", report.label
    return None
