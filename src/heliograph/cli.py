"""The ``heliograph`` command line: ``serve`` and the admin commands.

Flags win over ``HELIOGRAPH_*`` environment variables, which win over the
defaults in :class:`~heliograph.config.Settings`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from heliograph.admin_cli import org_app, project_app
from heliograph.backup_cli import backup as backup_command
from heliograph.backup_cli import restore as restore_command
from heliograph.bootstrap import (
    DEFAULT_ORG,
    ensure_defaults,
    ensure_internal_key,
    login_link_url,
)
from heliograph.cli_errors import run_cli
from heliograph.cli_options import DataDirOption, command_settings
from heliograph.cli_options import open_command_store as _open_store
from heliograph.config import ConfigError, Settings, load_config_file
from heliograph.dead_letters_cli import app as dead_letters_app
from heliograph.logs import configure_logging
from heliograph.public_url import command_base_url
from heliograph.slugs import SlugError, check_slug

app = typer.Typer(
    help="Heliograph: self-hosted error tracking and LLM analytics.",
    no_args_is_help=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
console = Console(stderr=True, highlight=False, soft_wrap=True)
logger = logging.getLogger("heliograph.serve")

ROLES = ("owner", "admin", "member", "viewer")


def _print_version(value: bool) -> None:
    if value:
        from heliograph import __version__

        print(f"heliograph {__version__}")
        raise typer.Exit()


def _slug_option(value: str) -> str:
    try:
        return check_slug(value)
    except SlugError as exc:
        raise typer.BadParameter(str(exc)) from None


def looks_like_email(value: str) -> bool:
    """Something@somewhere: enough to catch a name typed where the email goes."""
    local, at, domain = value.partition("@")
    return bool(local and at and domain) and not any(c.isspace() for c in value)


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="HELIOGRAPH_CONFIG",
            help="A file of HELIOGRAPH_*=value lines (secrets belong here or in the "
            "environment) [env: HELIOGRAPH_CONFIG]",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the version and exit",
        ),
    ] = False,
) -> None:
    """Run ``serve`` when no command is given."""
    if config is not None:
        try:
            load_config_file(config)
        except ConfigError as exc:
            raise typer.BadParameter(str(exc)) from None
    if ctx.invoked_subcommand is None:
        serve()


def _check_public_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise typer.BadParameter(f"{value!r} is no http:// or https:// URL")
    return value


PublicUrlOption = Annotated[
    str | None,
    typer.Option(
        "--public-url",
        callback=_check_public_url,
        help="The server's URL, for the links printed [env: HELIOGRAPH_PUBLIC_URL; "
        "default: the one `serve` last ran at]",
    ),
]


WorkersOption = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        help="Acceptor and digest processes to run, each [env: HELIOGRAPH_WORKERS; "
        "default: the number of cores]",
    ),
]


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on [env: HELIOGRAPH_HOST]")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Port to listen on [env: HELIOGRAPH_PORT]"),
    ] = None,
    data_dir: DataDirOption = None,
    public_url: Annotated[
        str | None,
        typer.Option(help="URL users and SDKs reach the server at [env: HELIOGRAPH_PUBLIC_URL]"),
    ] = None,
    workers: WorkersOption = None,
) -> None:
    """Start the server (the default command)."""
    import signal

    from heliograph.listen_errors import listen_error
    from heliograph.node import (
        MetricsAddressError,
        Node,
        default_workers,
        prepare_metrics,
        reserve_port,
    )
    from heliograph.public_url import remember_public_url

    settings = command_settings(
        data_dir, host=host, port=port, public_url=public_url, workers=workers
    )
    configure_logging("serve", log_format=settings.log_format, level=settings.log_level)
    try:
        sock = reserve_port(settings.host, settings.port)
    except OSError as exc:
        console.print(f"[red]{listen_error(settings.host, settings.port, exc)}[/red]")
        raise typer.Exit(1) from None
    # --port 0 asks for any free port: every acceptor must then use the one found.
    settings = replace(settings, port=sock.getsockname()[1])
    # login-link and demo, run later in other processes, print links to this address.
    remember_public_url(settings.data_dir, settings.base_url)
    count = settings.workers or default_workers()
    node = Node(settings, count, sock)
    # The store is opened (and on a first start, filled) by a short-lived
    # child: the supervisor lives as long as the server and stays small.
    if not node.bootstrap():
        raise typer.Exit(2)
    Console(highlight=False).print(f"  {count} acceptor and {count} digest process(es)")

    def stop(signum: int, frame: FrameType | None) -> None:
        node.request_stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    prepare_metrics(settings)  # after the bootstrap child, before anything imports the metrics
    try:
        node.start()
    except MetricsAddressError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    try:
        node.supervise()
    finally:
        logger.info("shutting down: stopping the acceptor and digest processes")
        node.stop()
        logger.info("stopped")
    if node.refused:
        raise typer.Exit(2)


@app.command(hidden=True)
def bootstrap(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    public_url: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create the defaults on a first start and print how to connect (run by ``serve``)."""
    from rich.markup import escape

    from heliograph.store import migrate_queue_shards
    from heliograph.store.base import SchemaTooNew

    settings = command_settings(data_dir, host=host, port=port, public_url=public_url)
    configure_logging("bootstrap", log_format=settings.log_format, level=settings.log_level)
    try:
        with _open_store(settings) as store:
            welcome = ensure_defaults(store, settings.base_url)
            if settings.self_monitoring:
                # Once here, before the node's processes start: not N at once.
                ensure_internal_key(store)
        # The acceptor and digest processes open the queue shards: a shard they
        # could not open must stop the start here, said once, not make them crash-loop.
        migrate_queue_shards(settings.data_dir)
    except typer.BadParameter as exc:
        console.print(f"[red]{escape(exc.message)}[/red]")
        raise typer.Exit(2) from None
    except SchemaTooNew as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    _print_welcome(settings, welcome.dsn, welcome.login_url, welcome.api_token)


