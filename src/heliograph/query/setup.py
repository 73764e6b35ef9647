"""What a project's setup page shows: its DSN and keys, and a snippet per client.

Every snippet is filled in with this server's public URL and the project's
first active key, so it can be pasted as is. Which clients: those Heliograph
speaks to unmodified (sentry-sdk, @sentry/browser and @sentry/node,
posthog-python and posthog-js, OpenTelemetry exporters) and its own SDK.
"""

from __future__ import annotations

from dataclasses import dataclass

from heliograph.bootstrap import dsn_for
from heliograph.store.base import Project, ProjectKey

__all__ = ["SetupPage", "Snippet", "build_setup_page"]


@dataclass(frozen=True, slots=True)
class Snippet:
    id: str
    title: str
    install: str
    code: str


@dataclass(frozen=True, slots=True)
class SetupPage:
    dsn: str | None
    public_key: str | None
    snippets: list[Snippet]


def build_setup_page(project: Project, keys: list[ProjectKey], base_url: str) -> SetupPage:
    active = [key for key in keys if key.revoked_at is None]
    if not active:
        return SetupPage(None, None, [])
    key = active[0].public_key
    host = base_url.rstrip("/")
    dsn = dsn_for(host, key, project.id)
    snippets = [
        Snippet(
            "sentry-python",
            "Python (sentry-sdk)",
            "pip install sentry-sdk",
            f'import sentry_sdk\n\nsentry_sdk.init(\n    dsn="{dsn}",\n'
            '    environment="production",\n    release="my-app@1.0.0",\n)\n\n'
            "1 / 0  # the first error",
        ),
        Snippet(
            "sentry-browser",
            "Browser (@sentry/browser)",
            "npm install @sentry/browser",
            'import * as Sentry from "@sentry/browser";\n\nSentry.init({\n'
            f'  dsn: "{dsn}",\n'
            "  integrations: [Sentry.replayIntegration()],  // session replay, masked\n"
            "  replaysSessionSampleRate: 0.1,\n  replaysOnErrorSampleRate: 1.0,\n});",
        ),
        Snippet(
            "sentry-node",
            "Node.js (@sentry/node)",
            "npm install @sentry/node",
            f'const Sentry = require("@sentry/node");\n\nSentry.init({{ dsn: "{dsn}" }});',
        ),
        Snippet(
            "posthog-js",
            "Web analytics and replay (posthog-js)",
            "npm install posthog-js",
            'import posthog from "posthog-js";\n\n'
            f'posthog.init("{key}", {{ api_host: "{host}" }});',
        ),
        Snippet(
            "posthog-python",
            "LLM analytics and events (posthog-python)",
            "pip install posthog",
            "from posthog import Posthog\n\n"
            f'posthog = Posthog("{key}", host="{host}")\n'
            'posthog.capture("signed_up", distinct_id="user-42")',
        ),
        Snippet(
            "otlp",
            "OpenTelemetry GenAI spans (OTLP/HTTP)",
            "pip install opentelemetry-exporter-otlp-proto-http",
            f"export OTEL_EXPORTER_OTLP_TRACES_ENDPOINT={host}/v1/traces\n"
            "export OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf\n"
            f'export OTEL_EXPORTER_OTLP_TRACES_HEADERS="Authorization=Bearer%20{key}"',
        ),
        Snippet(
            "heliograph-sdk",
            "heliograph-sdk (errors, LLM calls, web apps)",
            "pip install heliograph-sdk",
            "import heliograph_sdk\n\nheliograph_sdk.init(\n"
            f'    api_key="{key}",\n    host="{host}",\n)',
        ),
    ]
    return SetupPage(dsn, key, snippets)
