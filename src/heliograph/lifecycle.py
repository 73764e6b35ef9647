"""What a new event does to an issue's status: the regression rules.

Pure functions, so the rules are unit-tested without a database and every
store backend applies exactly the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: str
    substatus: str
    resolved_in_release: str | None
    regressed: bool


def on_new_event(
    status: str, substatus: str, resolved_in_release: str | None, event_release: str | None
) -> StatusChange:
    """Decide an issue's status after it receives a new event.

    * ``unresolved`` stays unresolved (``new`` becomes ``ongoing`` on the
      second event, as Sentry's substatus does).
    * ``ignored`` stays ignored: the user asked not to hear about it.
    * ``resolved`` reopens as a regression, except when it was resolved "in
      the next release" and the event still comes from the release that was
      current at resolution time (or carries no release): those events are
      expected until the fix ships.
    """
    if status == "ignored":
        return StatusChange(status, substatus, resolved_in_release, regressed=False)
    if status == "resolved":
        if resolved_in_release is not None and event_release in (None, resolved_in_release):
            return StatusChange(status, substatus, resolved_in_release, regressed=False)
        return StatusChange("unresolved", "regressed", None, regressed=True)
    next_substatus = "ongoing" if substatus == "new" else substatus
    return StatusChange("unresolved", next_substatus, None, regressed=False)
