"""Web analytics, the events explorer and people: ``/{org}/{project}/web|events|people/``.

Handlers stay thin: find the project (404 if it is not the user's), read the
query string (a bad one is a 400, never a 500), build the read model from
:mod:`heliograph.query.web`, add chart geometry, render.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from starlette.responses import Response
from starlette.routing import Route

from heliograph.query.web import (
    OPERATOR_LABELS,
    RANGES,
    QueryError,
    build_explorer,
    build_person_page,
    build_web_dashboard,
    parse_filters,
)
from heliograph.store.base import Project
from heliograph.store.cursors import decode_cursor
from heliograph.store.web_records import MAX_VALUE_TEXT
from heliograph.web.common import BadRequest, NotFound, PageRequest, page
from heliograph.web.llm_charts import stacked_bars
from heliograph.web.llm_format import install
from heliograph.web.templating import compact, templates

__all__ = ["routes"]

install(templates.env)


def _project(ctx: PageRequest) -> Project:
    return ctx.path_project()[0]


def base_url(project: Project, section: str) -> str:
    return f"/{project.organization_slug}/{project.slug}/{section}/"


def _cursor(ctx: PageRequest) -> str | None:
    cursor = ctx.params.get("cursor") or None
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except Exception:
            raise BadRequest("That page link is not valid.") from None
    return cursor


def _render(
    ctx: PageRequest, template: str, project: Project, nav: str, title: str, **context: object
) -> Response:
    full = {
        "project": project,
        "nav_active": nav,
        "page_title": f"{title} · {project.name}",
        "ranges": list(RANGES),
        "web_url": base_url(project, "web"),
        "events_url": base_url(project, "events"),
        "people_url": base_url(project, "people"),
        "replays_url": base_url(project, "replays"),
        **context,
    }
    return ctx.render(template, full, project=project)


def web_dashboard(ctx: PageRequest) -> Response:
    project = _project(ctx)
    view = build_web_dashboard(ctx.store, project.id, ctx.params.get("range"))
    labels = [point.label for point in view.series]
    chart = stacked_bars(
        labels,
        [("bar-ok", "Pageviews", [float(p.pageviews) for p in view.series])],
        lambda v: compact(round(v)),
        extra=[f"{p.visitors:,} visitors · {p.sessions:,} sessions" for p in view.series],
    )
    return _render(
        ctx, "web_dashboard.html", project, "web", "Web analytics", view=view, chart=chart
    )


def _explorer_link(base: str, params: list[tuple[str, str]], **changes: str) -> str:
    kept = [(k, v) for k, v in params if k not in changes and k != "cursor"]
    kept += [(k, v) for k, v in changes.items() if v]
    return base + ("?" + urlencode(kept) if kept else "")


def event_explorer(ctx: PageRequest) -> Response:
    project = _project(ctx)
    params = ctx.request.query_params
    try:
        filters = parse_filters(
            params.getlist("key"), params.getlist("op"), params.getlist("value")
        )
        view = build_explorer(
            ctx.store,
            project.id,
            range_key=params.get("range"),
            name=params.get("name") or None,
            filters=filters,
            breakdown_by=params.get("by") or None,
            cursor=_cursor(ctx),
        )
    except QueryError as exc:
        raise BadRequest(str(exc)) from None
    chart = stacked_bars(
        view.labels,
        [("bar-ok", "Events", [float(n) for n in view.totals])],
        lambda v: compact(round(v)),
    )
    base = base_url(project, "events")
    items = list(params.multi_items())
    return _render(
        ctx,
        "events.html",
        project,
        "events",
        "Events",
        view=view,
        chart=chart,
        operators=OPERATOR_LABELS,
        range_link=lambda r: _explorer_link(base, items, range=r),
        next_link=(
            _explorer_link(base, items, cursor=view.next_cursor) if view.next_cursor else None
        ),
        event_link=lambda event_id: f"{base}{quote(event_id, safe='')}/",
        person_link=lambda d: f"{base_url(project, 'people')}?{urlencode({'q': d})}",
    )


def event_detail(ctx: PageRequest) -> Response:
    project = _project(ctx)
    event_id = ctx.request.path_params["event_id"][:MAX_VALUE_TEXT]
    stored = ctx.store.get_event(project.id, event_id)
    if stored is None or stored.event.kind != "analytics":
        raise NotFound()
    event = stored.event
    person = (
        ctx.store.person_by_distinct_id(project.id, event.distinct_id)
        if event.distinct_id
        else None
    )
    return _render(
        ctx,
        "event_detail.html",
        project,
        "events",
        event.name,
        event=event,
        person=person,
        properties=json.dumps(event.properties, indent=2, sort_keys=True, default=str),
    )


def people_list(ctx: PageRequest) -> Response:
    project = _project(ctx)
    search = (ctx.params.get("q") or "").strip()[:MAX_VALUE_TEXT] or None
    persons, next_cursor = ctx.store.list_persons(
        project.id, search=search, limit=50, cursor=_cursor(ctx)
    )
    base = base_url(project, "people")
    query = {"q": search or "", "cursor": next_cursor or ""}
    next_link = (
        base + "?" + urlencode({k: v for k, v in query.items() if v}) if next_cursor else None
    )
    return _render(
        ctx, "people.html", project, "people", "People",
        persons=persons, search=search or "", next_link=next_link,
    )  # fmt: skip


def person_detail(ctx: PageRequest) -> Response:
    project = _project(ctx)
    try:
        person_id = int(ctx.request.path_params["person_id"])
    except ValueError:
        raise NotFound() from None
    person = ctx.store.get_person(project.id, person_id) if 0 < person_id < 2**63 else None
    if person is None:
        raise NotFound()
    view = build_person_page(ctx.store, ctx.store, person)
    replays = base_url(project, "replays")
    events = base_url(project, "events")
    return _render(
        ctx,
        "person.html",
        project,
        "people",
        person.label,
        view=view,
        properties=sorted(person.properties.items()),
        as_json=lambda value: (
            json.dumps(value, default=str) if not isinstance(value, str) else value
        ),
        replays_link=lambda d: f"{replays}?{urlencode({'person': d})}",
        event_link=lambda event_id: f"{events}{quote(event_id, safe='')}/",
        generations_link=f"/{project.organization_slug}/{project.slug}/llm/generations/?"
        + urlencode({"user": person.distinct_ids[0]})
        if person.distinct_ids
        else None,
    )


routes = [
    Route("/{org}/{project}/web/", page(web_dashboard)),
    Route("/{org}/{project}/events/", page(event_explorer)),
    Route("/{org}/{project}/events/{event_id}/", page(event_detail)),
    Route("/{org}/{project}/people/", page(people_list)),
    Route("/{org}/{project}/people/{person_id}/", page(person_detail)),
]
