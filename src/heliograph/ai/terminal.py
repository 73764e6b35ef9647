"""``heliograph fix`` in a terminal: stream the suggestion as it is written.

On a terminal the markdown is re-rendered live with Rich; when piped, the
raw markdown text is written through as it arrives, so ``> fix.md`` works.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown

from heliograph.ai.fix import Delta, Done, FixPart


async def render(parts: AsyncIterator[FixPart], console: Console) -> Done | None:
    """Show the parts; returns the final :class:`Done` (None if the stream broke off)."""
    text = ""
    done: Done | None = None
    if console.is_terminal:
        with Live(Markdown(""), console=console, refresh_per_second=12) as live:
            async for part in parts:
                if isinstance(part, Delta):
                    text += part.text
                    live.update(Markdown(text))
                else:
                    done = part
    else:
        async for part in parts:
            if isinstance(part, Delta):
                sys.stdout.write(part.text)
                sys.stdout.flush()
            else:
                done = part
        if not text.endswith("\n"):
            sys.stdout.write("\n")
    return done


def footer(done: Done) -> str:
    source = "cached" if done.cached else "fresh"
    return (
        f"{done.model} · {source} · {done.input_tokens} in / {done.output_tokens} out tokens"
        f" · {done.elapsed_seconds:.1f}s"
    )
