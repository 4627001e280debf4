"""Configuration: settings from the environment (and `.env`), and the YAML file named by VOBOT_CONFIG.

Every problem becomes one line naming the variable, or the file and key; `ConfigError` carries them all so
the CLI can print them and exit 2 without a traceback.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from bot.core.digest import (
    Digest,
    WhenEmpty,
    check_channel,
    check_name,
    check_phases,
    check_schedule,
    check_timezone,
    check_when_empty,
)
from bot.core.feed import DEFAULT_MAX_CARDS_PER_MINUTE, DEFAULT_REMIND_ACKED, DEFAULT_REMIND_UNACKED, Feed
from bot.core.feed_rules import check_max_cards, check_names, parse_duration
from bot.store.db import check_url
from bot.victorops.limits import Budgets, RateSpec
from bot.victorops.models import Phase, parse_phase


class ConfigError(Exception):
    """Invalid configuration: one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _rate(value: Any) -> Any:
    return RateSpec.parse(value) if isinstance(value, str) else value


def _comma_list(value: Any) -> Any:
    return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value


Rate = Annotated[RateSpec, NoDecode, BeforeValidator(_rate)]
ONCALL_INTERVAL_MIN = 15  # seconds: a shorter VOBOT_ONCALL_INTERVAL would spend the lookup budget on one endpoint
# deploy/kubernetes/secret.yaml's value for every key: a Secret applied unfilled must not run a bot (a webhook token
# left as it is would be public).
PLACEHOLDER = "REPLACE_ME"


class Settings(BaseSettings):
    """The environment of the contract (design.md part 1). Field aliases are the variable names."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="SLACK_API_URL")
    victorops_api_id: str | None = Field(None, validation_alias="VICTOROPS_API_ID")
    victorops_api_key: SecretStr | None = Field(None, validation_alias="VICTOROPS_API_KEY")
    victorops_api_url: str = Field("https://api.victorops.com", validation_alias="VICTOROPS_API_URL")
    victorops_rate_limit: Rate = Field(RateSpec(6, 60), validation_alias="VICTOROPS_RATE_LIMIT")
    victorops_reporting_rate_limit: Rate = Field(RateSpec(1, 60), validation_alias="VICTOROPS_REPORTING_RATE_LIMIT")
    victorops_lookup_rate_limit: Rate = Field(RateSpec(15, 60), validation_alias="VICTOROPS_LOOKUP_RATE_LIMIT")
    database_url: str = Field("sqlite:///vobot.db", validation_alias="VOBOT_DATABASE_URL")
    config_path: Path | None = Field(None, validation_alias="VOBOT_CONFIG")
    command: str = Field("/vo", validation_alias="VOBOT_COMMAND", pattern=r"^/[a-z0-9_-]{1,31}$")
    admins: Annotated[list[str], NoDecode, BeforeValidator(_comma_list)] = Field(
        default_factory=list, validation_alias="VOBOT_ADMINS"
    )
    batch_window: float = Field(1.0, validation_alias="VOBOT_BATCH_WINDOW", ge=0, le=30)
    lease_seconds: float = Field(10.0, validation_alias="VOBOT_LEASE_SECONDS", ge=1, le=300)
    port: int = Field(3000, validation_alias="PORT", ge=0, le=65535)
    webhook_token: SecretStr | None = Field(None, validation_alias="VOBOT_WEBHOOK_TOKEN")
    poll_interval: float = Field(30.0, validation_alias="VOBOT_POLL_INTERVAL", ge=0, le=3600)
    oncall_interval: float = Field(60.0, validation_alias="VOBOT_ONCALL_INTERVAL", ge=0, le=3600)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", validation_alias="VOBOT_LOG_LEVEL")
    log_format: Literal["text", "json"] = Field("text", validation_alias="VOBOT_LOG_FORMAT")

    @field_validator("slack_api_url", "victorops_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value

    @field_validator("oncall_interval")
    @classmethod
    def _oncall_interval(cls, value: float) -> float:
        if 0 < value < ONCALL_INTERVAL_MIN:
            raise ValueError(
                f"{value:g} is too short: 0 (read who is on call only when VictorOps' on-call webhook comes) or at "
                f"least {ONCALL_INTERVAL_MIN} seconds (each read is a VictorOps lookup call)"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        check_url(value)
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "victorops_api_id",
        "victorops_api_key",
        "database_url",
        "webhook_token",
        mode="before",
    )
    @classmethod
    def _not_the_placeholder(cls, value: Any) -> Any:
        if value == PLACEHOLDER:
            raise ValueError(f"still the template's {PLACEHOLDER}: set the real value, or delete the key if optional")
        return value

    @property
    def budgets(self) -> Budgets:
        return Budgets(
            incidents=self.victorops_rate_limit,
            reporting=self.victorops_reporting_rate_limit,
            lookups=self.victorops_lookup_rate_limit,
        )

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    def problems_for_bot(self) -> list[str]:
        """What `vobot run` needs beyond defaults: the tokens of the mode it will run in."""
        problems = []
        checks: list[tuple[str, SecretStr | str | None, str | None]] = [
            ("SLACK_BOT_TOKEN", self.slack_bot_token, "xoxb-"),
            ("VICTOROPS_API_ID", self.victorops_api_id, None),
            ("VICTOROPS_API_KEY", self.victorops_api_key, None),
        ]
        if self.socket_mode:
            checks.append(("SLACK_APP_TOKEN", self.slack_app_token, "xapp-"))
        else:
            checks.append(("SLACK_SIGNING_SECRET", self.slack_signing_secret, None))
        for name, value, prefix in checks:
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not text:
                problems.append(f"{name}: required but not set")
            elif prefix and not text.startswith(prefix):
                problems.append(f"{name}: expected a token starting with {prefix!r}")
        return problems


def load_settings(**overrides: Any) -> Settings:
    """Read the environment; raise ConfigError naming each bad variable (never its value when secret)."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError([_env_problem(error) for error in exc.errors()]) from None
    except SettingsError as exc:  # a value the settings source could not even decode
        raise ConfigError([f"environment: {exc}"]) from None


