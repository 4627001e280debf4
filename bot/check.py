"""`vobot check`: validate the configuration, then reach Slack, VictorOps and the database, one line a check.

Costs: two Slack calls plus one per digest channel; VictorOps one lookup and one incidents call (a write
that changes nothing, to tell a read-only key from a full one), and one more incidents call (a read) when that
write gets a 403 that does not say why. Webhooks are only described: VictorOps calls us, not the other way.
With `oncall_groups`, two more lookups (the teams, and who is on call) and a read of the links, to name the
people on call no Slack user is linked to.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import AppConfig, Settings
from bot.core.identity import linked_usernames
from bot.core.oncall import group_reports
from bot.slack.scopes import SCOPES
from bot.slack.sentences import group_facts
from bot.store.db import Database, known_revisions
from bot.store.links import LinkStore
from bot.victorops import errors
from bot.victorops.client import VictorOpsClient
from bot.victorops.limits import UNLIMITED


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # what was found, or what is wrong and what to do about it
    warning: bool = False  # ok, but worth knowing (e.g. a new database that `vobot run` will set up)

    def line(self) -> str:
        mark = "FAIL" if not self.ok else "warn" if self.warning else "ok  "
        return f"{mark}  {self.name}: {self.detail}"


async def run_checks(settings: Settings, config: AppConfig) -> list[Check]:
    return [
        *await check_database(settings),
        *await check_slack(settings, config),
        *await check_victorops(settings),
        *check_webhooks(settings, config),
        *check_oncall_sources(settings, config),
        *await check_oncall_groups(settings, config),
    ]


GROUPS_SCOPE = "usergroups:write"
OFF_HINT = 'VOBOT_WEBHOOK_TOKEN turns them on: README, "Live feed"'


def masked(token: str) -> str:
    """Enough of the token to tell which one it is, never enough to use it."""
    return token[:2] + "…" if len(token) >= 12 else "…"


def _polling(settings: Settings) -> str:
    return f"polling every {settings.poll_interval:g} s" if settings.poll_interval else "polling off"


def check_webhooks(settings: Settings, config: AppConfig) -> list[Check]:
    """With a token, how to set VictorOps up to call us (no call is made); without, nothing: the VictorOps line
    says webhooks are off."""
    if settings.webhook_token is None:
        return []
    token = masked(settings.webhook_token.get_secret_value())
    polling = f"{_polling(settings)}, slower while webhooks arrive" if settings.poll_interval else _polling(settings)
    setup = (
        "in VictorOps, Settings → Alert Behavior → Outgoing Webhooks → Add Webhook: event Any-Incident, method "
        f"POST, content type application/json, URL https://<this bot's host>/victorops/webhook?token={token} "
        "(VOBOT_WEBHOOK_TOKEN in full)"
    )
    if config.watches_oncall:
        setup += (
            "; for handoffs and on-call groups, another with event Any-On-Call and the same URL with &kind=oncall "
            "added (who is on call is then read again within a minute)"
        )
    return [Check("Webhooks", True, f"on ({polling}): {setup}")]


def check_oncall_sources(settings: Settings, config: AppConfig) -> list[Check]:
    """Handoffs or on-call groups with no way to learn who is on call: no reads, no webhook."""
    if not config.watches_oncall or settings.oncall_interval or settings.webhook_token:
        return []
    detail = (
        "VOBOT_ONCALL_INTERVAL is 0 and VOBOT_WEBHOOK_TOKEN is not set, so who is on call is never read: no "
        "handoff is posted and no on-call group follows; set VOBOT_ONCALL_INTERVAL (default 60) or the token"
    )
    return [Check("On-call", True, detail, warning=True)]


async def check_database(settings: Settings) -> list[Check]:
    db = Database(settings.database_url)
    try:
        await db.ping()
        current, head = await db.current_revision(), await db.head_revision()
        if current == head:
            return [Check("Database", True, f"{db.safe_url} answers; migrations are current ({head})")]
        if current is None:
            detail = f"{db.safe_url} answers and is new: `vobot migrate` (or `vobot run`) creates its tables"
            return [Check("Database", True, detail, warning=True)]
        if current in known_revisions():
            detail = f"{db.safe_url} is at migration {current}, the code needs {head}: `vobot migrate` applies them"
            return [Check("Database", True, detail, warning=True)]
        detail = (
            f"{db.safe_url} is at migration {current}, which this version of vobot does not know: "
            "it was migrated by a newer vobot; run that version"
        )
        return [Check("Database", False, detail)]
    except Exception as exc:
        return [Check("Database", False, f"{exc}; check VOBOT_DATABASE_URL and that the database is running")]
    finally:
        await db.dispose()


async def check_slack(settings: Settings, config: AppConfig) -> list[Check]:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = AsyncWebClient(token=token, base_url=settings.slack_api_url)
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        code = exc.response.get("error", "unknown") if exc.response is not None else "unknown"
        return [Check("Slack", False, f"auth.test failed ({code}): check SLACK_BOT_TOKEN (xoxb-…) and reinstall")]
    except Exception as exc:
        return [Check("Slack", False, f"cannot reach {settings.slack_api_url} ({type(exc).__name__})")]
    found = [Check("Slack", True, f"authenticated as @{auth.get('user')} in {auth.get('team')}")]
    granted = {s.strip() for s in (auth.headers.get("x-oauth-scopes") or "").split(",") if s.strip()}
    missing = sorted(set(SCOPES) - granted)
    unused = [] if config.oncall_groups else [s for s in missing if s == GROUPS_SCOPE]  # only on-call groups use it
    needed = [s for s in missing if s not in unused]
    if needed:
        detail = (
            f"missing {', '.join(needed)}: add them under OAuth & Permissions (or from manifest.yml), then reinstall"
        )
        found.append(Check("Slack scopes", False, detail))
    elif unused:
        detail = f"missing {GROUPS_SCOPE}, which only oncall_groups needs: add it (and reinstall) before using them"
        found.append(Check("Slack scopes", True, detail, warning=True))
    else:
        found.append(Check("Slack scopes", True, f"all {len(SCOPES)} granted"))
    public = "chat:write.public" in granted
    for digest in config.digests:
        found.append(await check_channel(client, f"Digest {digest.name}", digest.channel, public))
    for feed in config.feeds:
        found.append(await check_channel(client, f"Feed {feed.channel}", feed.channel, public))
    return found


async def check_channel(client: AsyncWebClient, name: str, channel: str, public_posting: bool) -> Check:
    """Whether the bot can post in `channel`, for the check called `name`."""
    try:
        info = (await client.conversations_info(channel=channel))["channel"]
    except SlackApiError as exc:
        code = exc.response.get("error", "unknown") if exc.response is not None else "unknown"
        return Check(name, False, f"channel {channel} cannot be read ({code}): check the ID, or invite the bot")
    if info.get("is_member") or (not info.get("is_private") and public_posting):
        return Check(name, True, f"can post in #{info.get('name', channel)}")
    return Check(name, False, f"the bot is not in #{info.get('name', channel)}: `/invite @vobot` there")


async def check_victorops(settings: Settings) -> list[Check]:
    budgets = (
        f"budgets: incidents {settings.victorops_rate_limit}, reporting {settings.victorops_reporting_rate_limit}, "
        f"lookups {settings.victorops_lookup_rate_limit}"
    )
    vo = _client(settings)
    try:
        users = await vo.list_users()
        hooks = "" if settings.webhook_token else f"; webhooks off, {_polling(settings)} ({OFF_HINT})"
        found = [Check("VictorOps", True, f"the API key works ({len(users)} users); {budgets}{hooks}")]
        found.append(await check_writes(vo))
        return found
    except errors.VictorOpsError as exc:
        return [Check("VictorOps", False, str(exc))]
    finally:
        await vo.aclose()


def _client(settings: Settings) -> VictorOpsClient:
    return VictorOpsClient(
        base_url=settings.victorops_api_url,
        api_id=settings.victorops_api_id or "",
        api_key=settings.victorops_api_key or SecretStr(""),
        budgets=UNLIMITED,
        max_attempts=1,
    )


async def check_writes(vo: VictorOpsClient) -> Check:
    """Ack nothing as nobody: a full key gets "user not found" or a bad request; a read-only key is refused.

    VictorOps answers a rate limit with 403 too, so a refused write alone proves nothing: the key is called
    read-only only when a read of the same endpoints (same budget) is answered right after."""
    try:
        await vo.ack("vobot-check-no-such-user", [])
    except errors.Forbidden:
        try:
            await vo.list_incidents()
        except errors.VictorOpsError:
            return Check(
                "VictorOps writes",
                False,
                "VictorOps refused a test write and then a read of the incidents (HTTP 403): it is probably "
                "rate limiting this key right now; run `vobot check` again in a minute",
            )
        return Check("VictorOps writes", False, "the key is read-only: create one without read-only for acks")
    except (errors.NotFound, errors.BadRequest):
        pass
    return Check("VictorOps writes", True, "the key may acknowledge, resolve, reroute and create")


async def check_oncall_groups(settings: Settings, config: AppConfig) -> list[Check]:
    """Each on-call user group: its team exists (VictorOps' team list says), and who is on call for it is linked to
    a Slack user."""
    if not config.oncall_groups:
        return []
    vo = _client(settings)
    try:
        listed = {team.slug.lower(): team.name for team in await vo.list_teams()}
        teams = await vo.oncall_now()
    except errors.VictorOpsError as exc:
        return [Check("On-call groups", False, f"cannot read the teams or who is on call: {exc}")]
    finally:
        await vo.aclose()
    linked = await _linked(settings, config)
    return [
        # a missing team fails; a group left as it is (nobody linked on call) or with people unlinked warns
        Check(f"On-call group {r.group}", r.problem != "no_team", group_facts(r, settings.command), True)
        if r.problem or r.unlinked
        else Check(f"On-call group {r.group}", True, f"everyone on call for {r.team} is linked to Slack")
        for r in group_reports(config.oncall_groups, teams, linked, listed=listed)
    ]


async def _linked(settings: Settings, config: AppConfig) -> set[str]:
    """The VictorOps usernames linked to Slack users (bot.core.identity); from the file alone when the database
    cannot be read (its own check says why)."""
    db = Database(settings.database_url)
    try:
        return await linked_usernames(config.users, LinkStore(db))
    except Exception:
        return {name.lower() for name in config.users.values()}
    finally:
        await db.dispose()
