"""``heliograph org …`` and ``heliograph project …``: organizations and projects from a shell.

The same checks as the UI and the API (:mod:`heliograph.onboarding`). They
work on an existing data directory, beside a running server, which picks up
a new project's key within a second (the keys-changed signal).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from heliograph.ai.policy import POLICY_STATES
from heliograph.bootstrap import INTERNAL_PROJECT, dsn_for
from heliograph.cli_options import DataDirOption, command_settings, open_command_store
from heliograph.node import KEYS_CHANGED_FILE
from heliograph.onboarding import (
    OnboardingError,
    check_ai_policy,
    create_organization,
    create_project,
)
from heliograph.public_url import command_base_url
from heliograph.shared_counter import SharedCounter

org_app = typer.Typer(help="Organizations: create them, set their AI policy.", no_args_is_help=True)
project_app = typer.Typer(help="Projects: create and delete them.", no_args_is_help=True)


def signal_keys_changed(data_dir: Path) -> None:
    """Tell a running server's processes to reload the keys (a revoked one is refused at once)."""
    path = data_dir / KEYS_CHANGED_FILE
    if path.exists():  # else no server ever ran here: nothing to tell
        SharedCounter(path).bump()


NameOption = Annotated[str | None, typer.Option("--name", help="Display name (default: the slug)")]


@org_app.command("create")
def org_create(
    slug: Annotated[str, typer.Argument(help="Lowercase letters, digits, - and _")],
    name: NameOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create an organization (superusers own every organization; add others with createuser)."""
    settings = command_settings(data_dir)
    with open_command_store(settings, create=False) as store:
        try:
            org = create_organization(store, slug, name)
        except OnboardingError as exc:
            raise typer.BadParameter(str(exc)) from None
    print(f"created organization {org.slug} ({org.name})")


@org_app.command("set-ai-policy")
def org_set_ai_policy(
    org: Annotated[str, typer.Argument(help="The organization's slug")],
    policy: Annotated[str, typer.Argument(help=" | ".join(POLICY_STATES))],
    data_dir: DataDirOption = None,
) -> None:
    """Set the organization's AI policy: the stricter of it and a project's applies."""
    settings = command_settings(data_dir)
    with open_command_store(settings, create=False) as store:
        organization = store.get_organization(org)
        if organization is None:
            raise typer.BadParameter(f"no organization {org!r}")
        try:
            state = check_ai_policy(policy)  # the same check as the API's PUT
        except OnboardingError as exc:
            raise typer.BadParameter(str(exc)) from None
        store.update_organization(organization.id, ai_policy=state)
    # A running server reads the policy per request: nothing to signal.
    print(f"organization {org}: AI policy {state}")


@project_app.command("create")
def project_create(
    org: Annotated[str, typer.Argument(help="The organization's slug")],
    slug: Annotated[str, typer.Argument(help="Lowercase letters, digits, - and _")],
    name: NameOption = None,
    platform: Annotated[
        str, typer.Option("--platform", help="python, javascript, node or other")
    ] = "python",
    data_dir: DataDirOption = None,
) -> None:
    """Create a project with its ingest key, and print its DSN and setup page."""
    settings = command_settings(data_dir)
    base_url = command_base_url(settings)
    with open_command_store(settings, create=False) as store:
        organization = store.get_organization(org)
        if organization is None:
            raise typer.BadParameter(f"no organization {org!r}")
        try:
            created = create_project(store, organization, slug, name, platform)
        except OnboardingError as exc:
            raise typer.BadParameter(str(exc)) from None
    signal_keys_changed(settings.data_dir)
    project = created.project
    print(f"created project {project.organization_slug}/{project.slug} (id {project.id})")
    print(f"DSN: {dsn_for(base_url, created.key.public_key, project.id)}")
    print(f"setup: {base_url}/{project.organization_slug}/{project.slug}/setup/")


@project_app.command("delete")
def project_delete(
    org: Annotated[str, typer.Argument(help="The organization's slug")],
    slug: Annotated[str, typer.Argument(help="The project's slug")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Delete a project: keys revoked, hidden at once; its data goes at the next retention pass."""
    settings = command_settings(data_dir)
    with open_command_store(settings, create=False) as store:
        project = store.get_project(org, slug)
        if project is None:
            raise typer.BadParameter(f"no project {org}/{slug}")
        if project.slug == INTERNAL_PROJECT:
            raise typer.BadParameter("Heliograph reports into this project: it cannot be deleted")
        if not yes:
            typer.confirm(f"delete {org}/{slug} and all its data?", abort=True)
        store.delete_project(project.id)
    signal_keys_changed(settings.data_dir)
    print(f"deleted {org}/{slug}: its keys are revoked; `heliograph cleanup` removes its data now")
