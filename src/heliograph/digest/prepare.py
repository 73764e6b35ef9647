"""Everything digest does to one canonical event before it is stored.

Every event is first brought within the stored range (:mod:`heliograph.bounds`).
Errors get their browser, OS and device (from the SDK, else the User-Agent),
and are scrubbed and grouped; analytics events have their LLM payloads
kept or dropped per the project's policy, are scrubbed (what is kept of the
payloads included) and are priced. Scrubbing uses the default rules plus the
project's extra sensitive keys and safe fields.

Before anything else reads an error's frames, minified JavaScript frames are
resolved through the project's uploaded source maps
(:mod:`heliograph.sourcemaps.resolve`): scrubbing, titles and grouping see
the original code.
"""

from __future__ import annotations

from heliograph.bounds import bound_event
from heliograph.digest.addresses import protect_address
from heliograph.digest.client_context import apply_client_context
from heliograph.digest.costs import apply_cost
from heliograph.digest.grouping import compute_grouping
from heliograph.digest.payloads import apply_payload_policy
from heliograph.digest.scrub import ScrubRules, scrub_event
from heliograph.digest.titles import event_culprit, event_title
from heliograph.llm_vocabulary import PRICED_EVENTS
from heliograph.model import Event
from heliograph.sourcemaps.resolve import SourceMapResolver
from heliograph.store.base import GroupedEvent, Project


def prepare_event(
    event: Event, project: Project, sourcemaps: SourceMapResolver | None = None
) -> GroupedEvent | Event:
    bound_event(event)
    protect_address(event, project)
    rules = ScrubRules.of(project.scrub_extra_keys, project.scrub_safe_fields)
    if event.kind == "error":
        if sourcemaps is not None:
            sourcemaps.resolve(event)
        apply_client_context(event)
        scrub_event(event, rules=rules)
        grouping = compute_grouping(event)
        return GroupedEvent(
            event=event,
            group_hash=grouping.hash,
            grouping_version=grouping.version,
            title=event_title(event),
            culprit=event_culprit(event),
            v1_hash=grouping.v1_hash,
        )
    apply_payload_policy(
        event, keep_payloads=project.keep_llm_payloads, max_chars=project.payload_max_chars
    )
    scrub_event(event, rules=rules)
    if event.name in PRICED_EVENTS:
        apply_cost(event)
    return event
