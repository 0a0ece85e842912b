"""The administration pages under /admin: users, roles, org units, permissions, flows, configuration, API tokens
and the sandbox's text messages.

Every page and every change needs the "administer" action on the "system" resource, and
every change goes through PermissionAdmin or the account services with the acting admin,
which write it to the audit log. /admin/jobs belongs to the jobs pages, not to this module.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ui.web import (admin_config, admin_explain, admin_fields, admin_flows, admin_matrix, admin_org, admin_sandbox, admin_tokens,
                    admin_users)
from ui.web.admin_support import admin_only, admin_page
from ui.web.i18n import pick
from ui.web.state import lang_of

SECTION_MODULES = (admin_users, admin_org, admin_matrix, admin_fields, admin_explain, admin_flows, admin_config, admin_tokens,
                   admin_sandbox)


async def index(request: Request) -> Response:
    return admin_page(request, "admin_index.html", {"title": pick(lang_of(request), "Administration", "系统管理")})


def routes() -> list[BaseRoute]:
    found: list[BaseRoute] = [Route("/admin", admin_only(index), methods=["GET"])]
    for module in SECTION_MODULES:
        found.extend(module.routes())
    return found
