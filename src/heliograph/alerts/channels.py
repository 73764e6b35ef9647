"""Where notifications go: email, Slack-compatible incoming webhooks, signed webhooks.

Each channel is one method, ``send(message)``, that returns once the
receiver accepted the message and raises :class:`DeliveryError` (with a
reason a person can act on) when it did not; the delivery thread records
either and retries failures. Nothing is sent anywhere a rule does not name,
and email needs the SMTP server configured (``HELIOGRAPH_SMTP_*``).

Webhook bodies are signed so receivers can tell them from forgeries:
``X-Heliograph-Signature: sha256=<hex>`` is the HMAC-SHA256, keyed with the
action's secret, of ``<X-Heliograph-Timestamp>.<body>``; a receiver checks
it, and that the timestamp is recent (replays), in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

import httpx
import orjson

from heliograph.alerts.messages import Message
from heliograph.config import Settings

__all__ = [
    "Channel",
    "DeliveryError",
    "EmailChannel",
    "SlackChannel",
    "SmtpSettings",
    "WebhookChannel",
    "signature",
]

TIMEOUT_SECONDS = 10.0
USER_AGENT = "Heliograph-Alerts/1"


class DeliveryError(Exception):
    """The receiver did not take the message; the text says why."""


class Channel(Protocol):
    def send(self, message: Message) -> None: ...


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """How to reach the mail server (``HELIOGRAPH_SMTP_*``; see docs/alerts.md)."""

    host: str
    port: int = 587
    username: str = ""
    password: str = ""
    sender: str = "heliograph@localhost"
    security: str = "starttls"  # starttls, ssl or none

    @classmethod
    def configured(cls, settings: Settings) -> SmtpSettings | None:
        """The server's mail settings, if it has any (no host: no email)."""
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            sender=settings.smtp_from,
            security=settings.smtp_security,
        )


class EmailChannel:
    def __init__(self, settings: SmtpSettings | None, recipients: list[str]) -> None:
        self.settings = settings
        self.recipients = recipients

    def send(self, message: Message) -> None:
        settings = self.settings
        if settings is None:
            raise DeliveryError("email is not configured: set HELIOGRAPH_SMTP_HOST")
        if not self.recipients:
            raise DeliveryError("no recipients: nobody left who receives alert emails")
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = settings.sender
        mail["To"] = ", ".join(self.recipients)
        mail["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
        mail.set_content(message.text)
        mail.add_alternative(message.html, subtype="html")
        try:
            if settings.security == "ssl":
                context = ssl.create_default_context()
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=TIMEOUT_SECONDS, context=context
                )
            else:
                client = smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT_SECONDS)
            with client:
                if settings.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if settings.username:
                    client.login(settings.username, settings.password)
                refused = client.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP: {type(exc).__name__}: {exc}"[:300]) from exc
        if refused:
            raise DeliveryError(f"SMTP refused {', '.join(sorted(refused))}"[:300])


def _post(url: str, body: bytes, headers: dict[str, str]) -> None:
    try:
        answer = httpx.post(
            url,
            content=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
            timeout=TIMEOUT_SECONDS,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:300]) from exc
    if not 200 <= answer.status_code < 300:
        raise DeliveryError(f"HTTP {answer.status_code} from the receiver")


class SlackChannel:
    """A Slack (or Mattermost, Rocket.Chat, Discord's /slack) incoming webhook."""

    def __init__(self, url: str) -> None:
        self.url = url

    def send(self, message: Message) -> None:
        lines = [f"<{a['url']}|{a['text']}>" for a in message.body.get("alerts", [])]
        text = message.subject if len(lines) != 1 else lines[0]
        body = {"text": "\n".join([message.subject, *lines]) if len(lines) > 1 else text}
        _post(self.url, orjson.dumps(body), {})


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: the HMAC of ``<timestamp>.<body>``, keyed with ``secret``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class WebhookChannel:
    def __init__(self, url: str, secret: str) -> None:
        self.url = url
        self.secret = secret

    def send(self, message: Message) -> None:
        body = orjson.dumps(message.body)
        timestamp = str(int(time.time()))
        _post(
            self.url,
            body,
            {
                "X-Heliograph-Timestamp": timestamp,
                "X-Heliograph-Signature": signature(self.secret, timestamp, body),
            },
        )
