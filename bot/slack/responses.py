"""The one way vobot posts to a response_url: only to Slack's own hosts, or to SLACK_API_URL's (the local fakes
of the tests and the demo). A response URL is a credential, so a refused one is logged by its host alone."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

from slack_bolt.context.respond.async_respond import AsyncRespond

log = logging.getLogger(__name__)

# Slack's response URLs are plain (https://hooks.slack.com/actions/T…/…/…): anything fancier (user info,
# backslashes, spaces, a query) is refused before any parser can read a host into it another parser would not.
PLAIN_URL = re.compile(r"(https?)://([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?(/[A-Za-z0-9/_.~%-]*)?")
MAX_URL = 2048
DEFAULT_PORT = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


def origin(url: str) -> Origin | None:
    """(scheme, lower-case host, port) of a plain URL; None for anything else."""
    match = PLAIN_URL.fullmatch(url) if len(url) <= MAX_URL else None
    if match is None:
        return None
    scheme, host, port = match.group(1), match.group(2).lower(), match.group(3)
    return scheme, host, int(port) if port else DEFAULT_PORT[scheme]


def is_slacks(where: Origin) -> bool:
    scheme, host, port = where
    return scheme == "https" and port == 443 and host.endswith(".slack.com")


class ResponseUrls:
    def __init__(self, slack_api_url: str) -> None:
        parts = urlsplit(slack_api_url)
        self._api = origin(f"{parts.scheme}://{parts.netloc}")

    def allows(self, url: str) -> bool:
        where = origin(url)
        return where is not None and (is_slacks(where) or where == self._api)

    async def post(
        self,
        url: str | None,
        text: str,
        blocks: Sequence[dict[str, Any]] | None = None,
        *,
        response_type: Literal["ephemeral", "in_channel"] | None = None,
        replace_original: bool,
    ) -> None:
        if not url:
            return
        if not self.allows(url):
            where = origin(url)
            host = f"{where[0]}://{where[1]}:{where[2]}" if where else "a malformed URL"
            log.warning("refused to post a reply to %s: not a Slack response URL", host)
            return
        await AsyncRespond(response_url=url)(
            text=text,
            blocks=list(blocks) if blocks is not None else None,
            response_type=response_type,
            replace_original=replace_original,
        )