def _env_problem(error: Any) -> str:
    name = str(error["loc"][0]) if error["loc"] else "environment"
    return f"{name}: {_message(error)}"


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (check its spelling against the README's configuration reference)"
    # pydantic prefixes messages of raised ValueErrors with "Value error, "; drop it for one clean sentence.
    return str(error["msg"]).removeprefix("Value error, ")


# ---- the YAML file ---------------------------------------------------------------------------------------

SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
TARGET_SPEC = re.compile(r"^(policy|user):[^\s:]+$")


def _slack_user(value: str) -> str:
    if not SLACK_USER_ID.match(value):
        raise ValueError(f"{value!r} is not a Slack user ID (like U0123ABCD)")
    return value


SlackUserId = Annotated[str, AfterValidator(_slack_user)]

TEAM_SLUG = re.compile(r"^team-\w+$")
USER_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")


def _team_slug(value: str) -> str:
    if not TEAM_SLUG.match(value):
        raise ValueError(
            f"{value!r} is not a VictorOps team slug (like team-AbCdEfGhIjKlMnOp; `/vo oncall` names them)"
        )
    return value


def _user_group(value: str) -> str:
    if not USER_GROUP_ID.match(value):
        raise ValueError(f"{value!r} is not a Slack user group ID (like S0123ABCD)")
    return value


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DigestFilter(StrictModel):
    routing_keys: list[str] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)
    phases: list[Annotated[Phase, BeforeValidator(parse_phase)]] = Field(default_factory=list)

    @field_validator("phases")
    @classmethod
    def _open_phases(cls, phases: list[Phase]) -> list[Phase]:
        check_phases(phases)
        return phases


class DigestConfig(StrictModel):
    """A digest of the file; its rules are the core's (`bot.core.digest`), which `/vo digest add` follows too."""

    name: Annotated[str, AfterValidator(check_name)]
    channel: Annotated[str, AfterValidator(check_channel)]
    schedule: Annotated[str, AfterValidator(check_schedule)]
    timezone: Annotated[str, AfterValidator(check_timezone)] = "UTC"
    when_empty: Annotated[WhenEmpty, BeforeValidator(check_when_empty)] = "post"
    filter: DigestFilter = DigestFilter()

    def digest(self) -> Digest:
        return Digest(
            name=self.name,
            channel=self.channel,
            schedule=self.schedule,
            timezone=self.timezone,
            when_empty=self.when_empty,
            routes=tuple(self.filter.routing_keys),
            teams=tuple(self.filter.teams),
            phases=tuple(p.value for p in self.filter.phases),
            source="config",
            created_by=None,
        )


class FeedFilter(StrictModel):
    routing_keys: Annotated[tuple[str, ...], AfterValidator(check_names)] = ()
    teams: Annotated[tuple[str, ...], AfterValidator(check_names)] = ()
    policies: Annotated[tuple[str, ...], AfterValidator(check_names)] = ()


Reminder = Annotated[int | None, BeforeValidator(parse_duration)]


class FeedConfig(StrictModel):
    """A feed of the file; its rules are the core's (`bot.core.feed_rules`), which `/vo subscribe` follows too."""

    channel: Annotated[str, AfterValidator(check_channel)]
    filter: FeedFilter = FeedFilter()
    remind_unacked: Reminder = DEFAULT_REMIND_UNACKED
    remind_acked: Reminder = DEFAULT_REMIND_ACKED
    handoff: bool = False
    max_cards_per_minute: Annotated[int, BeforeValidator(check_max_cards)] = DEFAULT_MAX_CARDS_PER_MINUTE

    @model_validator(mode="after")
    def _handoff_has_teams(self) -> FeedConfig:
        if self.handoff and not self.filter.teams:
            raise ValueError(
                "handoff needs filter.teams: a handoff says who went on call for a team, so name the teams "
                "(slugs or names) whose handoffs this feed posts, or drop handoff"
            )
        return self

    def feed(self) -> Feed:
        return Feed(
            channel=self.channel,
            routes=self.filter.routing_keys,
            teams=self.filter.teams,
            policies=self.filter.policies,
            remind_unacked=self.remind_unacked,
            remind_acked=self.remind_acked,
            handoff=self.handoff,
            max_cards_per_minute=self.max_cards_per_minute,
            source="config",
        )


