"""Where Slack would ping or link: live `<…>` sequences in the mrkdwn parts of a message, for assertions.

Slack parses `<!channel>`, `<@U…>`, `<#C…>` and `<https://…|…>` in mrkdwn text (a section's or context's
mrkdwn object, a message's top-level `text`) and shows plain_text objects as they are. A message may hold
mentions vobot builds itself; a test names those (`allowed`), and every other sequence came from input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

LIVE = re.compile(r"<(?:!|@|#|https?:|mailto:)[^>]*>?")


def mrkdwn_texts(node: Any, *, top_text: str | None = None) -> Iterator[str]:
    """Every string Slack reads as mrkdwn in blocks (or a view), plus a message's top-level `text`."""
    if top_text is not None:
        yield top_text
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield node["text"]
        for key, value in node.items():
            if key == "text" and isinstance(value, str) and node.get("type") not in ("plain_text", "mrkdwn"):
                # a `text` string outside a text object (a confirm's text given as a string is mrkdwn)
                yield value
            elif not isinstance(value, str):
                yield from mrkdwn_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from mrkdwn_texts(item)


def plain_texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "plain_text" and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            if not isinstance(value, str):
                yield from plain_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from plain_texts(item)


def live_sequences(node: Any, *, top_text: str | None = None, allowed: Iterable[str] = ()) -> list[str]:
    """The live `<…>` sequences in the mrkdwn of `node` that are not among `allowed`."""
    permitted = set(allowed)
    return [
        found
        for text in mrkdwn_texts(node, top_text=top_text)
        for found in LIVE.findall(text)
        if found not in permitted
    ]
