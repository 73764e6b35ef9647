"""What a notification says: one subject, plain text, HTML, and a JSON body.

Rendered when it is sent, from the payload digest stored when the rule fired
(the rule, and the issue or the metric as they were then), the project, and
the server's public URL. Several notifications for the same destination
sent at once become one message listing them all ("grouped"), so a burst of
new issues is one email, not fifty.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from heliograph.store.base import Project

__all__ = ["Message", "render"]

_TRIGGER_TEXT = {
    "new_issue": "New issue",
    "regression": "Regression",
    "issue_events": "Issue is frequent",
    "issue_users": "Issue affects many users",
    "llm_cost": "LLM spend",
    "llm_error_rate": "LLM error rate",
    "llm_p95_latency": "LLM p95 latency",
    "heartbeat": "No events received",
}


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    text: str
    html: str
    body: dict[str, Any]  # what webhooks receive, as JSON


def _metric_value(metric: dict[str, Any]) -> str:
    value = float(metric.get("value") or 0)
    name = metric.get("name")
    if name == "llm_cost":
        return f"${value:,.4f}"
    if name == "llm_error_rate":
        return f"{value:.1%}"
    return f"{value:.3f} s"


def _window(seconds: Any) -> str:
    seconds = int(seconds or 0)
    if seconds % 86400 == 0:
        return f"{seconds // 86400} d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


def _one(payload: dict[str, Any], project: Project, base_url: str) -> dict[str, Any]:
    """One alert as the JSON body carries it, with its line of text and its link."""
    rule = payload.get("rule") or {}
    trigger = rule.get("trigger", "")
    found: dict[str, Any] = {
        "rule": rule,
        "project": {
            "id": project.id,
            "slug": project.slug,
            "name": project.name,
            "organization": project.organization_slug,
        },
    }
    what = _TRIGGER_TEXT.get(trigger, trigger)
    if payload.get("test"):
        found["test"] = True
        found["text"] = f"Test notification from the rule “{rule.get('name', '')}”"
        found["url"] = f"{base_url}/{project.organization_slug}/{project.slug}/alerts/"
    elif "issue" in payload:
        issue = dict(payload["issue"])
        # Alerts queued before issues had numbers fall back to the id.
        issue["short_id"] = f"{project.slug.upper()}-{issue.get('short_number') or issue['id']}"
        issue["url"] = f"{base_url}/issues/{issue['id']}/"
        found["issue"] = issue
        found["url"] = issue["url"]
        found["text"] = (
            f"{what}: {issue['short_id']} {issue['title']}"
            + (f" ({issue['culprit']})" if issue.get("culprit") else "")
            + f" · {issue['level']} · {issue['times_seen']} events, {issue['users_seen']} users"
        )
    elif "metric" in payload:
        metric = payload["metric"]
        found["metric"] = metric
        found["url"] = f"{base_url}/{project.organization_slug}/{project.slug}/llm/"
        model = f" ({metric['model']})" if metric.get("model") else ""
        found["text"] = (
            f"{what}{model}: {_metric_value(metric)} in the last {_window(metric.get('window'))}"
            f", threshold {_metric_value({**metric, 'value': metric.get('threshold')})}"
        )
    else:
        beat = payload.get("heartbeat") or {}
        found["heartbeat"] = beat
        found["url"] = f"{base_url}/{project.organization_slug}/{project.slug}/issues/"
        found["text"] = f"{what} by {project.name} for {_window(beat.get('window'))}"
    return found


def render(payloads: list[dict[str, Any]], project: Project, base_url: str) -> Message:
    """One message for one or more alerts of ``project`` going to the same place."""
    alerts = [_one(payload, project, base_url.rstrip("/")) for payload in payloads]
    if len(alerts) == 1:
        subject = f"[Heliograph] {project.name}: {alerts[0]['text']}"[:250]
    else:
        subject = f"[Heliograph] {project.name}: {len(alerts)} alerts"
    lines = [f"{a['text']}\n{a['url']}" for a in alerts]
    text = "\n\n".join(lines) + "\n\n— Heliograph (alert rules: project settings → Alerts)\n"
    items = "".join(
        f'<li><a href="{html.escape(a["url"])}">{html.escape(a["text"])}</a></li>' for a in alerts
    )
    page = (
        f"<p>{html.escape(project.name)}:</p><ul>{items}</ul>"
        '<p style="color:#667">Heliograph alert rules: project settings → Alerts.</p>'
    )
    body: dict[str, Any] = {"alerts": alerts, **(alerts[0] if len(alerts) == 1 else {})}
    body["count"] = len(alerts)
    return Message(subject=subject, text=text, html=page, body=body)
