"""The slash command: parse, ack at once, then do the work and answer through the response_url."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Literal

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.actions import IncidentActions
from bot.core.directory import Directory
from bot.core.history import History
from bot.core.identity import Identity
from bot.core.outcomes import Verb
from bot.core.posting import PostLimits
from bot.core.status import Status
from bot.core.targets import resolve_targets
from bot.slack import grammar as g
from bot.slack.acting import Acting, Answers, Middleware
from bot.slack.blocks import ListSpec, check_message, outcomes_message, sentence
from bot.slack.cards import Cards
from bot.slack.contexts import Contexts
from bot.slack.errors import explain
from bot.slack.help import usage
from bot.slack.linking import NotLinked
from bot.slack.listeners.digest_commands import DigestCommands
from bot.slack.listeners.feed_commands import FeedCommands
from bot.slack.listeners.reminders import ReminderButtons
from bot.slack.modals import ModalMeta
from bot.slack.mrkdwn import escape
from bot.slack.names import Names
from bot.slack.place import Place
from bot.slack.replies import HISTORY_PAGE_SIZE, history_message, oncall_message
from bot.slack.responses import ResponseUrls
from bot.slack.sentences import linked_you, nothing_paging, seconds
from bot.slack.status import status_text
from bot.victorops.models import HistoryQuery

log = logging.getLogger(__name__)

# History waits for the reporting budget; past this many seconds the user is told first.
SAY_WAIT_AFTER = 3.0


class Reply:
    """Answers to the person who typed the command, ephemeral unless they asked for `public`."""

    def __init__(self, hooks: ResponseUrls, place: Place) -> None:
        self._hooks = hooks
        self.place = place  # the signed command's response URL and channel
        self.response_type: Literal["in_channel", "ephemeral"] = "in_channel" if place.public else "ephemeral"

    @property
    def public(self) -> bool:
        return self.place.public

    async def __call__(self, text: str, blocks: Sequence[dict[str, Any]] | None = None) -> None:
        check_message(blocks or [], text)
        await self._hooks.post(
            self.place.response_url, text, blocks, response_type=self.response_type, replace_original=False
        )

    async def privately(self, text: str, blocks: Sequence[dict[str, Any]] | None = None) -> None:
        await self._hooks.post(self.place.response_url, text, blocks, response_type="ephemeral", replace_original=False)


class Commands:
    def __init__(
        self,
        *,
        command: str,
        now: Callable[[], datetime],
        actions: IncidentActions,
        directory: Directory,
        identity: Identity,
        history: History,
        posts: PostLimits,
        contexts: Contexts,
        hooks: ResponseUrls,
        cards: Cards,
        answers: Answers,
        digests: DigestCommands,
        feeds: FeedCommands,
        status: Status,
        slack: AsyncWebClient,
        default_targets: Sequence[str],
        reminders: ReminderButtons,
    ) -> None:
        self.command = command
        self._now = now
        self._actions = actions
        self._directory = directory
        self._identity = identity
        self._history = history
        self._posts = posts
        self._contexts = contexts
        self._hooks = hooks
        self._cards = cards
        self._answers = answers
        self.digests = digests
        self.feeds = feeds
        self._status = status
        self._slack = slack
        self._default_targets = tuple(default_targets)
        self.reminders = reminders  # `snooze`, `unsnooze`

    async def on_command(self, ack: AsyncAck, command: dict[str, Any], context: AsyncBoltContext) -> None:
        name = self.command
        parsed = g.parse(command.get("text", ""), now=self._now(), command=name)
        if isinstance(parsed, g.ParseError):
            await ack(text=parsed.message)
            return
        # A reply in the channel counts against the person's few a minute; past them it is for them only.
        limited = None
        if parsed.public:
            limited = await self._posts.public_reply(command["user_id"], command["channel_id"])
        public = parsed.public and limited is None
        if isinstance(parsed, g.Help):
            text = usage(name, parsed.topic)
            kind = "in_channel" if public else "ephemeral"
            await ack(text=f"{explain(limited, name)}\n{text}" if limited else text, response_type=kind)
            return
        await ack(text=explain(limited, name) if limited else "")
        place = Place(response_url=command.get("response_url"), channel=command.get("channel_id"), public=public)
        reply = Reply(self._hooks, place)
        async with self._answers.answering(reply.privately):
            await self.dispatch(parsed, command, reply, context["acting"])

    async def dispatch(self, parsed: g.Command, command: dict[str, Any], reply: Reply, acting: Acting) -> None:
        match parsed:
            case g.ListIncidents():
                await self.list(parsed, command, reply, acting)
            case g.Ack() | g.Resolve():
                await self.ack_or_resolve(parsed, command, reply, acting)
            case g.Reroute():
                await self.reroute(parsed, command, reply, acting)
            case g.Create():
                await self.create(parsed, command, reply, acting)
            case g.History():
                await self.history(parsed, reply)
            case g.OnCall():
                text, blocks = oncall_message(await self._directory.oncall.get(), parsed.team, self.command)
                await reply(text, blocks)
            case g.WhoAmI():
                await self.whoami(command, reply)
            case g.Link():
                await self.link(parsed, command, reply)
            case g.Unlink():
                await self.unlink(parsed, command, reply)
            case g.Status():
                text = status_text(await self._status.report(), self.command)
                await reply(text, sentence(text))
            case g.DigestNow():
                await self.digests.now(command, reply)
            case g.DigestList():
                await self.digests.list(reply)
            case g.DigestAdd():
                await self.digests.add(parsed, command, reply)
            case g.DigestRemove():
                await self.digests.remove(parsed, command, reply)
            case g.Subscribe():
                await self.feeds.subscribe(parsed, command, reply)
            case g.Unsubscribe():
                await self.feeds.unsubscribe(command, reply)
            case g.Subscriptions():
                await self.feeds.subscriptions(reply)
            case g.Snooze() | g.Unsnooze():
                await self.reminders.answer(parsed, reply, acting)
            case _:
                await reply.privately(
                    f"That command is not available in this version of vobot yet; `{self.command} help` lists what is."
                )

    async def names(self, command: dict[str, Any], reply: Reply) -> Names:
        """Names for the reply: "you" is the person who typed the command, unless everyone sees it."""
        return await self._cards.names(None if reply.public else command["user_id"])

    async def list(self, parsed: g.ListIncidents, command: dict[str, Any], reply: Reply, acting: Acting) -> None:
        me = (await acting.require()).vo_username if parsed.scope == "mine" else None
        spec = ListSpec(s=parsed.scope, r=parsed.routes, t=parsed.teams, u=me)
        text, blocks = await self._cards.listing(spec, await self.names(command, reply))
        await reply(text, blocks)

    async def ack_or_resolve(
        self, parsed: g.Ack | g.Resolve, command: dict[str, Any], reply: Reply, acting: Acting
    ) -> None:
        verb = Verb.ACK if isinstance(parsed, g.Ack) else Verb.RESOLVE
        actor = await acting.require(verb, parsed.numbers, parsed.mine)
        where = reply.place.wire()
        if parsed.mine:
            outcomes = await self._actions.act_on_mine(verb, actor, parsed.message, where)
            if not outcomes:
                await reply(nothing_paging(verb))
                return
        else:
            outcomes = await self._actions.act(verb, actor, parsed.numbers, parsed.message, where)
        text, blocks = outcomes_message(outcomes, await self.names(command, reply))
        await reply(text, blocks)

    async def reroute(self, parsed: g.Reroute, command: dict[str, Any], reply: Reply, acting: Acting) -> None:
        actor = await acting.require(Verb.REROUTE, parsed.numbers)
        if not parsed.targets:
            meta = ModalMeta(numbers=parsed.numbers, place=reply.place.model_copy(update={"public": False}))
            await self._cards.open_reroute_modal(command["trigger_id"], command["user_id"], meta)
            return
        targets = await resolve_targets([(t.kind, t.value) for t in parsed.targets], self._identity, self._directory)
        outcomes = await self._actions.reroute(actor, parsed.numbers, targets, reply.place.wire())
        text, blocks = outcomes_message(outcomes, await self.names(command, reply))
        await reply(text, blocks)

    async def create(self, parsed: g.Create, command: dict[str, Any], reply: Reply, acting: Acting) -> None:
        actor = await acting.require()
        if parsed.summary is None:
            await self.open_create_modal(command, reply)
            return
        targets = await resolve_targets([(t.kind, t.value) for t in parsed.targets], self._identity, self._directory)
        outcome = await self._actions.create(actor, parsed.summary, parsed.details, targets, reply.place.wire())
        text, blocks = outcomes_message([outcome], await self.names(command, reply))
        await reply(text, blocks)

    async def open_create_modal(self, command: dict[str, Any], reply: Reply) -> None:
        meta = ModalMeta(place=reply.place.model_copy(update={"public": False}))
        await self._cards.open_create_modal(command["trigger_id"], command["user_id"], meta, self._default_targets)

    async def history(self, parsed: g.History, reply: Reply) -> None:
        query = HistoryQuery(
            offset=(parsed.page - 1) * HISTORY_PAGE_SIZE,
            limit=HISTORY_PAGE_SIZE,
            incident_number=parsed.numbers,
            started_after=parsed.since,
            started_before=parsed.before,
            host=list(parsed.hosts),
            service=list(parsed.services),
            phases=list(parsed.phases),
            routing_key=parsed.route,
        )
        wait = await self._history.wait_for(query)
        if wait > SAY_WAIT_AFTER:
            await reply.privately(
                f"VictorOps allows one history search a minute; yours runs in {seconds(wait)}, "
                "and the answer will appear here."
            )
        page = await self._history.search(query)
        text, blocks = history_message(page, parsed.page, self.command)
        await reply(text, blocks)

    async def whoami(self, command: dict[str, Any], reply: Reply) -> None:
        identity = self._identity
        link = await identity.resolve(command["user_id"])
        if link is None:
            raise NotLinked(command["user_id"])
        how = {
            "config": "set in vobot's configuration file",
            "self": "you linked yourself",
            "admin": f"linked by <@{link.linked_by}>",
            "email": "linked automatically: your Slack and VictorOps emails match",
            "import": "imported by an admin",
        }.get(link.source, link.source)
        when = f" on {link.at:%Y-%m-%d}" if link.at and link.source != "config" else ""
        admin = " You are a vobot admin." if identity.is_admin(command["user_id"]) else ""
        text = f"You act as `{escape(link.vo_username)}` in VictorOps ({how}{when}).{admin}"
        await reply(text, sentence(text))

    async def link(self, parsed: g.Link, command: dict[str, Any], reply: Reply) -> None:
        identity, caller = self._identity, command["user_id"]
        if parsed.slack_user and parsed.slack_user != caller:
            link = await identity.link_other(caller, parsed.slack_user, parsed.vo_username)
            text = f"Linked <@{link.slack_user_id}> to VictorOps user `{escape(link.vo_username)}`."
        else:
            link = await identity.link_self(caller, parsed.vo_username)
            text = f"{linked_you(link.vo_username)}; your actions in Slack now act as them."
        await reply(text, sentence(text))

    async def unlink(self, parsed: g.Unlink, command: dict[str, Any], reply: Reply) -> None:
        caller = command["user_id"]
        target = parsed.slack_user or caller
        removed = await self._identity.unlink(caller, target)
        who = "you" if target == caller else f"<@{target}>"
        text = (
            f"Unlinked {who} from VictorOps user `{escape(removed.vo_username)}`; nothing will be sent to VictorOps "
            f"as {who} until linked again with `{self.command} link`."
        )
        await reply(text, sentence(text))


def register(app: AsyncApp, commands: Commands, middleware: Sequence[Middleware]) -> None:
    app.command(commands.command, middleware=list(middleware))(commands.on_command)
