"""The :class:`~heliograph.query.search.SearchContext` of one search: who, which project.

Kept apart from the grammar so that the grammar stays pure (unit-tested
without a store) and each lookup costs a query only when the search needs
it: members and teams are read for ``assigned:<email>`` / ``#team`` alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from heliograph.digest.addresses import address_hash
from heliograph.query.search import SearchContext
from heliograph.store.base import Project

if TYPE_CHECKING:
    from heliograph.store.contract import Access, IssueStore


def search_context(
    issues: IssueStore, access: Access, project: Project, user_id: int | None
) -> SearchContext:
    """Lookups against ``project``'s organization and tags, for ``user_id``'s search."""

    def user_by_email(email: str) -> int | None:
        for member in access.organization_members(project.organization_id):
            if member.user.email.lower() == email.lower():
                return member.user.id
        return None

    def team_by_slug(slug: str) -> int | None:
        for team in access.teams(project.organization_id):
            if team.slug == slug.lower():
                return team.id
        return None

    return SearchContext(
        user_id=user_id,
        user_by_email=user_by_email,
        team_by_slug=team_by_slug,
        latest_release=lambda: issues.latest_release(project.id),
        tag_key_known=lambda key: issues.has_tag_key(project.id, key),
        address_hash=lambda address: address_hash(project, address),
    )
