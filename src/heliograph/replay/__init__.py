"""Session replay: recordings from posthog-js, the Heliograph snippet and Sentry Replay.

Decoders turn each client's recording into a :class:`~heliograph.replay.recording.RecordingPart`
(plain rrweb events); digest masks what the project does not keep
(:mod:`heliograph.replay.privacy`), summarises it (:mod:`heliograph.replay.summary`),
and stores it as a compressed segment (``docs/replay.md``).
"""
