"""Every server-rendered page, by URL. Login is required for all but the login pages.

The handlers live one module per page kind in :mod:`heliograph.web.pages`.
"""

from __future__ import annotations

from starlette.routing import Route

from heliograph.web.pages.account import home, login, login_link, logout
from heliograph.web.pages.admin_status import admin_status
from heliograph.web.pages.alerts import alert_rules
from heliograph.web.pages.datasets import routes as dataset_routes
from heliograph.web.pages.evaluators import routes as evaluator_routes
from heliograph.web.pages.flags import flag_detail, flag_list
from heliograph.web.pages.issue import issue_detail
from heliograph.web.pages.issue_alerts import issue_alerts
from heliograph.web.pages.issue_events import issue_events
from heliograph.web.pages.issue_work import issue_assign, issue_comment
from heliograph.web.pages.issues import issue_list
from heliograph.web.pages.llm import routes as llm_routes
from heliograph.web.pages.llm_annotate import routes as annotation_routes
from heliograph.web.pages.members import organization_members
from heliograph.web.pages.organizations import new_organization
from heliograph.web.pages.project_settings import project_settings
from heliograph.web.pages.prompts import routes as prompt_routes
from heliograph.web.pages.replays import routes as replay_routes
from heliograph.web.pages.setup import routes as setup_routes
from heliograph.web.pages.source_maps import routes as source_map_routes
from heliograph.web.pages.status import bulk_status, issue_status
from heliograph.web.pages.tokens import account
from heliograph.web.pages.web_analytics import routes as web_analytics_routes
from heliograph.web.templating import STATIC_DIR, TEMPLATES_DIR

__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "routes"]

routes = [
    Route("/", home),
    Route("/login", login, methods=["GET", "POST"]),
    Route("/login/link/{token}", login_link),
    Route("/logout", logout, methods=["POST", "GET"]),
    Route("/account/", account, methods=["GET", "POST"]),
    Route("/orgs/new/", new_organization, methods=["GET", "POST"]),
    Route("/admin/status/", admin_status),
    Route("/orgs/{org}/members/", organization_members, methods=["GET", "POST"]),
    Route("/issues/{issue_id}/", issue_detail),
    Route("/issues/{issue_id}/events/", issue_events),
    Route("/issues/{issue_id}/status", issue_status, methods=["POST"]),
    Route("/issues/{issue_id}/alerts", issue_alerts, methods=["POST"]),
    Route("/issues/{issue_id}/assign", issue_assign, methods=["POST"]),
    Route("/issues/{issue_id}/comments", issue_comment, methods=["POST"]),
    Route("/{org}/{project}/issues/", issue_list),
    Route("/{org}/{project}/issues/status", bulk_status, methods=["POST"]),
    Route("/{org}/{project}/settings/", project_settings, methods=["GET", "POST"]),
    Route("/{org}/{project}/flags/", flag_list, methods=["GET", "POST"]),
    Route("/{org}/{project}/flags/{flag_id}/", flag_detail, methods=["GET", "POST"]),
    Route("/{org}/{project}/alerts/", alert_rules, methods=["GET", "POST"]),
    *llm_routes,
    *prompt_routes,
    *dataset_routes,
    *evaluator_routes,
    *annotation_routes,
    *replay_routes,
    *setup_routes,
    *source_map_routes,
    *web_analytics_routes,
]
