"""The `vobot` command line: argument parsing only; the work lives in the modules it calls."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path

from bot.config import AppConfig, ConfigError, Settings, load_app_config, load_settings
from bot.logs import setup_logging
from bot.victorops.limits import RateSpec

Command = Callable[[argparse.Namespace, Settings], int]


def _rate(text: str) -> RateSpec:
    try:
        return RateSpec.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def bot_config(settings: Settings, *, serving: bool = True) -> AppConfig:
    """The YAML file, once the environment has what the bot needs; every problem of both at once.
    `serving` False: the command posts to Slack but receives nothing (no signing secret or app token)."""
    problems = settings.problems_for_bot()
    if not serving:
        problems = [p for p in problems if not p.startswith(("SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"))]
    try:
        config = load_app_config(settings.config_path)
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return config


def run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.wiring import run_bot

    asyncio.run(run_bot(settings, bot_config(settings)))
    return 0


def check(args: argparse.Namespace, settings: Settings) -> int:
    from bot.check import run_checks

    config = bot_config(settings)
    quiet_libraries(settings)
    print("ok    Configuration: environment and VOBOT_CONFIG are valid")
    results = asyncio.run(run_checks(settings, config))
    for result in results:
        print(result.line())
    return 0 if all(r.ok for r in results) else 1


def quiet_libraries(settings: Settings) -> None:
    """A report prints its own lines: what a check met on the way (a refused probe) is not news, unless debugging."""
    if settings.log_level != "DEBUG":
        setup_logging("ERROR", settings.log_format)


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.store.db import Database

    async def upgrade() -> str:
        db = Database(settings.database_url)
        try:
            await db.ping()
            before = await db.current_revision()
            await db.migrate()
            after = await db.current_revision()
        finally:
            await db.dispose()
        if before == after:
            return f"{db.safe_url} is already at migration {after}; nothing to do."
        return f"{db.safe_url} migrated from {before or 'an empty database'} to {after}."

    print(asyncio.run(upgrade()))
    return 0


def digest_send(args: argparse.Namespace, settings: Settings) -> int:
    from bot.wiring import send_digest

    worked, message = asyncio.run(send_digest(settings, bot_config(settings, serving=False), args.name))
    print(message, file=sys.stdout if worked else sys.stderr)
    return 0 if worked else 1


def development_only(command: str, missing: ModuleNotFoundError) -> int:
    """`vobot demo` and `vobot victorops-sim` run bot.sim, which only the development install has (the wheel and
    the image leave it out): say how to get it, rather than a traceback."""
    if missing.name != "bot.sim" and not (missing.name or "").startswith("bot.sim."):
        raise missing
    print(
        f"vobot {command} runs the simulator, which only the development install has: "
        "`pip install -e '.[dev]'` in a clone of the repository (as `make` does).",
        file=sys.stderr,
    )
    return 1


def victorops_sim(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    try:
        from bot.sim.victorops import SimConfig, build_app
    except ModuleNotFoundError as exc:
        return development_only("victorops-sim", exc)

    config = SimConfig(
        api_id=args.api_id,
        api_key=args.api_key,
        incidents=args.rate_limit or settings.victorops_rate_limit,
        reporting=args.reporting_rate_limit or settings.victorops_reporting_rate_limit,
        lookups=args.lookup_rate_limit or settings.victorops_lookup_rate_limit,
    )
    print(
        f"VictorOps simulator on http://{args.host}:{args.port} (API id {config.api_id!r}); "
        f"budgets: incidents {config.incidents}, reporting {config.reporting}, lookups {config.lookups}. "
        "Ctrl-C stops it.",
        flush=True,
    )
    server = uvicorn.Server(
        uvicorn.Config(build_app(config), host=args.host, port=args.port, log_level="warning", lifespan="off")
    )
    asyncio.run(server.serve())
    return 0


def demo(args: argparse.Namespace, settings: Settings) -> int:
    try:
        from bot.sim.demo import PortBusy, run_demo
    except ModuleNotFoundError as exc:
        return development_only("demo", exc)

    try:
        asyncio.run(run_demo(settings.port))
    except PortBusy as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def users(args: argparse.Namespace, settings: Settings) -> int:
    from bot import users_cli

    if args.action == "list":
        runner = users_cli.list_links(settings)
    elif args.action == "export":
        runner = users_cli.export_links(settings, args.format, args.output, include_static=args.all)
    else:
        runner = users_cli.import_links(settings, args.file, args.format, dry_run=args.dry_run)
    return users_cli.run(runner)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vobot", description="Work VictorOps incidents from Slack.")
    parser.add_argument("--version", action="version", version=f"vobot {version('vobot')}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser(
        "run", help="the bot: Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode on $PORT"
    ).set_defaults(func=run)

    commands.add_parser(
        "check", help="validate the configuration and reach Slack, VictorOps and the database"
    ).set_defaults(func=check)

    commands.add_parser(
        "migrate", help="apply database migrations and exit (`vobot run` also does it at start)"
    ).set_defaults(func=migrate)

    digest = commands.add_parser("digest", help="digests of open incidents").add_subparsers(
        dest="digest_command", required=True, metavar="COMMAND"
    )
    send = digest.add_parser("send", help="post the named digest now (no running bot needed)")
    send.add_argument("name")
    send.set_defaults(func=digest_send)

    sim = commands.add_parser("victorops-sim", help="run the VictorOps simulator alone")
    sim.add_argument("--port", type=int, default=8079, help="port to listen on (default 8079)")
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sim.add_argument("--api-id", default="demo", help="the only API ID accepted (default demo)")
    sim.add_argument("--api-key", default="demo", help="the only API key accepted (default demo)")
    for flag, variable in [
        ("--rate-limit", "VICTOROPS_RATE_LIMIT"),
        ("--reporting-rate-limit", "VICTOROPS_REPORTING_RATE_LIMIT"),
        ("--lookup-rate-limit", "VICTOROPS_LOOKUP_RATE_LIMIT"),
    ]:
        sim.add_argument(flag, type=_rate, default=None, metavar="R", help=f"like 6/minute (default ${variable})")
    sim.set_defaults(func=victorops_sim)

    commands.add_parser(
        "demo", help="everything local: a Slack workspace page on $PORT, the bot, VictorOps"
    ).set_defaults(func=demo)
    user_map = commands.add_parser("users", help="manage the Slack -> VictorOps mapping (CSV or YAML)")
    user_map.set_defaults(func=users)
    actions = user_map.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="every mapping: the configuration file's users: and the stored links")
    export = actions.add_parser("export", help="write the stored links as YAML or CSV, for import")
    export.add_argument("--format", choices=["yaml", "csv"], help="default: from the --output extension, else yaml")
    export.add_argument("--output", type=Path, metavar="FILE", help="default: standard output")
    export.add_argument("--all", action="store_true", help="include the configuration file's users: too")
    load = actions.add_parser("import", help="store the links of a CSV or YAML file: all of them, or none")
    load.add_argument("file", type=Path, metavar="FILE", help="CSV (slack_user_id,vo_username) or YAML")
    load.add_argument("--format", choices=["yaml", "csv"], help="default: from the extension (.csv, .yaml, .yml)")
    load.add_argument("--dry-run", action="store_true", help="check and show what would change, write nothing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        setup_logging(settings.log_level, settings.log_format)
        func: Command = args.func
        return func(args, settings)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from bot.store.db import DatabaseUnavailable  # loaded only now: SQLAlchemy is heavy

        if not isinstance(exc, DatabaseUnavailable):
            raise
        print(f"{exc}; check VOBOT_DATABASE_URL and that the database is running.", file=sys.stderr)
        return 1
