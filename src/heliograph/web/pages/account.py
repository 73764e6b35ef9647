"""Logging in and out, and the front door that sends you to your issues.

Three ways in: a one-time login link (printed at first start or by
``heliograph login-link``), email and password, or an existing session
cookie. After logging in the browser goes back to ``next`` -- but only if it
is a path on this site, so a crafted link cannot bounce users elsewhere.

The session cookie is ``HttpOnly`` (no script reads it), ``SameSite=Lax`` (no
cross-site form posts carry it) and ``Secure`` whenever users reach the
server over https (the request's scheme, or an https ``HELIOGRAPH_PUBLIC_URL``
behind a proxy). Repeated wrong passwords for one email from one address
earn a cool-down (:mod:`heliograph.web.throttle`), answered 429.
"""

from __future__ import annotations

import secrets
from functools import cache

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from heliograph.auth import (
    ALL_SCOPES,
    SESSION_COOKIE,
    Principal,
    authenticate,
    hash_password,
    verify_password,
)
from heliograph.store.base import SESSION_TTL
from heliograph.web.common import CSRF_FIELD, render, runtime_of, safe_next


def secure_cookies(request: Request) -> bool:
    return request.url.scheme == "https" or runtime_of(request).settings.https


def _start_session(request: Request, user_id: int, redirect_to: str) -> Response:
    token, _csrf = runtime_of(request).store.create_session(user_id)
    response = RedirectResponse(redirect_to, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        max_age=SESSION_TTL,
    )
    return response


def login_link(request: Request) -> Response:
    """A one-time link: the first visit logs in, any later one is refused."""
    user_id = runtime_of(request).store.consume_login_link(request.path_params["token"])
    if user_id is None:
        return render(
            request,
            "login.html",
            {"error": "This login link has expired or was already used.", "next": ""},
            status_code=403,
        )
    return _start_session(request, user_id, safe_next(request.query_params.get("next")))


async def login(request: Request) -> Response:
    if request.method == "GET":
        context = {"error": None, "next": safe_next(request.query_params.get("next"), "")}
        return render(request, "login.html", context)
    form = await request.form()
    email = str(form.get("email", ""))
    password = str(form.get("password", ""))
    next_path = safe_next(str(form.get("next", "")))
    # argon2 is deliberately slow: keep it (and the session write) off the event loop.
    return await run_in_threadpool(_password_login, request, email, password, next_path)


@cache
def _decoy_hash() -> str:
    return hash_password(secrets.token_hex(16))


def _password_login(request: Request, email: str, password: str, next_path: str) -> Response:
    runtime = runtime_of(request)
    throttle = runtime.login_throttle
    address = request.client.host if request.client else ""
    wait = throttle.retry_after(email, address)
    if wait:
        minutes = max(1, round(wait / 60))
        message = (
            "Too many failed attempts for this account from your address. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        )
        context = {"error": message, "next": next_path, "email": email}
        response = render(request, "login.html", context, status_code=429)
        response.headers["Retry-After"] = str(wait)
        return response
    found = runtime.store.get_user_by_email(email)
    # An unknown email costs the same argon2 check: timing must not reveal who has an account.
    password_hash = (found[1] if found else None) or _decoy_hash()
    if not verify_password(password_hash, password) or found is None:
        throttle.failed(email, address)
        context = {"error": "Wrong email or password.", "next": next_path, "email": email}
        return render(request, "login.html", context, status_code=401)
    throttle.succeeded(email, address)
    return _start_session(request, found[0].id, next_path)


async def logout(request: Request) -> Response:
    """``POST /logout`` with the CSRF token ends the session; ``GET`` asks first.

    A cross-site page can make a browser send a GET or a form post: neither
    may log the user out behind their back.
    """
    store = runtime_of(request).store
    cookie = request.cookies.get(SESSION_COOKIE)
    session = await run_in_threadpool(store.get_session, cookie) if cookie else None
    if session is not None and cookie is not None:
        principal = Principal(session.user, ALL_SCOPES, session.csrf_token)
        if request.method != "POST":
            return await run_in_threadpool(
                render, request, "logout.html", {}, principal=principal, store=store
            )
        form = await request.form()
        sent = str(form.get(CSRF_FIELD, ""))
        if not secrets.compare_digest(sent, session.csrf_token):
            message = "Invalid or missing CSRF token: reload the page and try again."
            context = {"status": 403, "message": message}
            return await run_in_threadpool(
                render,
                request,
                "error.html",
                context,
                principal=principal,
                store=store,
                status_code=403,
            )
        await run_in_threadpool(store.delete_session, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=secure_cookies(request)
    )
    return response


def home(request: Request) -> Response:
    """``/``: the first project the user can see, or a page saying there is none."""
    store = runtime_of(request).store
    principal = authenticate(request, store)
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    projects = store.list_projects(principal.user.id)
    if projects:
        first = projects[0]
        return RedirectResponse(f"/{first.organization_slug}/{first.slug}/issues/", status_code=303)
    return render(request, "home.html", {}, principal=principal, store=store)
