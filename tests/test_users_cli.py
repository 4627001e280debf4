"""`vobot users list / import / export`: the pure parts by tables of cases, then the real CLI as a process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from bot.core.identity import Link
from bot.sim.server import ServerThread
from bot.sim.victorops import build_app
from bot.store.db import Database
from bot.store.links import LinkStore
from bot.users_cli import (
    Format,
    format_mapping,
    format_table,
    import_links,
    mapping_in_effect,
    parse_mapping,
    run,
    validate_against,
)

NAME = "users.txt"
HEADER = "slack_user_id,vo_username\n"

PARSED = [
    ("yaml", "U0ALICE: alice\nW0BOB: bob.martinez\n", [("U0ALICE", "alice"), ("W0BOB", "bob.martinez")]),
    ("yaml", "users:\n  U0ALICE: alice\n", [("U0ALICE", "alice")]),
    ("yaml", "U0DAN: 007\nU0ERIN: yes\n", [("U0DAN", "007"), ("U0ERIN", "yes")]),  # as written, not 7 and True
    ("yaml", "", []),
    ("yaml", "users:\n", []),
    ("csv", "\ufeff" + HEADER + "U0ALICE,alice\n", [("U0ALICE", "alice")]),
    # columns in any order, extra columns ignored, cells trimmed, blank lines skipped
    ("csv", "Source, VO_USERNAME ,slack_user_id\nself, a@b.com ,U0ALICE\n\n,,\n", [("U0ALICE", "a@b.com")]),
    ("csv", HEADER, []),
]


@pytest.mark.parametrize(("fmt", "text", "pairs"), PARSED)
def test_parse_mapping(fmt: Format, text: str, pairs: list[tuple[str, str]]) -> None:
    assert parse_mapping(text, fmt, NAME) == pairs


PROBLEMS = [
    ("yaml", "U0ALICE: alice\nu0bob: bob\n", [" line 2: 'u0bob' is not a Slack user ID"]),
    ("csv", HEADER + "U0ALICE,alice\nalice,U0BOB\n", [" line 3: 'alice' is not a Slack user ID"]),
    ("csv", HEADER + "U0ALICE,alice\nU0BOB\n", [" line 3: no VictorOps username for U0BOB"]),
    ("yaml", "U0ALICE:\nU0BOB: null\n", [" line 1: no VictorOps username", " line 2: no VictorOps username"]),
    ("csv", HEADER + "U0ALICE,alice smith\n", [" line 2: 'alice smith' is not a VictorOps username"]),
    ("yaml", "U0ALICE: .alice\nU0BOB: " + "b" * 65 + "\n", [" line 1: '.alice' is not", " line 2: 'bbbbbbbb"]),
    ("yaml", "U0ALICE: alice\nU0BOB: bob\nU0ALICE: alice\n", [" line 3: U0ALICE appears twice (first on line 1)"]),
    ("csv", HEADER + "U0ALICE,alice\nU0BOB,ALICE\n", [" line 3: VictorOps user ALICE is also given to U0ALICE"]),
    ("csv", "slack,vo\nU0ALICE,alice\n", [" line 1: expected the header slack_user_id,vo_username"]),
    ("csv", "", [" line 1: expected the header slack_user_id,vo_username (more columns are fine), found nothing"]),
    ("csv", HEADER + 'U0ALICE,"alice\n', [" line 2: not valid CSV: unexpected end of data"]),
    ("yaml", "- U0ALICE\n", [": expected a mapping of Slack user ID: VictorOps username"]),
    ("yaml", "U0ALICE: [alice]\n", [" line 1: expected `SlackUserID: vo_username`"]),
    ("yaml", "users:\n  U0ALICE: alice\nadmins: []\n", [": expected users: alone at the top level, also found admins"]),
    ("yaml", "U0ALICE: alice\n  bad: indent\n", [": not valid YAML at line 2: mapping values are not allowed"]),
    # every problem of a file, one line each, in file order
    ("csv", HEADER + "U1,alice\nU0BOB,\nU0CAROL,c\nU0CAROL,c\n", [" line 2: 'U1'", " line 3: no", " line 5: U0CAROL"]),
]


@pytest.mark.parametrize(("fmt", "text", "expected"), PROBLEMS)
def test_parse_mapping_problems(fmt: Format, text: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_mapping(text, fmt, NAME)
    assert len(caught.value.problems) == len(expected), caught.value.problems
    for problem, start in zip(caught.value.problems, expected, strict=True):
        assert problem.startswith(NAME + start), problem


STATIC = {"U0ALICE": "alice"}

VALIDATED = [
    ([("U0ALICE", "alice"), ("U0BOB", "bob")], None, []),  # what the configuration file says already is no problem
    ([("U0ALICE", "ALICE")], None, []),  # VictorOps usernames are case-insensitive
    (
        [("U0ALICE", "bob")],
        None,
        ["U0ALICE -> bob: the configuration file's users: maps U0ALICE to alice, and it wins over imported links"],
    ),
    ([("U0BOB", "Alice")], None, ["U0BOB -> Alice: the configuration file's users: already maps U0ALICE to Alice"]),
    ([("U0BOB", "BOB"), ("U0CAROL", "carol")], {"bob"}, ["U0CAROL -> carol: VictorOps has no user 'carol'"]),
    ([("U0BOB", "bob")], set(), ["U0BOB -> bob: VictorOps has no user 'bob'"]),
    (
        [("U0ALICE", "nobody")],
        {"alice"},
        ["U0ALICE -> nobody: the configuration file's users:", "U0ALICE -> nobody: VictorOps has no user 'nobody'"],
    ),
]


@pytest.mark.parametrize(("pairs", "known", "expected"), VALIDATED)
def test_validate_against(pairs: list[tuple[str, str]], known: set[str] | None, expected: list[str]) -> None:
    problems = validate_against(pairs, STATIC, known)
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), problem


AT = datetime(2025, 3, 4, 5, 6, tzinfo=UTC)
STORED = [
    Link("U0DAN", "007", "self", "U0DAN", AT),
    Link("U0ALICE", "old-alice", "admin", "U0ADMIN", AT),  # overridden by the configuration file
    Link("U0ERIN", "", "none", "U0ERIN", AT),  # explicitly unlinked
    Link("U0BOB", "yes", "import", None, AT),
    Link("U0FRAN", "Alice", "self", "U0FRAN", AT),  # the file gives alice to U0ALICE: void
]


def test_mapping_in_effect_lets_config_win_and_drops_unlinks() -> None:
    assert [(link.slack_user_id, link.vo_username, link.source) for link in mapping_in_effect(STATIC, STORED)] == [
        ("U0ALICE", "alice", "config"),
        ("U0BOB", "yes", "import"),
        ("U0DAN", "007", "self"),
    ]


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_format_mapping_reads_back(fmt: Format) -> None:
    links = mapping_in_effect(STATIC, STORED)
    text = format_mapping(links, fmt)
    assert parse_mapping(text, fmt, NAME) == [("U0ALICE", "alice"), ("U0BOB", "yes"), ("U0DAN", "007")]
    first = text.splitlines()[0]
    if fmt == "yaml":
        assert first.startswith("#") and "vobot users import" in first and "config file" in first
    else:
        assert first == "slack_user_id,vo_username,source" and "U0DAN,007,self" in text.splitlines()


def test_format_table_shows_every_row() -> None:
    lines = format_table(STATIC, STORED).splitlines()
    assert lines[0].split() == ["Slack", "user", "VictorOps", "user", "source", "linked", "by", "when"]
    assert [line.split() for line in lines[1:]] == [
        ["U0ALICE", "alice", "config"],
        ["U0ALICE", "old-alice", "admin", "(overridden", "by", "config)", "U0ADMIN", "2025-03-04", "05:06", "UTC"],
        ["U0BOB", "yes", "import", "2025-03-04", "05:06", "UTC"],
        ["U0DAN", "007", "self", "U0DAN", "2025-03-04", "05:06", "UTC"],
        ["U0ERIN", "(unlinked)", "none", "U0ERIN", "2025-03-04", "05:06", "UTC"],
        ["U0FRAN", "Alice", "self", "(overridden", "by", "config)", "U0FRAN", "2025-03-04", "05:06", "UTC"],
    ]


# ---- the real CLI -------------------------------------------------------------------------------------------


class Env:
    """A configuration file and an SQLite database in tmp_path, and `vobot` run as a process against them."""

    def __init__(self, tmp_path: Path, victorops_url: str | None = None) -> None:
        self.dir = tmp_path
        self.db_url = f"sqlite:///{tmp_path}/x.db"
        config = tmp_path / "vobot.yaml"
        config.write_text("users:\n  U0ALICE: alice\n")
        # nothing from the developer's environment: no VictorOps credentials unless given here
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("VICTOROPS_", "VOBOT_", "SLACK_"))}
        self.env |= {"VOBOT_DATABASE_URL": self.db_url, "VOBOT_CONFIG": str(config)}
        if victorops_url:
            self.env |= {"VICTOROPS_API_URL": victorops_url, "VICTOROPS_API_ID": "demo", "VICTOROPS_API_KEY": "demo"}

    def vobot(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "users", *args],
            env=self.env,
            cwd=self.dir,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def write(self, name: str, text: str) -> str:
        (self.dir / name).write_text(text)
        return name

    def stored(self) -> set[tuple[str, str, str]]:
        return {(link.slack_user_id, link.vo_username, link.source) for link in asyncio.run(self._links())}

    def seed(self, *links: Link) -> None:
        asyncio.run(self._links(links))

    async def _links(self, put: tuple[Link, ...] = ()) -> list[Link]:
        db = Database(self.db_url)
        try:
            await db.migrate()
            store = LinkStore(db)
            await store.put_many(put)
            return await store.all()
        finally:
            await db.dispose()


def test_import_list_export_round_trip(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.seed(
        Link("U0CAROL", "cchen", "self", "U0CAROL"),
        Link("U0DAN", "dave", "admin", "U0ADMIN"),
        Link("U0ERIN", "", "none", "U0ERIN"),
    )
    file = env.write("users.csv", HEADER + "U0BOB,bob.martinez\nU0CAROL,gkim\nU0ALICE,alice\n")
    result = env.vobot("import", file)
    assert result.returncode == 0, result.stderr
    assert "1 added, 1 changed, 1 unchanged" in result.stdout
    assert "not checked against VictorOps" in result.stderr
    after_import = {
        ("U0BOB", "bob.martinez", "import"),
        ("U0CAROL", "gkim", "import"),
        ("U0DAN", "dave", "admin"),
        ("U0ERIN", "", "none"),
    }
    assert env.stored() == after_import

    listed = env.vobot("list")
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert [line.split()[:3] for line in lines[1:]] == [
        ["U0ALICE", "alice", "config"],
        ["U0BOB", "bob.martinez", "import"],
        ["U0CAROL", "gkim", "import"],
        ["U0DAN", "dave", "admin"],
        ["U0ERIN", "(unlinked)", "none"],
    ]
    assert "U0ADMIN" in lines[4] and "UTC" in lines[4] and "UTC" not in lines[1]

    # YAML to stdout by default: the stored links in effect, which read back as nothing to change
    exported = env.vobot("export")
    assert exported.returncode == 0
    assert parse_mapping(exported.stdout, "yaml", "stdout") == [
        ("U0BOB", "bob.martinez"),
        ("U0CAROL", "gkim"),
        ("U0DAN", "dave"),
    ]
    again = env.vobot("import", env.write("export.yml", exported.stdout))
    assert again.returncode == 0 and "0 added, 0 changed, 3 unchanged" in again.stdout
    assert env.stored() == after_import  # U0DAN stays an admin link: unchanged rows are not rewritten

    # CSV to a file, its format from the extension; --all adds the configuration file's users
    assert env.vobot("export", "--all", "--output", "all.csv").returncode == 0
    rows = (tmp_path / "all.csv").read_text().splitlines()
    assert rows[0] == "slack_user_id,vo_username,source" and "U0ALICE,alice,config" in rows and len(rows) == 5
    again = env.vobot("import", "all.csv")
    assert again.returncode == 0 and "0 added, 0 changed, 4 unchanged" in again.stdout
    assert env.stored() == after_import


def test_invalid_file_exits_2_with_one_line_per_problem_and_writes_nothing(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.seed(Link("U0CAROL", "cchen", "self", "U0CAROL"))
    before = env.stored()

    bad = env.write("bad.yaml", "U0BOB: bob\nU0BOB: bob\nnot-an-id: carol\nU0DAN: has space\n")
    result = env.vobot("import", bad)
    assert result.returncode == 2 and result.stdout == ""
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == [
        "bad.yaml line 2",
        "bad.yaml line 3",
        "bad.yaml line 4",
    ]

    # valid on its own, but against the configuration file: the good row is not written either
    conflict = env.write("conflict.csv", HEADER + "U0BOB,bob\nU0ALICE,alice2\nU0EVE,Alice\n")
    result = env.vobot("import", conflict)
    assert result.returncode == 2
    problems = [line for line in result.stderr.splitlines() if line.startswith("conflict.csv: ")]
    assert len(problems) == 2 and "U0ALICE -> alice2" in problems[0] and "U0EVE -> Alice" in problems[1]
    assert env.stored() == before


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.seed(Link("U0CAROL", "cchen", "self", "U0CAROL"))
    file = env.write("users.txt", "users:\n  U0BOB: bob.martinez\n  U0CAROL: gkim\n")
    result = env.vobot("import", file, "--format", "yaml", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "+ U0BOB: bob.martinez" in result.stdout and "~ U0CAROL: cchen -> gkim" in result.stdout
    assert "Dry run, nothing written: 1 added, 1 changed, 0 unchanged." in result.stdout
    assert env.stored() == {("U0CAROL", "cchen", "self")}


def test_import_checks_usernames_against_victorops(tmp_path: Path) -> None:
    with ServerThread(build_app()) as victorops:
        env = Env(tmp_path, victorops.url)
        unknown = env.write("users.csv", HEADER + "U0BOB,BOB.MARTINEZ\nU0CAROL,nobody\n")
        result = env.vobot("import", unknown)
        assert result.returncode == 2
        assert result.stderr.splitlines() == ["users.csv: U0CAROL -> nobody: VictorOps has no user 'nobody'"]
        assert env.stored() == set()

        known = env.write("known.csv", HEADER + "U0BOB,BOB.MARTINEZ\nU0CAROL,cchen\n")
        result = env.vobot("import", known)
    assert result.returncode == 0 and result.stderr == ""
    assert env.stored() == {("U0BOB", "BOB.MARTINEZ", "import"), ("U0CAROL", "cchen", "import")}


def test_import_never_gives_one_victorops_user_to_two_slack_users(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.seed(Link("U0CAROL", "cchen", "self", "U0CAROL"))
    taken = env.vobot("import", env.write("taken.csv", HEADER + "U0BOB,CCHEN\n"))
    assert taken.returncode == 2
    assert taken.stderr.splitlines()[-1] == (
        "taken.csv: U0BOB -> CCHEN: U0CAROL is already linked to CCHEN; unlink them first (/vo unlink @them)"
    )
    assert env.stored() == {("U0CAROL", "cchen", "self")}
    moved = env.vobot("import", env.write("moved.csv", HEADER + "U0BOB,cchen\nU0CAROL,gkim\n"))  # a swap in one file
    assert moved.returncode == 0, moved.stderr
    assert env.stored() == {("U0BOB", "cchen", "import"), ("U0CAROL", "gkim", "import")}


def test_import_that_loses_a_race_to_a_slack_link_is_refused_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone links in Slack after the import checked the stored links: the database refuses the row."""
    env = Env(tmp_path)
    file = tmp_path / env.write("users.csv", HEADER + "U0BOB,bob.martinez\nU0DAN,CCHEN\n")
    settings = load_settings(
        VOBOT_DATABASE_URL=env.db_url, VOBOT_CONFIG=str(tmp_path / "vobot.yaml"), VICTOROPS_API_ID=None
    )
    write = LinkStore.put_many

    async def linked_meanwhile(self: LinkStore, links: Iterable[Link]) -> int:
        await self.put(Link("U0CAROL", "cchen", "self", "U0CAROL"))
        return await write(self, links)

    monkeypatch.setattr(LinkStore, "put_many", linked_meanwhile)
    with pytest.raises(ConfigError) as refused:
        run(import_links(settings, file, None, dry_run=False))
    assert refused.value.problems == [
        f"{file}: VictorOps user CCHEN was linked to another Slack user while this import ran, so nothing was "
        "written; run the import again to see who"
    ]
    assert env.stored() == {("U0CAROL", "cchen", "self")}
