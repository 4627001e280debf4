"""`vobot users list / import FILE / export`: the Slack -> VictorOps mapping as CSV or YAML.

Parsing, checking and rendering are pure functions; the async runners around them read the configuration
file, the database and, when credentials are set, VictorOps' user list.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import sys
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import yaml

from bot.config import SLACK_USER_ID, ConfigError, Settings, load_app_config
from bot.core.identity import Link, VictorOpsUserTaken
from bot.store.db import Database, DatabaseUnavailable
from bot.store.links import LinkStore
from bot.victorops.client import VictorOpsClient
from bot.victorops.errors import VictorOpsError

Format = Literal["csv", "yaml"]
FORMATS: dict[str, Format] = {".csv": "csv", ".yaml": "yaml", ".yml": "yaml"}
CSV_HEADER = ("slack_user_id", "vo_username")
VO_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
YAML_COMMENT = "# Slack user -> VictorOps user: feed back to `vobot users import FILE`, or paste into the config file\n"
_YAML_NULL = "tag:yaml.org,2002:null"

Row = tuple[int, str, str]  # line number, Slack user ID, VictorOps username, as written


def format_of(path: Path) -> Format | None:
    return FORMATS.get(path.suffix.lower())


# ---- pure: parsing, checking, rendering --------------------------------------------------------------------


def parse_mapping(text: str, fmt: Format, source_name: str) -> list[tuple[str, str]]:
    """The (Slack user ID, VictorOps username) pairs of a file; ConfigError with one line per problem."""
    text = text.removeprefix("\ufeff")  # spreadsheet programs often save CSV with a byte order mark
    rows, problems = _csv_rows(text, source_name) if fmt == "csv" else _yaml_rows(text, source_name)
    line_of: dict[str, int] = {}
    holder_of: dict[str, tuple[str, int]] = {}  # lower-case VictorOps username -> first (Slack user, line)
    for line, slack, vo in rows:
        where = f"{source_name} line {line}"
        if not SLACK_USER_ID.fullmatch(slack):
            problems.append(f"{where}: {slack!r} is not a Slack user ID (like U0123ABCD)")
        elif slack in line_of:
            problems.append(f"{where}: {slack} appears twice (first on line {line_of[slack]})")
        else:
            line_of[slack] = line
        if not vo:
            problems.append(f"{where}: no VictorOps username for {slack}")
        elif not VO_USERNAME.fullmatch(vo):
            problems.append(
                f"{where}: {vo!r} is not a VictorOps username "
                "(up to 64 letters, digits and . _ @ + -, starting with a letter or digit)"
            )
        elif (holder := holder_of.setdefault(vo.lower(), (slack, line)))[0] != slack:
            problems.append(
                f"{where}: VictorOps user {vo} is also given to {holder[0]} on line {holder[1]}; "
                "map each VictorOps user to one Slack user"
            )
    if problems:
        raise ConfigError(problems)
    return [(slack, vo) for _, slack, vo in rows]


def _csv_rows(text: str, name: str) -> tuple[list[Row], list[str]]:
    reader = csv.reader(io.StringIO(text), strict=True)  # an unclosed quote is an error, not the rest of the file
    rows: list[Row] = []
    try:
        header = [cell.strip().lower() for cell in next(reader, [])]
        if not set(CSV_HEADER) <= set(header):
            expected, found = ",".join(CSV_HEADER), ",".join(header) or "nothing"
            return [], [f"{name} line 1: expected the header {expected} (more columns are fine), found {found}"]
        slack_at, vo_at = header.index("slack_user_id"), header.index("vo_username")
        for cells in reader:
            if any(cell.strip() for cell in cells):
                padded = [cell.strip() for cell in cells] + [""] * len(header)
                rows.append((reader.line_num, padded[slack_at], padded[vo_at]))
    except csv.Error as exc:
        return [], [f"{name} line {reader.line_num}: not valid CSV: {exc}"]
    return rows, []


def _yaml_rows(text: str, name: str) -> tuple[list[Row], list[str]]:
    # Nodes rather than loaded values: they keep line numbers, repeated keys and the text as written
    # (a username `007` stays 007 instead of becoming the number 7).
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        return [], [f"{name}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}"]
    if isinstance(root, yaml.MappingNode):
        keys = [key.value for key, _ in root.value if isinstance(key, yaml.ScalarNode)]
        if "users" in keys:  # the shape of the configuration file
            if others := [key for key in keys if key != "users"]:
                return [], [f"{name}: expected users: alone at the top level, also found {', '.join(others)}"]
            root = root.value[0][1]
    if root is None or root.tag == _YAML_NULL:
        return [], []
    if not isinstance(root, yaml.MappingNode):
        return [], [f"{name}: expected a mapping of Slack user ID: VictorOps username (optionally under users:)"]
    rows: list[Row] = []
    problems = []
    for key, value in root.value:
        line = key.start_mark.line + 1
        if isinstance(key, yaml.ScalarNode) and isinstance(value, yaml.ScalarNode):
            rows.append((line, key.value, "" if value.tag == _YAML_NULL else value.value))
        else:
            problems.append(f"{name} line {line}: expected `SlackUserID: vo_username`, one per line")
    return rows, problems


def validate_against(
    pairs: Iterable[tuple[str, str]], static_users: Mapping[str, str], known_vo_usernames: set[str] | None
) -> list[str]:
    """Problems of parsed pairs against the configuration file's users: and, when given, VictorOps' users.

    A pair the configuration file already holds is no problem: it is simply not stored (see `import_links`).
    """
    static_holder = {vo.lower(): slack for slack, vo in static_users.items()}
    known = None if known_vo_usernames is None else {name.lower() for name in known_vo_usernames}
    problems = []
    for slack, vo in pairs:
        configured = static_users.get(slack)
        if configured is not None and configured.lower() != vo.lower():
            problems.append(
                f"{slack} -> {vo}: the configuration file's users: maps {slack} to {configured}, and it wins over "
                "imported links; drop the row or change the configuration file"
            )
        holder = static_holder.get(vo.lower())
        if holder is not None and holder != slack:
            problems.append(f"{slack} -> {vo}: the configuration file's users: already maps {holder} to {vo}")
        if known is not None and vo.lower() not in known:
            problems.append(f"{slack} -> {vo}: VictorOps has no user {vo!r}")
    return problems


def taken_elsewhere(pairs: Iterable[tuple[str, str]], stored: Mapping[str, str]) -> list[str]:
    """Rows that would give a VictorOps user to a second Slack user (one already linked to it and kept):
    nobody may act as someone else, whichever way the link was made."""
    after = {slack: vo for slack, vo in stored.items() if vo} | dict(pairs)
    holders: dict[str, list[str]] = {}
    for slack, vo in after.items():
        holders.setdefault(vo.lower(), []).append(slack)
    return [
        f"{slack} -> {vo}: {', '.join(other for other in holders[vo.lower()] if other != slack)} is already linked "
        f"to {vo}; unlink them first (/vo unlink @them)"
        for slack, vo in pairs
        if len(holders[vo.lower()]) > 1
    ]


def overridden(link: Link, static_users: Mapping[str, str]) -> bool:
    """The configuration file wins: for this Slack user, and for the VictorOps user it gives to someone."""
    given = {vo.lower() for vo in static_users.values()}
    return link.slack_user_id in static_users or (bool(link.vo_username) and link.vo_username.lower() in given)


def mapping_in_effect(static_users: Mapping[str, str], stored: Iterable[Link]) -> list[Link]:
    """Who is whom: the configuration file's users (they win), then the stored links of everyone else."""
    links = [Link(slack, vo, "config") for slack, vo in static_users.items()]
    # An explicit unlink is stored as a row with an empty username (source "none"): no mapping.
    links += [link for link in stored if link.vo_username and not overridden(link, static_users)]
    return sorted(links, key=lambda link: link.slack_user_id)