def _print_welcome(
    settings: Settings, dsn: str, login_url: str | None, api_token: str | None
) -> None:
    out = Console(highlight=False, soft_wrap=True)
    out.print(f"Heliograph is running at [bold]{settings.base_url}[/bold]")
    out.print(f"  data directory: {settings.data_dir.resolve()}")
    out.print(f"  DSN for sentry-sdk: [bold]{dsn}[/bold]")
    if login_url:
        out.print(f"  one-time admin login link: [bold]{login_url}[/bold]")
    if api_token:
        out.print(f"  admin API token (shown once): [bold]{api_token}[/bold]")
    if not login_url:
        out.print("  log in with your account, or run `heliograph login-link` for a new link")


@app.command()
def digest(
    data_dir: DataDirOption = None,
    worker: Annotated[int, typer.Option(hidden=True, help="This worker's number")] = 0,
    workers: Annotated[int, typer.Option(hidden=True, help="Digest workers in all")] = 1,
    parent_pid: Annotated[
        int | None, typer.Option(hidden=True, help="Exit when this process is gone")
    ] = None,
) -> None:
    """Run digest alone, on every queue shard (``serve`` runs its own digest workers)."""
    from heliograph.digest.process import run_digest

    if not 0 <= worker < workers:
        raise typer.BadParameter(f"--worker {worker} of --workers {workers}")
    settings = command_settings(data_dir)
    if parent_pid is None:
        # Run by hand, digest needs a data directory `serve` made: on a wrong
        # --data-dir it would otherwise create an empty one and wait forever.
        with _open_store(settings, create=False):
            pass
    configure_logging("digest", worker, log_format=settings.log_format, level=settings.log_level)
    run_digest(settings, worker=worker, workers=workers, parent_pid=parent_pid)


