"""The slash command: parse, ack at once, then do the work and answer through the response_url."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Literal

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.actions import Actor
from bot.core.outcomes import Verb
from bot.core.targets import resolve_targets
from bot.core.text import escape
from bot.services import Services
from bot.slack import grammar as g
from bot.slack.blocks import ListSpec, check_message, outcomes_message, sentence
from bot.slack.contexts import Kind
from bot.slack.errors import explain
from bot.slack.linking import Finish, link_prompt
from bot.slack.listeners.cards import names_for, open_reroute_modal, render_listing
from bot.slack.listeners.digest_commands import DigestCommands
from bot.slack.modals import ModalMeta, ViewId, create_view, loading, message_view
from bot.slack.names import Names
from bot.slack.replies import HISTORY_PAGE_SIZE, history_message, oncall_message
from bot.slack.responses import ResponseUrls
from bot.slack.status import status_report
from bot.victorops.models import HistoryQuery

log = logging.getLogger(__name__)

# History waits for the reporting budget; past this many seconds the user is told first.
SAY_WAIT_AFTER = 3.0


class NotLinked(Exception):
    """The caller has no VictorOps user; `finish` says what the link prompt's button should then do."""

    def __init__(self, finish: Finish = "link", **pending: Any) -> None:
        self.finish = finish
        self.pending = pending


