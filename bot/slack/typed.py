"""Text as Slack sends what people type into a slash command (`should_escape: true`), read back as typed.

Slack escapes `&`, `<` and `>` as entities and turns mentions, channels and links into `<…>` sequences. The
grammar finds mentions and targets in that form; free text (summaries, details, messages, names) is decoded
once with `decode`, so VictorOps receives what the person typed. A mention inside free text becomes its
readable form (`@dana`, `#ops`, `@channel`): VictorOps shows plain text (timeline, e-mail, SMS), where
`<@U123|dana>` means nothing, and back in Slack the readable form is escaped, so it never pings anyone.
"""

from __future__ import annotations

import re

_SEQUENCE = re.compile(r"<([^<>]*)>")
_SPECIAL = {"channel", "here", "everyone"}


def _readable(match: re.Match[str]) -> str:
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith(("@", "#")):
        return target[0] + (label or target[1:])
    if target.startswith("!"):
        word, _, ident = target[1:].partition("^")
        if word in _SPECIAL:
            return f"@{word}"
        if word == "subteam":
            return label if label.startswith("@") else f"@{label or ident}"
        return label or word  # e.g. a date's fallback text
    # a link: Slack adds `http://` or `mailto:` to what was typed; a label that says something else stays beside it
    bare = re.sub(r"^(?:mailto:|[A-Za-z][A-Za-z0-9+.-]*://)", "", target)
    if not label:
        return target
    return label if label in (target, bare) else f"{label} ({target})"


def decode(text: str) -> str:
    """Slack's form of typed text -> the text as typed (mentions readable, entities decoded)."""
    readable = _SEQUENCE.sub(_readable, text)
    return readable.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
