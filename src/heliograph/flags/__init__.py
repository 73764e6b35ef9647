"""Feature flags: definitions in PostHog's shape, and one evaluation used everywhere.

:mod:`heliograph.flags.definition` checks what a user or a tool sends;
:mod:`heliograph.flags.evaluation` decides a flag's value for a distinct id
exactly as PostHog's SDKs do when they evaluate locally, so that the server,
posthog-python or posthog-node with the served definitions, and heliograph-sdk
agree for every user. See ``docs/flags.md``.
"""
