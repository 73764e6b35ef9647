"""Server-rendered pages. Login is required for everything but the login pages."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from heliograph.auth import SESSION_COOKIE, authenticate, verify_password
from heliograph.runtime import Runtime

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATES_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _start_session(request: Request, user_id: int, redirect_to: str = "/") -> Response:
    token, _csrf = _runtime(request).store.create_session(user_id)
    response = RedirectResponse(redirect_to, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=14 * 24 * 3600,
    )
    return response


def login_link(request: Request) -> Response:
    """A one-time link printed at first start (or by ``heliograph login-link``)."""
    user_id = _runtime(request).store.consume_login_link(request.path_params["token"])
    if user_id is None:
        return templates.TemplateResponse(
            request,
            "login.html",
            {"error": "This login link has expired or was already used."},
            status_code=403,
        )
    return _start_session(request, user_id)


async def login(request: Request) -> Response:
    if request.method == "GET":
        return templates.TemplateResponse(request, "login.html", {"error": None})
    form = await request.form()
    email = str(form.get("email", ""))
    password = str(form.get("password", ""))
    found = _runtime(request).store.get_user_by_email(email)
    if found is None or not verify_password(found[1], password):
        return templates.TemplateResponse(
            request, "login.html", {"error": "Wrong email or password."}, status_code=401
        )
    return _start_session(request, found[0].id)


def logout(request: Request) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        _runtime(request).store.delete_session(cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def home(request: Request) -> Response:
    principal = authenticate(request, _runtime(request).store)
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    return templates.TemplateResponse(request, "home.html", {"user": principal.user})


routes = [
    Route("/", home),
    Route("/login", login, methods=["GET", "POST"]),
    Route("/login/link/{token}", login_link),
    Route("/logout", logout, methods=["POST", "GET"]),
]
