"""Who may send which event data to an LLM: the AI policy of a project.

An organization and each of its projects have an ``ai_policy`` (a column of
both tables). The state that applies to a request is the stricter of the two
(:func:`effective_state`), so an organization can forbid what a project allows
but a project cannot loosen its organization. From loosest to strictest:

``allowed``
    Anyone who can see the event may ask for a fix.
``consent_required``
    The person asking must consent, per request, to sending the event to the
    configured LLM provider (``consent=yes``).
``pii_certification_required``
    The person asking must certify, per request, that the event holds no
    personal data they may not share (``pii_certified=yes``). Certifying is a
    stronger statement than consenting (it includes the decision to send), so
    this state ranks above ``consent_required`` and does not ask for both.
``disabled``
    Never sent. The feature is off for the project.

An unknown state (a typo in the database) is treated as ``disabled``: we fail
closed.

Local variables are the riskiest part of an event (passwords, tokens and
personal data live there, and scrubbing only catches what it recognises by
name). They are sent only when the request carries ``pii_certified=yes``,
whatever the state: :attr:`PolicyDecision.send_locals`. Everything else that
is sent is listed in ``docs/ai-fixes.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "POLICY_STATES",
    "PolicyDecision",
    "PolicyState",
    "check_policy",
    "effective_state",
    "parse_state",
]

PolicyState = Literal["allowed", "consent_required", "pii_certification_required", "disabled"]
# Loosest first: the index is the strictness.
POLICY_STATES: tuple[PolicyState, ...] = (
    "allowed",
    "consent_required",
    "pii_certification_required",
    "disabled",
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """The answer for one request.

    ``restriction`` is the state that refused (None when allowed); ``reason``
    is a sentence for people; ``send_locals`` says whether the crash frame's
    local variables may go into the prompt.
    """

    allowed: bool
    state: PolicyState
    restriction: PolicyState | None
    reason: str
    send_locals: bool


def parse_state(value: str | None) -> PolicyState:
    """A stored policy string as a state; None/empty is ``allowed`` (the column default)."""
    if value is None or value.strip() == "":
        return "allowed"
    lowered = value.strip().lower()
    for state in POLICY_STATES:
        if state == lowered:
            return state
    logger.warning("unknown AI policy state %r: treated as disabled", value)
    return "disabled"


def effective_state(org_state: str | None, project_state: str | None) -> PolicyState:
    """The stricter of the organization's and the project's states."""
    org = parse_state(org_state)
    project = parse_state(project_state)
    return max(org, project, key=POLICY_STATES.index)


_REASONS: dict[PolicyState, str] = {
    "consent_required": (
        "this project sends events to the LLM provider only with your consent: "
        "repeat the request with consent=yes"
    ),
    "pii_certification_required": (
        "this project sends events to the LLM provider only when you certify that the event "
        "holds no personal data you may not share: repeat the request with pii_certified=yes"
    ),
    "disabled": "AI-suggested fixes are disabled for this project or its organization",
}


def check_policy(state: str, *, consent: bool, pii_certified: bool) -> PolicyDecision:
    """Decide one request under ``state`` (already the effective state)."""
    parsed = parse_state(state)
    if parsed == "disabled":
        ok = False
    elif parsed == "consent_required":
        ok = consent
    elif parsed == "pii_certification_required":
        ok = pii_certified
    else:
        ok = True
    if not ok:
        return PolicyDecision(
            allowed=False,
            state=parsed,
            restriction=parsed,
            reason=_REASONS[parsed],
            send_locals=False,
        )
    return PolicyDecision(
        allowed=True,
        state=parsed,
        restriction=None,
        reason="allowed",
        send_locals=pii_certified,
    )
