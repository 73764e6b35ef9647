"""``/account/``: your personal API tokens, your password, and whether you get alert emails.

A new token is shown once, in the answer to the form that created it (never
in a redirect URL, which browsers keep in their history and send as
``Referer``); only its SHA-256 digest and first characters are stored. A
token's scopes narrow what it can do to what its owner's roles allow:
``read`` (every token), ``write`` (change issues), ``admin`` (settings,
keys, members). Anyone can only list and revoke their own tokens.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import RedirectResponse, Response

from heliograph.auth import SESSION_COOKIE, hash_password, verify_password
from heliograph.store.base import SCOPES
from heliograph.web.common import BadRequest, Forbidden, NotFound, PageRequest, page
from heliograph.web.forms import FormError, identifier, notice, text

ACCOUNT_URL = "/account/"
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


def _render(
    ctx: PageRequest, *, new_token: str | None = None, error: str | None = None, status: int = 200
) -> Response:
    found = ctx.store.get_user_by_email(ctx.principal.user.email)
    context = {
        "page_title": "Account",
        "tokens": ctx.store.list_api_tokens(ctx.principal.user.id),
        "scopes": SCOPES,
        "new_token": new_token,
        "has_password": bool(found and found[1]),
        "alert_emails": ctx.store.alert_emails_enabled(ctx.principal.user.id),
        "notice": notice(ctx.params),
        "error": error,
    }
    return ctx.render("account.html", context, status_code=status)


@page
def account(ctx: PageRequest) -> Response:
    if ctx.request.method == "GET":
        return _render(ctx)
    if ctx.principal.csrf_token is None:
        # A token must not mint tokens or change the password (a read token would become all).
        raise Forbidden("Manage your account from a logged-in browser session.")
    action = ACTIONS.get(ctx.form.get("action", ""))
    if action is None:
        raise BadRequest(f"Unknown action; use one of: {', '.join(ACTIONS)}.")
    try:
        return action(ctx)
    except FormError as exc:
        return _render(ctx, error=str(exc), status=400)


def _create_token(ctx: PageRequest) -> Response:
    label = text(ctx.form, "label", "The token's name")
    wanted = {"read", *(scope for scope in ctx.form.getlist("scope") if scope in SCOPES)}
    # A token can never do more than the session that makes it.
    scopes = [scope for scope in SCOPES if scope in wanted and scope in ctx.principal.scopes]
    raw = ctx.store.create_api_token(ctx.principal.user.id, label, " ".join(scopes))
    return _render(ctx, new_token=raw)


def _revoke_token(ctx: PageRequest) -> Response:
    if not ctx.store.revoke_api_token(ctx.principal.user.id, identifier(ctx.form, "token_id")):
        raise NotFound()
    return RedirectResponse(f"{ACCOUNT_URL}?done=token_revoked", status_code=303)


def _set_password(ctx: PageRequest) -> Response:
    found = ctx.store.get_user_by_email(ctx.principal.user.email)
    if found is None:
        raise NotFound()
    current_hash = found[1]
    if current_hash and not verify_password(current_hash, ctx.form.get("current_password", "")):
        raise FormError("The current password is wrong.")
    new = ctx.form.get("new_password", "")
    if not MIN_PASSWORD <= len(new) <= MAX_PASSWORD:
        raise FormError(f"The new password must have at least {MIN_PASSWORD} characters.")
    if new != ctx.form.get("confirm_password", ""):
        raise FormError("The two new passwords differ.")
    ctx.store.set_password(ctx.principal.user.id, hash_password(new))
    # Whoever else was logged in as this user (with the old password) is logged out.
    ctx.store.delete_sessions(ctx.principal.user.id, keep=ctx.request.cookies.get(SESSION_COOKIE))
    return RedirectResponse(f"{ACCOUNT_URL}?done=password_set", status_code=303)


def _set_alert_emails(ctx: PageRequest) -> Response:
    enabled = ctx.form.get("alert_emails") == "on"
    ctx.store.set_alert_emails(ctx.principal.user.id, enabled)
    done = "alert_emails_on" if enabled else "alert_emails_off"
    return RedirectResponse(f"{ACCOUNT_URL}?done={done}", status_code=303)


ACTIONS: dict[str, Callable[[PageRequest], Response]] = {
    "create_token": _create_token,
    "revoke_token": _revoke_token,
    "set_password": _set_password,
    "alert_emails": _set_alert_emails,
}