class AppConfig(StrictModel):
    """The YAML file of the contract. Every key is optional."""

    admins: list[SlackUserId] = Field(default_factory=list)
    users: dict[SlackUserId, str] = Field(default_factory=dict)
    email_matching: bool = True
    allow_unverified_self_link: bool = False
    default_targets: list[str] = Field(default_factory=list)
    digests: list[DigestConfig] = Field(default_factory=list)
    feeds: list[FeedConfig] = Field(default_factory=list)
    # team slug -> the Slack user group kept equal to who is on call for it
    oncall_groups: dict[Annotated[str, AfterValidator(_team_slug)], Annotated[str, AfterValidator(_user_group)]] = (
        Field(default_factory=dict)
    )

    @property
    def watches_oncall(self) -> bool:
        """Whether anything follows who is on call: a feed with handoffs, or an on-call user group. Feeds from
        `/vo subscribe` never post handoffs, so the file decides."""
        return bool(self.oncall_groups) or any(feed.handoff for feed in self.feeds)

    @field_validator("oncall_groups")
    @classmethod
    def _one_team_per_group(cls, groups: dict[str, str]) -> dict[str, str]:
        slugs: dict[str, list[str]] = {}  # lower-case slug -> as written
        teams: dict[str, list[str]] = {}  # group -> the teams it is given to
        for slug, group in groups.items():
            slugs.setdefault(slug.lower(), []).append(slug)
            teams.setdefault(group, []).append(slug)
        problems = [f"teams {' and '.join(s)} are one team (case does not count)" for s in slugs.values() if len(s) > 1]
        problems += [f"user group {g} is given to {' and '.join(t)}" for g, t in teams.items() if len(t) > 1]
        if problems:  # the group would follow each team in turn, changing at every read
            raise ValueError(f"{'; '.join(problems)}; give each team its own user group")
        return groups

    @field_validator("users")
    @classmethod
    def _one_slack_user_each(cls, users: dict[str, str]) -> dict[str, str]:
        given: dict[str, list[str]] = {}  # lower-case VictorOps username -> the Slack users it is given to
        for slack, vo in users.items():
            given.setdefault(vo.lower(), []).append(slack)
        shared = [
            f"VictorOps user {users[slacks[0]]} is given to {' and '.join(slacks)}"
            for slacks in given.values()
            if len(slacks) > 1
        ]
        if shared:  # both would act as the same person in VictorOps
            raise ValueError(f"{'; '.join(shared)}; map each VictorOps user to one Slack user (case does not count)")
        return users

    @field_validator("default_targets")
    @classmethod
    def _targets(cls, values: list[str]) -> list[str]:
        for value in values:
            if not TARGET_SPEC.match(value):
                raise ValueError(f"{value!r} is not a target: use policy:<slug> or user:<victorops-username>")
        return values

    @field_validator("digests")
    @classmethod
    def _unique_names(cls, digests: list[DigestConfig]) -> list[DigestConfig]:
        if duplicates := repeated(d.name for d in digests):
            raise ValueError(f"digest names must be unique; repeated: {', '.join(duplicates)}")
        return digests

    @field_validator("feeds")
    @classmethod
    def _one_feed_per_channel(cls, feeds: list[FeedConfig]) -> list[FeedConfig]:
        if twice := repeated(f.channel for f in feeds):
            raise ValueError(f"one feed per channel; repeated: {', '.join(twice)} (merge their filters into one)")
        return feeds


def repeated(values: Iterable[str]) -> list[str]:
    """The values given more than once, sorted."""
    seen = Counter(values)
    return sorted(v for v, n in seen.items() if n > 1)


def load_app_config(path: Path | None) -> AppConfig:
    """Read and validate the YAML file; no file means every default."""
    if path is None:
        return AppConfig()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"VOBOT_CONFIG: cannot read {path}: {exc.strerror or exc}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError([f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"]) from None
    if data is None:
        return AppConfig()
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping of keys at the top level"])
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([f"{path}: {_yaml_key(e['loc'])}: {_message(e)}" for e in exc.errors()]) from None


def _yaml_key(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        elif part == "[key]":  # pydantic's marker for an invalid mapping key
            key += " (key)"
        else:
            key += f".{part}" if key else str(part)
    return key or "(top level)"
