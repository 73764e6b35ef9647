"""Alert rules, their history, and issue mutes over the API.

* ``GET|POST /api/0/projects/{org}/{project}/alert-rules/``: list, create;
* ``GET|PUT|DELETE .../alert-rules/{rule_id}/``: read, change, delete;
* ``POST .../alert-rules/{rule_id}/test/``: send a test notification through
  the rule's actions (202; the history shows how it went);
* ``GET /api/0/projects/{org}/{project}/alert-history/``: the latest
  notifications and each delivery's status, attempts and last error;
* ``PUT|DELETE /api/0/issues/{issue_id}/alert-mute/``: mute alerts about an
  issue (``{"until": <unix time>}``, or for good), unmute;
* ``GET|PUT /api/0/users/me/alert-emails/``: whether I receive alert emails.

Reading needs any role in the project; changing rules, testing them and
muting issues need the ``write`` scope and a role that may change issues.
Rule fields are :func:`heliograph.alerts.rules.check_rule`'s; webhook
secrets are shown masked (``"********"``), and sending the mask back keeps
the secret.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from heliograph.alerts.rules import AlertRule, RuleError, check_rule
from heliograph.api import common
from heliograph.api.errors import ApiError
from heliograph.bounds import parse_row_id
from heliograph.query.serialize import iso
from heliograph.store.alert_store import NotificationRecord
from heliograph.store.base import Project

__all__ = ["routes", "rule_json"]


def rule_json(rule: AlertRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "trigger": rule.trigger,
        "threshold": rule.threshold,
        "window": rule.window,
        "interval": rule.interval,
        "filters": rule.filters,
        "actions": [action.as_json() for action in rule.actions],
        "enabled": rule.enabled,
        "snoozed_until": rule.snoozed_until,
        "created_at": iso(rule.created_at),
        "updated_at": iso(rule.updated_at),
    }


def notification_json(record: NotificationRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "rule_id": record.rule_id,
        "subject": record.subject,
        "created_at": iso(record.created_at),
        "payload": record.payload,
        "deliveries": [
            {
                "action": d.action,
                "target": d.target,
                "status": d.status,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "sent_at": iso(d.sent_at),
            }
            for d in record.deliveries
        ],
    }


def _fields(body: Any, existing: AlertRule | None = None) -> dict[str, Any]:
    if isinstance(body, dict) and "snoozedUntil" in body:
        body = {**body, "snoozed_until": body.pop("snoozedUntil")}
    try:
        return check_rule(body, existing)
    except RuleError as exc:
        raise ApiError(400, str(exc)) from None


def _project(request: Request, *, writing: bool) -> Project:
    caller = common.principal(request)
    project, role = common.find_project(request, caller)
    if writing:
        common.check_write(request, caller, role)
    return project


def _rule(request: Request, project: Project) -> AlertRule:
    rule_id = parse_row_id(request.path_params["rule_id"])
    rule = common.runtime(request).store.get_alert_rule(rule_id) if rule_id is not None else None
    if rule is None or rule.project_id != project.id:
        raise ApiError(404, "alert rule not found")
    return rule


async def _body(request: Request) -> Any:
    """The JSON body of a write (read on the event loop; the store work runs off it)."""
    if request.method in ("POST", "PUT") and await request.body():
        return await common.json_body(request)
    return None


async def alert_rules(request: Request) -> Response:
    return await run_in_threadpool(_alert_rules, request, await _body(request))


def _alert_rules(request: Request, body: Any) -> Response:
    writing = request.method == "POST"
    project = _project(request, writing=writing)
    store = common.runtime(request).store
    if not writing:
        return JSONResponse([rule_json(r) for r in store.list_alert_rules(project.id)])
    fields = _fields(body)
    caller = common.principal(request)
    rule = store.create_alert_rule(project.id, fields, user_id=caller.user.id)
    return JSONResponse(rule_json(rule), status_code=201)


async def alert_rule(request: Request) -> Response:
    return await run_in_threadpool(_alert_rule, request, await _body(request))


def _alert_rule(request: Request, body: Any) -> Response:
    writing = request.method in ("PUT", "DELETE")
    project = _project(request, writing=writing)
    store = common.runtime(request).store
    rule = _rule(request, project)
    if request.method == "DELETE":
        store.delete_alert_rule(rule.id)
        return Response(status_code=204)
    if request.method == "PUT":
        rule = store.update_alert_rule(rule.id, _fields(body, rule)) or rule
    return JSONResponse(rule_json(rule))


def test_alert_rule(request: Request) -> Response:
    project = _project(request, writing=True)
    rule = _rule(request, project)
    common.runtime(request).store.notify(rule, "test", {"test": True}, test=True)
    return JSONResponse({"detail": "test notification queued: see the alert history"}, 202)


def alert_history(request: Request) -> Response:
    project = _project(request, writing=False)
    store = common.runtime(request).store
    return JSONResponse([notification_json(n) for n in store.alert_history(project.id)])


async def issue_alert_mute(request: Request) -> Response:
    return await run_in_threadpool(_issue_alert_mute, request, await _body(request))


def _issue_alert_mute(request: Request, body: Any) -> Response:
    caller = common.principal(request)
    issue, _, role = common.find_issue(request, caller)
    store = common.runtime(request).store
    if request.method in ("PUT", "DELETE"):
        common.check_write(request, caller, role)
    if request.method == "PUT":
        until = body.get("until") if isinstance(body, dict) else None
        if until is not None and (
            isinstance(until, bool) or not isinstance(until, int | float) or until <= time.time()
        ):
            raise ApiError(400, "until must be a future unix time (seconds), or absent")
        store.mute_issue_alerts(issue.id, until, user_id=caller.user.id)
    elif request.method == "DELETE":
        store.unmute_issue_alerts(issue.id)
    muted, until = store.issue_alerts_muted(issue.id)
    return JSONResponse({"muted": muted, "until": until})


async def my_alert_emails(request: Request) -> Response:
    return await run_in_threadpool(_my_alert_emails, request, await _body(request))


def _my_alert_emails(request: Request, body: Any) -> Response:
    caller = common.principal(request)
    store = common.runtime(request).store
    if request.method == "PUT":
        if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
            raise ApiError(400, 'expected {"enabled": true} or {"enabled": false}')
        if "write" not in caller.scopes:
            raise ApiError(403, "this token lacks the write scope")
        store.set_alert_emails(caller.user.id, body["enabled"])
    return JSONResponse({"enabled": store.alert_emails_enabled(caller.user.id)})


_PROJECT = "/api/0/projects/{organization_slug}/{project_slug}"

routes = [
    Route(f"{_PROJECT}/alert-rules/", alert_rules, methods=["GET", "POST"]),
    Route(f"{_PROJECT}/alert-rules/{{rule_id}}/", alert_rule, methods=["GET", "PUT", "DELETE"]),
    Route(f"{_PROJECT}/alert-rules/{{rule_id}}/test/", test_alert_rule, methods=["POST"]),
    Route(f"{_PROJECT}/alert-history/", alert_history),
    Route(
        "/api/0/issues/{issue_id}/alert-mute/", issue_alert_mute, methods=["GET", "PUT", "DELETE"]
    ),
    Route("/api/0/users/me/alert-emails/", my_alert_emails, methods=["GET", "PUT"]),
]