class Reply:
    """Answers to the person who typed the command, ephemeral unless they asked for `public`."""

    def __init__(self, hooks: ResponseUrls, response_url: str | None, public: bool, channel: str | None = None) -> None:
        self._hooks = hooks
        self.response_url = response_url  # the signed command's
        self.channel = channel  # where a late outcome goes when the response URL is refused
        self.response_type: Literal["in_channel", "ephemeral"] = "in_channel" if public else "ephemeral"

    def to_reply(self) -> dict[str, Any]:
        """Where a queued action's outcome goes when it lands: replacing this reply."""
        return {
            "kind": "reply",
            "response_url": self.response_url,
            "channel": self.channel,
            **({"public": True} if self.public else {}),
        }

    @property
    def public(self) -> bool:
        return self.response_type == "in_channel"

    async def __call__(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        check_message(blocks or [], text)
        await self._hooks.post(
            self.response_url, text, blocks, response_type=self.response_type, replace_original=False
        )

    async def privately(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        await self._hooks.post(self.response_url, text, blocks, response_type="ephemeral", replace_original=False)


class Commands:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.digests = DigestCommands(services)

    async def on_command(self, ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient) -> None:
        name = self.services.settings.command
        parsed = g.parse(command.get("text", ""), now=self.services.now(), command=name)
        if isinstance(parsed, g.ParseError):
            await ack(text=parsed.message)
            return
        # A reply in the channel counts against the person's few a minute; past them it is for them only.
        limited = None
        if parsed.public:
            limited = await self.services.posts.public_reply(command["user_id"], command["channel_id"])
        public = parsed.public and limited is None
        if isinstance(parsed, g.Help):
            text = g.usage(name, parsed.topic)
            kind = "in_channel" if public else "ephemeral"
            await ack(text=f"{explain(limited, name)}\n{text}" if limited else text, response_type=kind)
            return
        await ack(text=explain(limited, name) if limited else "")
        reply = Reply(self.services.hooks, command.get("response_url"), public, command.get("channel_id"))
        try:
            await self.dispatch(parsed, command, reply, client)
        except NotLinked as unlinked:
            text, blocks = await link_prompt(
                self.services.identity,
                self.services.contexts,
                command["user_id"],
                name,
                unlinked.finish,
                **unlinked.pending,
            )
            await reply.privately(text, blocks)
        except Exception as exc:
            await reply.privately(explain(exc, name))

    async def dispatch(self, parsed: g.Command, command: dict[str, Any], reply: Reply, client: AsyncWebClient) -> None:
        match parsed:
            case g.ListIncidents():
                await self.list(parsed, command, reply)
            case g.Ack() | g.Resolve():
                await self.ack_or_resolve(parsed, command, reply)
            case g.Reroute():
                await self.reroute(parsed, command, reply, client)
            case g.Create():
                await self.create(parsed, command, reply, client)
            case g.History():
                await self.history(parsed, reply)
            case g.OnCall():
                text, blocks = oncall_message(
                    await self.services.directory.oncall.get(), parsed.team, self.services.settings.command
                )
                await reply(text, blocks)
            case g.WhoAmI():
                await self.whoami(command, reply)
            case g.Link():
                await self.link(parsed, command, reply)
            case g.Unlink():
                await self.unlink(parsed, command, reply)
            case g.Status():
                text = await status_report(self.services)
                await reply(text, sentence(text))
            case g.DigestNow():
                await self.digests.now(command, reply)
            case g.DigestList():
                await self.digests.list(reply)
            case g.DigestAdd():
                await self.digests.add(parsed, command, reply)
            case g.DigestRemove():
                await self.digests.remove(parsed, command, reply)
            case _:
                await reply.privately(
                    "That command is not available in this version of vobot yet; "
                    f"`{self.services.settings.command} help` lists what is."
                )

    async def actor(self, command: dict[str, Any], finish: Finish = "link", **pending: Any) -> Actor:
        actor = await self.services.actor(command["user_id"], command.get("user_name") or command["user_id"])
        if actor is None:
            raise NotLinked(finish, **pending)
        return actor

    async def names(self, command: dict[str, Any], reply: Reply) -> Names:
        """Names for the reply: "you" is the person who typed the command, unless everyone sees it."""
        return await names_for(self.services, None if reply.public else command["user_id"])

    async def list(self, parsed: g.ListIncidents, command: dict[str, Any], reply: Reply) -> None:
        me = (await self.actor(command)).vo_username if parsed.scope == "mine" else None
        spec = ListSpec(s=parsed.scope, r=parsed.routes, t=parsed.teams, u=me)
        text, blocks = await render_listing(self.services, spec, await self.names(command, reply))
        await reply(text, blocks)

    async def ack_or_resolve(self, parsed: g.Ack | g.Resolve, command: dict[str, Any], reply: Reply) -> None:
        finish: Finish = "ack" if isinstance(parsed, g.Ack) else "resolve"
        verb = Verb(finish)
        actor = await self.actor(command, finish, n=parsed.numbers, m=parsed.mine)
        actions = self.services.actions
        where = reply.to_reply()
        if parsed.mine:
            outcomes = await actions.act_on_mine(verb, actor, parsed.message, where)
            if not outcomes:
                await reply(f"VictorOps has no incidents paging you right now; nothing to {verb}.")
                return
        else:
            outcomes = await actions.act(verb, actor, parsed.numbers, parsed.message, where)
        text, blocks = outcomes_message(outcomes, await self.names(command, reply))
        await reply(text, blocks)

    async def reroute(self, parsed: g.Reroute, command: dict[str, Any], reply: Reply, client: AsyncWebClient) -> None:
        actor = await self.actor(command, "reroute", n=parsed.numbers)
        if not parsed.targets:
            meta = ModalMeta(
                numbers=list(parsed.numbers), channel=command.get("channel_id"), response_url=reply.response_url
            )
            await open_reroute_modal(self.services, client, command["trigger_id"], command["user_id"], meta)
            return
        targets = await resolve_targets(
            [(t.kind, t.value) for t in parsed.targets], self.services.identity, self.services.directory
        )
        outcomes = await self.services.actions.reroute(actor, parsed.numbers, targets, reply.to_reply())
        text, blocks = outcomes_message(outcomes, await self.names(command, reply))
        await reply(text, blocks)

    async def create(self, parsed: g.Create, command: dict[str, Any], reply: Reply, client: AsyncWebClient) -> None:
        actor = await self.actor(command)
        if parsed.summary is None:
            await self.open_create_modal(command, reply, client)
            return
        targets = await resolve_targets(
            [(t.kind, t.value) for t in parsed.targets], self.services.identity, self.services.directory
        )
        outcome = await self.services.actions.create(actor, parsed.summary, parsed.details, targets, reply.to_reply())
        text, blocks = outcomes_message([outcome], await self.names(command, reply))
        await reply(text, blocks)

    async def open_create_modal(self, command: dict[str, Any], reply: Reply, client: AsyncWebClient) -> None:
        opened = await client.views_open(
            trigger_id=command["trigger_id"], view=loading("Create incident", ViewId.CREATE)
        )
        meta = ModalMeta(channel=command.get("channel_id"), response_url=reply.response_url)
        directory = self.services.directory
        defaults = ", ".join(f"`{escape(t)}`" for t in self.services.config.default_targets) or "you"
        try:
            view = create_view(
                await self.services.contexts.save(Kind.MODAL, command["user_id"], meta),
                await directory.policies.get(),
                await directory.users.get(),
                await directory.oncall_by_team(),
                defaults,
            )
        except Exception as exc:
            view = message_view("Create incident", explain(exc, self.services.settings.command), ViewId.CREATE)
        await client.views_update(view_id=opened["view"]["id"], view=view)

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
        wait = await self.services.history.wait_for(query)
        if wait > SAY_WAIT_AFTER:
            seconds = round(timedelta(seconds=wait).total_seconds())
            await reply.privately(
                f"VictorOps allows one history search a minute; yours runs in about {seconds} s, "
                "and the answer will appear here."
            )
        page = await self.services.history.search(query)
        text, blocks = history_message(page, parsed.page, self.services.settings.command)
        await reply(text, blocks)

    async def whoami(self, command: dict[str, Any], reply: Reply) -> None:
        identity = self.services.identity
        link = await identity.resolve(command["user_id"])
        if link is None:
            raise NotLinked
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
        identity, caller = self.services.identity, command["user_id"]
        if parsed.slack_user and parsed.slack_user != caller:
            link = await identity.link_other(caller, parsed.slack_user, parsed.vo_username)
            text = f"Linked <@{link.slack_user_id}> to VictorOps user `{escape(link.vo_username)}`."
        else:
            link = await identity.link_self(caller, parsed.vo_username)
            text = f"Linked you to VictorOps user `{escape(link.vo_username)}`; your actions in Slack now act as them."
        await reply(text, sentence(text))

    async def unlink(self, parsed: g.Unlink, command: dict[str, Any], reply: Reply) -> None:
        caller = command["user_id"]
        target = parsed.slack_user or caller
        removed = await self.services.identity.unlink(caller, target)
        who = "you" if target == caller else f"<@{target}>"
        text = (
            f"Unlinked {who} from VictorOps user `{escape(removed.vo_username)}`; nothing will be sent to VictorOps "
            f"as {who} until linked again with `{self.services.settings.command} link`."
        )
        await reply(text, sentence(text))


def register(app: AsyncApp, services: Services) -> None:
    app.command(services.settings.command)(Commands(services).on_command)