def format_mapping(links: Iterable[Link], fmt: Format) -> str:
    """Links as a file `import` reads back: YAML under users:, or CSV with the source as an extra column."""
    ordered = sorted(links, key=lambda link: link.slack_user_id)
    if fmt == "yaml":
        users = {link.slack_user_id: link.vo_username for link in ordered}
        return YAML_COMMENT + yaml.safe_dump({"users": users}, sort_keys=False, default_flow_style=False)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_HEADER, "source"])
    writer.writerows([link.slack_user_id, link.vo_username, link.source] for link in ordered)
    return out.getvalue()


def format_table(static_users: Mapping[str, str], stored: Iterable[Link]) -> str:
    """Every mapping, one line each: the configuration file's, then stored links, unlinks and overridden ones too."""
    rows = [(slack, vo, "config", "", "") for slack, vo in sorted(static_users.items())]
    for link in stored:
        note = " (overridden by config)" if overridden(link, static_users) else ""
        rows.append(
            (
                link.slack_user_id,
                link.vo_username or "(unlinked)",
                link.source + note,
                link.linked_by or "",
                link.at.strftime("%Y-%m-%d %H:%M UTC") if link.at else "",
            )
        )
    rows.sort(key=lambda row: (row[0], row[2] != "config"))
    table = [("Slack user", "VictorOps user", "source", "linked by", "when"), *rows]
    widths = [max(len(row[column]) for row in table) for column in range(5)]
    lines = ("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in table)
    return "\n".join(line.rstrip() for line in lines)


# ---- runners ------------------------------------------------------------------------------------------------


def run(runner: Coroutine[Any, Any, int]) -> int:
    """Run a runner to its exit status; a database or VictorOps that fails is one line on stderr, status 1."""
    try:
        return asyncio.run(runner)
    except (DatabaseUnavailable, VictorOpsError) as exc:
        print(exc, file=sys.stderr)
        return 1


async def list_links(settings: Settings) -> int:
    static = load_app_config(settings.config_path).users
    async with _link_store(settings) as store:
        stored = await store.all()
    print(format_table(static, stored) if static or stored else "No Slack user is mapped to VictorOps yet.")
    return 0


async def export_links(settings: Settings, fmt: Format | None, output: Path | None, *, include_static: bool) -> int:
    fmt = fmt or (format_of(output) if output else None) or "yaml"
    static = load_app_config(settings.config_path).users
    async with _link_store(settings) as store:
        links = mapping_in_effect(static, await store.all())
    if not include_static:  # they already live in the configuration file
        links = [link for link in links if link.source != "config"]
    text = format_mapping(links, fmt)
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        await asyncio.to_thread(output.write_text, text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{output}: cannot write it: {exc.strerror or exc}"]) from None
    print(f"Wrote {len(links)} mappings to {output}.", file=sys.stderr)
    return 0


async def import_links(settings: Settings, path: Path, fmt: Format | None, *, dry_run: bool) -> int:
    """Check the whole file first and write nothing on any problem; then every change in one transaction."""
    fmt = fmt or format_of(path)
    if fmt is None:
        raise ConfigError([f"{path}: cannot tell CSV from YAML by the extension; add --format csv or --format yaml"])
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read it: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    pairs = parse_mapping(text, fmt, str(path))
    static = load_app_config(settings.config_path).users
    if problems := validate_against(pairs, static, await _victorops_usernames(settings)):
        raise ConfigError([f"{path}: {problem}" for problem in problems])

    async with _link_store(settings) as store:
        stored = {link.slack_user_id: link.vo_username for link in await store.all()}
        if problems := taken_elsewhere(pairs, stored):
            raise ConfigError([f"{path}: {problem}" for problem in problems])
        changes, added, unchanged = [], 0, 0
        for slack, vo in pairs:
            if slack in static or stored.get(slack) == vo:  # validate_against let only equal static ones pass
                unchanged += 1
                continue
            changes.append(Link(slack, vo, "import"))
            if before := stored.get(slack):  # not "" either: an explicit unlink has no username
                print(f"  ~ {slack}: {before} -> {vo}")
            else:
                added += 1
                print(f"  + {slack}: {vo}")
        if not dry_run:
            try:
                await store.put_many(changes)
            except VictorOpsUserTaken as taken:  # a link made since `taken_elsewhere` looked
                raise ConfigError(
                    [
                        f"{path}: VictorOps user {taken.vo_username} was linked to another Slack user while this "
                        "import ran, so nothing was written; run the import again to see who"
                    ]
                ) from None
    summary = f"{added} added, {len(changes) - added} changed, {unchanged} unchanged"
    print(f"Dry run, nothing written: {summary}." if dry_run else f"Imported {path}: {summary}.")
    return 0


async def _victorops_usernames(settings: Settings) -> set[str] | None:
    """VictorOps' usernames (one lookup call), or None when no credentials are set."""
    api_key = settings.victorops_api_key
    if not (settings.victorops_api_id and api_key):  # an empty SecretStr is falsy too
        print(
            "VICTOROPS_API_ID and VICTOROPS_API_KEY are not set: the usernames were not checked against VictorOps.",
            file=sys.stderr,
        )
        return None
    async with VictorOpsClient(
        base_url=settings.victorops_api_url,
        api_id=settings.victorops_api_id,
        api_key=api_key,
        budgets=settings.budgets,
    ) as vo:
        return {user.username for user in await vo.list_users()}


@asynccontextmanager
async def _link_store(settings: Settings) -> AsyncIterator[LinkStore]:
    try:
        db = Database(settings.database_url)
    except ValueError as exc:
        raise ConfigError([f"VOBOT_DATABASE_URL: {exc}"]) from None
    try:
        await db.ping()  # a clear "unavailable" line instead of a driver traceback
        await db.migrate()
        yield LinkStore(db)
    finally:
        await db.dispose()
