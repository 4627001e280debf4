"""The one way vobot posts to a response_url: only to Slack's own hosts, or to SLACK_API_URL's (the local fakes
of the tests and the demo). A response URL is a credential, so a refused one is logged by its host alone.

Every post is checked: a 429 or 5xx is tried again briefly; a refusal (used five times, older than 30 minutes,
gone) is logged and reported to the caller as False, so a late outcome can take another way to the person."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.webhook.webhook_response import WebhookResponse

log = logging.getLogger(__name__)

# Slack's response URLs are plain (https://hooks.slack.com/actions/T…/…/…): anything fancier (user info,
# backslashes, spaces, a query) is refused before any parser can read a host into it another parser would not.
PLAIN_URL = re.compile(r"(https?)://([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?(/[A-Za-z0-9/_.~%-]*)?")
MAX_URL = 2048
DEFAULT_PORT = {"http": 80, "https": 443}

Origin = tuple[str, str, int]
Sleep = Callable[[float], Awaitable[None]]

RETRIES = (0.5, 2.0)  # seconds before each new try of a 429 or 5xx: briefly, the person is waiting
MAX_RETRY_AFTER = 5.0  # a longer Retry-After than this is not waited for here


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


def host_of(url: str) -> str:
    """What may be logged of a response URL: its origin, never its path (the credential)."""
    where = origin(url)
    return f"{where[0]}://{where[1]}:{where[2]}" if where else "a malformed URL"


def retryable(response: WebhookResponse) -> bool:
    return response.status_code == 429 or response.status_code >= 500


def retry_delay(response: WebhookResponse, planned: float) -> float:
    header = {k.lower(): v for k, v in (response.headers or {}).items()}.get("retry-after")
    value = str(header[0] if isinstance(header, list) and header else header or "")
    try:
        return min(float(value), MAX_RETRY_AFTER) if value else planned
    except ValueError:
        return planned


class ResponseUrls:
    def __init__(self, slack_api_url: str, sleep: Sleep = asyncio.sleep) -> None:
        parts = urlsplit(slack_api_url)
        self._api = origin(f"{parts.scheme}://{parts.netloc}")
        self._sleep = sleep

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
    ) -> bool:
        """Post a reply; True when Slack took it. False (logged) when there is no URL or Slack refused it."""
        if not url:
            return False
        if not self.allows(url):
            log.warning("refused to post a reply to %s: not a Slack response URL", host_of(url))
            return False
        respond = AsyncRespond(response_url=url)
        for planned in (*RETRIES, None):
            try:
                response: WebhookResponse = await respond(
                    text=text,
                    blocks=list(blocks) if blocks is not None else None,
                    response_type=response_type,
                    replace_original=replace_original,
                )
            except Exception as exc:  # the connection itself failed: worth another try, like a 5xx
                log.warning("posting a reply to %s failed: %s", host_of(url), type(exc).__name__)
                if planned is None:
                    return False
                await self._sleep(planned)
                continue
            if response.status_code == 200:
                return True
            if planned is None or not retryable(response):
                log.warning(
                    "Slack refused a reply through a response URL of %s: HTTP %d %s",
                    host_of(url),
                    response.status_code,
                    str(response.body)[:100],
                )
                return False
            await self._sleep(retry_delay(response, planned))
        return False
