"""ai/policy.py: each state, the stricter of organization and project, locals."""

from __future__ import annotations

import pytest

from heliograph.ai.errors import PolicyRefused
from heliograph.ai.policy import POLICY_STATES, check_policy, effective_state, parse_state


@pytest.mark.parametrize(
    ("state", "consent", "pii_certified", "allowed"),
    [
        ("allowed", False, False, True),
        ("consent_required", False, False, False),
        ("consent_required", False, True, False),
        ("consent_required", True, False, True),
        ("pii_certification_required", True, False, False),
        ("pii_certification_required", False, True, True),
        ("disabled", True, True, False),
    ],
)
def test_each_state(state: str, consent: bool, pii_certified: bool, allowed: bool) -> None:
    decision = check_policy(state, consent=consent, pii_certified=pii_certified)
    assert decision.allowed is allowed
    assert decision.state == state
    if allowed:
        assert decision.restriction is None
    else:
        assert decision.restriction == state
        assert decision.reason and decision.reason != "allowed"


def test_refusals_say_what_to_send() -> None:
    assert (
        "consent=yes" in check_policy("consent_required", consent=False, pii_certified=False).reason
    )
    reason = check_policy("pii_certification_required", consent=True, pii_certified=False).reason
    assert "pii_certified=yes" in reason


def test_locals_only_with_pii_certification() -> None:
    assert not check_policy("allowed", consent=True, pii_certified=False).send_locals
    assert check_policy("allowed", consent=False, pii_certified=True).send_locals
    assert check_policy("consent_required", consent=True, pii_certified=True).send_locals
    assert not check_policy("disabled", consent=True, pii_certified=True).send_locals


@pytest.mark.parametrize("org", POLICY_STATES)
@pytest.mark.parametrize("project", POLICY_STATES)
def test_effective_state_is_the_stricter(org: str, project: str) -> None:
    expected = POLICY_STATES[max(POLICY_STATES.index(org), POLICY_STATES.index(project))]
    assert effective_state(org, project) == expected


def test_a_project_cannot_loosen_its_organization() -> None:
    assert effective_state("disabled", "allowed") == "disabled"
    assert effective_state("consent_required", "allowed") == "consent_required"
    assert effective_state("allowed", "pii_certification_required") == "pii_certification_required"


def test_unknown_states_fail_closed() -> None:
    assert parse_state("sometimes") == "disabled"
    assert parse_state(None) == "allowed"
    assert parse_state(" Consent_Required ") == "consent_required"
    assert effective_state("allowed", "typo") == "disabled"
    assert not check_policy("typo", consent=True, pii_certified=True).allowed


def test_refusal_error_body() -> None:
    error = PolicyRefused("consent_required", "needs consent")
    assert error.status == 403
    assert error.body()["restriction"] == "consent_required"