@app.command()
def fix(
    event_file: Annotated[
        Path | None,
        typer.Argument(help="An error event as JSON (SDK payload or API event)", exists=True),
    ] = None,
    issue: Annotated[
        int | None, typer.Option("--issue", help="Use this issue's latest stored event")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Override the model")] = None,
    dump_prompt: Annotated[
        bool, typer.Option("--dump-prompt", help="Print what would be sent, call nothing")
    ] = False,
    refresh: Annotated[bool, typer.Option("--refresh", help="Ignore a cached answer")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Suggest a fix for an error event with the configured LLM (or dump the prompt)."""
    import asyncio

    from heliograph.ai.fix_command import FixCommandError, run_fix_command

    if (event_file is None) == (issue is None):
        raise typer.BadParameter("give either an EVENT.json file or --issue ID")
    try:
        code = asyncio.run(
            run_fix_command(
                command_settings(data_dir),
                event_file=event_file,
                issue_id=issue,
                model=model,
                dump_prompt=dump_prompt,
                refresh=refresh,
            )
        )
    except FixCommandError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(exc.exit_code) from None
    raise typer.Exit(code)


@app.command()
def demo(
    project: Annotated[
        str,
        typer.Option(
            help="Project slug, created in the default organization if missing",
            callback=_slug_option,
        ),
    ] = "demo",
    seed: Annotated[int, typer.Option(help="The same seed gives the same data")] = 42,
    days: Annotated[
        int, typer.Option(min=1, max=365, help="Spread the data over the last N days")
    ] = 7,
    traces: Annotated[int, typer.Option(min=0, help="How many LLM traces to create")] = 600,
    data_dir: DataDirOption = None,
    public_url: PublicUrlOption = None,
) -> None:
    """Fill a project with a week of realistic errors, LLM traces and sessions."""
    from heliograph.demo import run_demo

    settings = command_settings(data_dir)
    base_url = command_base_url(settings, public_url)
    with _open_store(settings) as store:
        # The defaults come first, so the default project keeps id 1 and a
        # first-ever run still hands out the admin's one-time login link.
        welcome = ensure_defaults(store, base_url)
        result = run_demo(store, settings.data_dir, project, seed=seed, days=days, traces=traces)
    if welcome.login_url:
        console.print(f"one-time admin login link: {welcome.login_url}")
    if welcome.api_token:
        console.print(f"admin API token (shown once): {welcome.api_token}")
    console.print(
        f"{result.traces} LLM traces ({result.llm_events} events), {result.pageviews} pageviews "
        f"and {result.errors} errors in {result.project.organization_slug}/{result.project.slug}"
    )
    console.print(f"open {base_url}{result.url_path}")


@app.command("login-link")
def login_link(
    email: Annotated[str, typer.Option(help="The user to log in as")] = "admin@heliograph.local",
    data_dir: DataDirOption = None,
    public_url: PublicUrlOption = None,
) -> None:
    """Print a one-time login link for a user (valid for 24 hours)."""
    settings = command_settings(data_dir)
    base_url = command_base_url(settings, public_url)
    with _open_store(settings, create=False) as store:
        found = store.get_user_by_email(email)
        if found is None:
            console.print(f"no user {email!r}; create one with `heliograph createuser`")
            raise typer.Exit(1)
        print(login_link_url(base_url, store.create_login_link(found[0].id)))


@app.command()
def createuser(
    email: Annotated[str, typer.Argument(help="The new user's email")],
    password: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="Password"),
    ],
    superuser: Annotated[bool, typer.Option(help="Give access to everything")] = False,
    org: Annotated[
        str, typer.Option("--org", help="Organization to add the user to")
    ] = DEFAULT_ORG,
    role: Annotated[
        str, typer.Option("--role", help="Role there: owner, admin, member or viewer")
    ] = "member",
    data_dir: DataDirOption = None,
) -> None:
    """Create a user who logs in with email and password."""
    from heliograph.auth import hash_password

    if not looks_like_email(email):
        raise typer.BadParameter(f"{email!r} is not an email address")
    if role not in ROLES:
        raise typer.BadParameter(f"--role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise typer.BadParameter("the password must have at least 8 characters")
    settings = command_settings(data_dir)
    with _open_store(settings) as store:
        ensure_defaults(store, settings.base_url)
        if store.get_user_by_email(email) is not None:
            console.print(f"a user {email!r} already exists")
            raise typer.Exit(1)
        organization = store.get_organization(org)
        if organization is None:
            console.print(f"no organization {org!r}")
            raise typer.Exit(1)
        user = store.create_user(
            email, password_hash=hash_password(password), is_superuser=superuser
        )
        store.add_member(user.id, organization.id, "owner" if superuser else role)
        console.print(f"created {user.email} ({'owner' if superuser else role} of {org})")


@app.command()
def migrate(data_dir: DataDirOption = None) -> None:
    """Bring the store's schema up to date now (every start also does, under a lock)."""
    settings = command_settings(data_dir)
    with _open_store(settings):
        pass  # opening a store runs the migrations it lacks
    where = settings.store_url.split("@")[-1]  # no password in the output
    print(f"the schema of {where} is up to date")


@app.command()
def cleanup(
    data_dir: DataDirOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would be deleted")
    ] = False,
) -> None:
    """Delete events past each project's retention now (digest also does it hourly)."""
    settings = command_settings(data_dir)
    with _open_store(settings, create=False) as store:
        report = store.purge_expired(dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for purge in report.projects:
        project = purge.project
        print(
            f"{project.organization_slug}/{project.slug} (keeps {project.retention_days} days): "
            f"{verb} {purge.events} events, {purge.issues} issues, "
            f"{purge.issue_hours} hourly counts, {purge.llm_rows} LLM rows"
        )
    print(f"{verb} {report.sourcemaps} source-map bundles past retention")
    if not dry_run:
        print(f"deleted {report.sessions} expired sessions and login links")


app.command("backup")(backup_command)
app.command("restore")(restore_command)
app.add_typer(dead_letters_app, name="dead-letters")
app.add_typer(org_app, name="org")
app.add_typer(project_app, name="project")


def main() -> None:
    """The ``heliograph`` script: errors are one line and a non-zero exit status."""
    raise SystemExit(run_cli(app))
