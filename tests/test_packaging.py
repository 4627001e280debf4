"""Packaging: the Slack app manifests, the wheel, the Dockerfile, .dockerignore, docker-compose.yml and
vobot.env.example, checked without Slack or a Docker engine.

The wheel is built here and holds the product only: no bot.sim (the simulator, the Slack fake, the demo) and no
websockets requirement outside the dev extra; from it, `vobot demo` says what to install.

Both manifests (Socket Mode and HTTP mode) are validated against Slack's published JSON Schema and compared
with what the code uses: the scopes of bot/slack/scopes.py and the default slash command; docker-compose.yml is
validated against the Compose Specification's schema. Both schemas are copied into tests/schemas/, so a plain
clone runs these tests. The Dockerfile is
linted here in Python (hadolint too, when it is installed), its health check is run against a local server,
and its install step is compared with the production install the README documents.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Settings
from bot.slack.grammar import COMMAND_WORDS
from bot.slack.listeners.shortcuts import CREATE, CREATE_FROM_MESSAGE
from bot.slack.scopes import SCOPES

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "manifest.yml"
HTTP_MANIFEST = ROOT / "manifest.http.yml"
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "vobot.env.example"
SCHEMAS = Path(__file__).with_name("schemas")
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
README = ROOT / "README.md"

# The production install line the README documents (in a fenced block); the image must install the same way.
README_INSTALL = "pip install ."

SECRET_VARIABLES = {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "VICTOROPS_API_KEY"}
# pip options that change how pip behaves, not what ends up installed.
HARMLESS_PIP_OPTIONS = {
    "--no-cache-dir",
    "-q",
    "--quiet",
    "--disable-pip-version-check",
    "--no-compile",
    "--progress-bar=off",
    "--root-user-action=ignore",
}
SLIM_PYTHON_311 = re.compile(r"^(docker\.io/)?(library/)?python:3\.11(\.\d+)?-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?$")


# ---- the manifest -----------------------------------------------------------------------------------------


def _yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name} must be a mapping"
    return data


def schema_errors(schema_name: str, document: dict[str, Any]) -> list[str]:
    """Where `document` breaks the JSON Schema tests/schemas/`schema_name`, one line each."""
    import jsonschema

    schema = json.loads((SCHEMAS / schema_name).read_text(encoding="utf-8"))
    # The Compose schema names draft-07 without the trailing "#" that jsonschema looks it up by.
    draft_07 = "json-schema.org/draft-07/schema" in schema.get("$schema", "")
    base = jsonschema.Draft7Validator if draft_07 else jsonschema.validators.validator_for(schema)
    base.check_schema(schema)
    # Slack's schema spells one pattern `regex` (display_information.background_color), a keyword JSON Schema
    # ignores; enforce it as the `pattern` it was meant to be.
    validator_class = jsonschema.validators.extend(base, {"regex": base.VALIDATORS["pattern"]})
    errors = sorted(validator_class(schema).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors]


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return _yaml(MANIFEST)


@pytest.fixture(scope="module", params=[MANIFEST, HTTP_MANIFEST], ids=["socket", "http"])
def either_manifest(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _yaml(request.param)


def _slash_command(manifest: dict[str, Any]) -> dict[str, Any]:
    commands = manifest["features"]["slash_commands"]
    assert len(commands) == 1, "vobot answers exactly one slash command"
    command: dict[str, Any] = commands[0]
    return command


def test_manifests_validate_against_slacks_schema(either_manifest: dict[str, Any]) -> None:
    errors = schema_errors("slack-manifest.schema.json", either_manifest)
    assert not errors, "\n".join(errors)


def test_manifests_request_exactly_the_scopes_the_code_uses(either_manifest: dict[str, Any]) -> None:
    manifest = either_manifest
    bot_scopes = manifest["oauth_config"]["scopes"]["bot"]
    assert len(bot_scopes) == len(set(bot_scopes)), "a scope is listed twice"
    assert set(bot_scopes) == set(SCOPES), (
        f"missing from manifest.yml: {sorted(set(SCOPES) - set(bot_scopes))}; "
        f"not used by the code (bot/slack/scopes.py): {sorted(set(bot_scopes) - set(SCOPES))}"
    )
    assert set(manifest["oauth_config"]["scopes"]) == {"bot"}, "vobot needs no user scopes"


def test_manifest_slash_command_is_the_default_command(manifest: dict[str, Any]) -> None:
    command = _slash_command(manifest)
    assert command["command"] == Settings.model_fields["command"].default == "/vo"
    assert command["should_escape"] is True, "the grammar expects mentions as <@U…> IDs"
    assert "url" not in command, "Socket Mode is the default: manifest.http.yml is the HTTP-mode variant"
    advertised = {part.split()[0] for part in command["usage_hint"].split("|") if part.strip()}
    assert advertised <= set(COMMAND_WORDS), f"usage_hint names unknown commands: {advertised - set(COMMAND_WORDS)}"


def test_manifest_settings_socket_mode_and_interactivity(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert "request_url" not in settings["interactivity"], "Socket Mode needs no request URL"
    assert settings["org_deploy_enabled"] is False
    assert settings["token_rotation_enabled"] is False
    assert settings["event_subscriptions"] == {"bot_events": ["app_home_opened"]}, "the App Home, and nothing else"
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    bot_user = manifest["features"]["bot_user"]
    assert bot_user == {"display_name": "vobot", "always_online": True}
    assert manifest["display_information"]["name"] == "vobot"


def test_manifests_declare_the_shortcuts_the_app_handles(either_manifest: dict[str, Any]) -> None:
    shortcuts = {s["callback_id"]: s for s in either_manifest["features"]["shortcuts"]}
    assert set(shortcuts) == {CREATE_FROM_MESSAGE, CREATE}
    assert shortcuts[CREATE_FROM_MESSAGE]["type"] == "message" and shortcuts[CREATE]["type"] == "global"
    assert all(s["description"].startswith("Create VictorOps incident") for s in shortcuts.values())


def test_the_http_manifest_differs_only_in_the_mode(manifest: dict[str, Any]) -> None:
    """manifest.http.yml is manifest.yml with Slack's requests sent to a URL instead of a WebSocket."""
    http = _yaml(HTTP_MANIFEST)
    url = "https://vobot.example.com/slack/events"
    assert http["settings"]["socket_mode_enabled"] is False
    assert _slash_command(http).pop("url") == url
    assert http["settings"]["interactivity"].pop("request_url") == url
    assert http["settings"]["event_subscriptions"].pop("request_url") == url
    http["settings"]["socket_mode_enabled"] = True
    assert http == manifest
    assert "vobot.example.com" in HTTP_MANIFEST.read_text(encoding="utf-8").split("_metadata:")[0], "say to replace it"


# ---- docker compose and the environment file ----------------------------------------------------------------


def test_compose_file_follows_the_compose_specification() -> None:
    errors = schema_errors("compose-spec.schema.json", _yaml(COMPOSE))
    assert not errors, "\n".join(errors)


def test_compose_runs_two_replicas_on_one_postgres() -> None:
    services = _yaml(COMPOSE)["services"]
    bot, postgres = services["vobot"], services["postgres"]
    assert bot["deploy"]["replicas"] >= 2 and bot["build"] == "."
    url = bot["environment"]["VOBOT_DATABASE_URL"]
    assert url.startswith("postgresql://") and "@postgres:5432/" in url, "every replica on the compose Postgres"
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy" and "healthcheck" in postgres
    assert bot["env_file"] == "vobot.env" and "ports" not in bot, "replicas cannot share one published host port"
    # longer than the SIGTERM drain (a call in flight finishes within 5 s)
    assert int(bot["stop_grace_period"].removesuffix("s")) > 5


def test_env_example_names_only_real_variables_and_no_secrets() -> None:
    known = {field.validation_alias for field in Settings.model_fields.values()} - {None}
    assignments = re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(encoding="utf-8"), re.MULTILINE)
    names = {name for name, _ in assignments}
    assert names <= known, f"not variables vobot reads: {sorted(names - known)}"
    assert {"SLACK_BOT_TOKEN", "VICTOROPS_API_ID", "VICTOROPS_API_KEY", "VOBOT_DATABASE_URL"} <= names
    for name, value in assignments:
        if name in SECRET_VARIABLES:
            assert value == "" or "your" in value, f"{name} must be a placeholder, not a value"
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "vobot.env" in ignored and ".env" in ignored, "the filled-in copies must never be committed"


# ---- the wheel: the product only --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip install .` builds from the whole of bot/, bot/sim included: pyproject.toml leaves it out."""
    source = tmp_path_factory.mktemp("source")  # not the checkout: a build leaves build/ and *.egg-info behind
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "bot", source / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(source)]
    built = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stdout + built.stderr
    (path,) = out.glob("vobot-*.whl")
    return path


def _wheel_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_the_wheel_holds_the_product_and_not_the_simulator(wheel: Path) -> None:
    files = _wheel_files(wheel)
    assert not sorted(f for f in files if f.startswith("bot/sim/")), "bot.sim is for development only"
    product = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "bot").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and not path.is_relative_to(ROOT / "bot" / "sim")
    }
    assert "bot/store/migrations/script.py.mako" in product
    assert product <= files, f"missing from the wheel: {sorted(product - files)}"


def test_the_wheel_requires_websockets_only_for_development(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = (name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        requires = re.findall(r"^Requires-Dist: (.+)$", archive.read(metadata).decode(), re.MULTILINE)
    runtime = [r for r in requires if "extra ==" not in r]
    assert not [r for r in runtime if r.lower().startswith("websockets")], runtime
    assert [r for r in requires if r.lower().startswith("websockets")] == ['websockets>=13; extra == "dev"']
    assert any(r.startswith("cronsim") for r in runtime)


@pytest.mark.parametrize("command", ["demo", "victorops-sim"])
def test_without_the_simulator_the_dev_commands_say_what_to_install(wheel: Path, tmp_path: Path, command: str) -> None:
    """The product as installed from the wheel has no bot.sim: one sentence, no traceback.

    The wheel is imported as it is (a zip on the path) with this environment's packages beside it; `-S` skips
    the .pth files, among them the editable install's finder, which would find bot/sim in the checkout."""
    run_cli = "import sys, bot; assert bot.__file__.startswith(sys.path[1]), bot.__file__; import bot.__main__"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOBOT_", "SLACK_", "VICTOROPS_", "PORT"))}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(wheel), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", run_cli, command],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr == (
        f"vobot {command} runs the simulator, which only the development install has: "
        "`pip install -e '.[dev]'` in a clone of the repository (as `make` does).\n"
    )


def test_the_development_install_has_the_simulator() -> None:
    import bot.sim.demo
    import bot.sim.victorops

    assert Path(bot.sim.victorops.__file__).is_relative_to(ROOT / "bot" / "sim")
    assert callable(bot.sim.demo.run_demo)


# ---- the Dockerfile ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined; comments and blank lines dropped."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):  # comments inside a continued instruction are dropped
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        keyword, _, args = " ".join(part for part in pending if part).partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
        pending = []
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            result.append([])
        assert result, f"line {instruction.line}: {instruction.keyword} before the first FROM"
        result[-1].append(instruction)
    return result


def _options(args: str) -> tuple[dict[str, str], list[str]]:
    """`--flag=value` options, then the remaining words (shell-style)."""
    words = shlex.split(args)
    options = {}
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        options[name] = value
    return options, words


def _exec_form(args: str) -> list[str] | None:
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def _env_names(instruction: Instruction) -> dict[str, str]:
    words = shlex.split(instruction.args)
    if instruction.keyword == "ENV" and words and "=" not in words[0]:  # legacy `ENV NAME value`
        return {words[0]: " ".join(words[1:])}
    return {name: value for name, _, value in (word.partition("=") for word in words)}


@pytest.fixture(scope="module")
def dockerfile() -> list[list[Instruction]]:
    return stages(parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8")))


def _final(dockerfile: list[list[Instruction]], keyword: str) -> list[Instruction]:
    return [i for i in dockerfile[-1] if i.keyword == keyword]


def test_dockerfile_is_multi_stage_on_slim_python_311(dockerfile: list[list[Instruction]]) -> None:
    assert len(dockerfile) >= 2, "a builder stage and a runtime stage"
    names = []
    for stage in dockerfile:
        _, words = _options(stage[0].args)
        assert SLIM_PYTHON_311.match(words[0]), f"line {stage[0].line}: base {words[0]!r} is not python:3.11-slim"
        names.append(words[2] if len(words) == 3 and words[1].upper() == "AS" else None)
    # The runtime stage copies the builder's venv and nothing else: no sources, no build tools, no .env.
    for copy in _final(dockerfile, "COPY"):
        options, words = _options(copy.args)
        assert options.get("from") in names[:-1], f"line {copy.line}: the runtime stage copies only from the builder"
        assert words == ["/opt/venv", "/opt/venv"], f"line {copy.line}: the runtime stage copies /opt/venv only"
    assert not _final(dockerfile, "ADD")


def test_dockerfile_runs_as_non_root(dockerfile: list[list[Instruction]]) -> None:
    users = _final(dockerfile, "USER")
    assert users, "the runtime stage must set USER"
    user, _, group = users[-1].args.partition(":")
    assert user not in {"root", "0"} and group not in {"root", "0"}, f"line {users[-1].line}: runs as root"
    assert user == "10001"


def test_dockerfile_entrypoint_port_data_and_environment(dockerfile: list[list[Instruction]]) -> None:
    (entrypoint,) = _final(dockerfile, "ENTRYPOINT")
    (cmd,) = _final(dockerfile, "CMD")
    assert _exec_form(entrypoint.args) == ["vobot"]
    assert _exec_form(cmd.args) == ["run"]
    assert [i.args for i in _final(dockerfile, "EXPOSE")] == ["3000"]
    env: dict[str, str] = {}
    for instruction in _final(dockerfile, "ENV"):
        env.update(_env_names(instruction))
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"
    assert env.get("PYTHONUNBUFFERED") == "1"
    assert env.get("VOBOT_DATABASE_URL") == "sqlite:////data/vobot.db"
    volumes = [_exec_form(i.args) or i.args.split() for i in _final(dockerfile, "VOLUME")]
    assert ["/data"] in volumes
    assert [i.args for i in _final(dockerfile, "WORKDIR")] == ["/app"]


def test_dockerfile_bakes_in_no_secrets(dockerfile: list[list[Instruction]]) -> None:
    for instruction in (i for stage in dockerfile for i in stage):
        if instruction.keyword in {"ENV", "ARG"}:
            for name in _env_names(instruction):
                assert name not in SECRET_VARIABLES, f"line {instruction.line}: {name} is a secret; pass it at run time"
                assert not re.search(r"TOKEN|SECRET|PASSWORD|API_KEY", name), f"line {instruction.line}: {name}"
        if instruction.keyword in {"COPY", "ADD"}:
            _, words = _options(instruction.args)
            sources = _exec_form(instruction.args) or words
            for source in sources[:-1]:
                assert not Path(source).name.startswith(".env"), f"line {instruction.line}: copies {source}"


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _run_healthcheck(command: list[str], port: int) -> int:
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PORT": str(port),
        # A proxy in the container's environment must not capture the loopback health check.
        "http_proxy": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    return subprocess.run(command, env=env, capture_output=True, timeout=30, check=False).returncode


def test_dockerfile_healthcheck_calls_healthz(
    dockerfile: list[list[Instruction]], health_server: ThreadingHTTPServer
) -> None:
    (check,) = _final(dockerfile, "HEALTHCHECK")
    parsed = re.fullmatch(r"((?:--\S+\s+)*)CMD\s+(.+)", check.args)
    assert parsed, f"line {check.line}: HEALTHCHECK needs a CMD"
    options, _ = _options(parsed[1])
    assert {"interval", "timeout"} <= set(options)
    command_text = parsed[2]
    command = _exec_form(command_text) or ["sh", "-c", command_text]
    assert command[0] in {"python", "python3", "sh"}, "the slim image has no curl or wget: use Python's urllib"
    assert "/healthz" in command_text, f"line {check.line}: the health check should call GET /healthz"
    assert "urllib" in command_text, f"line {check.line}: the slim image has no curl: use Python's urllib"
    port = health_server.server_address[1]
    assert _run_healthcheck(command, port) == 0, "the health check fails against a healthy /healthz"
    _Health.status = 503
    try:
        assert _run_healthcheck(command, port) != 0, "the health check passes against an unhealthy /healthz"
    finally:
        _Health.status = 200
    health_server.shutdown()
    health_server.server_close()
    assert _run_healthcheck(command, port) != 0, "the health check passes with nothing listening"


# ---- the install step: the image does what the README documents ------------------------------------------


def _pip_installs(lines: list[str]) -> list[list[str]]:
    """The arguments of every `pip install` in these shell lines, options that change nothing dropped."""
    installs = []
    for line in lines:
        for segment in re.split(r"&&|\|\||;|\|", line):
            if "install" not in segment:
                continue
            try:
                words = shlex.split(segment, comments=True)
            except ValueError:  # unbalanced quotes in prose around the command
                words = segment.split("#", 1)[0].split()
            for i in range(len(words) - 1):
                if words[i].endswith("pip") and words[i + 1] == "install":
                    installs.append([w for w in words[i + 2 :] if w not in HARMLESS_PIP_OPTIONS])
    return installs


def _fenced_lines(markdown: str) -> list[str]:
    lines, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced:
            lines.append(line)
    return lines


def _readme_production_installs() -> list[list[str]]:
    fenced = _fenced_lines(README.read_text(encoding="utf-8"))
    assert any(README_INSTALL in line for line in fenced), (
        f"README.md documents no production install: add a fenced line containing `{README_INSTALL}`"
    )
    installs = _pip_installs([line for line in fenced if README_INSTALL in line])
    return [args for args in installs if "-e" not in args and "--editable" not in args]


def test_readme_documents_the_production_install() -> None:
    installs = _readme_production_installs()
    assert installs, f"README.md: the line with `{README_INSTALL}` should be a pip install command"
    assert all(args == ["."] for args in installs), f"README.md: production install {installs}, expected [.]"


def test_image_installs_the_project_as_the_readme_does(dockerfile: list[list[Instruction]]) -> None:
    runs = [i.args for stage in dockerfile[:-1] for i in stage if i.keyword == "RUN"]
    image = [args for args in _pip_installs(runs) if args]
    assert image == [["."]], f"the builder stage should run exactly one `pip install .`, found {image}"
    assert image[0] in _readme_production_installs()
    assert not [i for i in dockerfile[-1] if i.keyword == "RUN" and "pip install" in i.args], (
        "the runtime stage installs nothing: it copies the builder's venv"
    )


# ---- .dockerignore ----------------------------------------------------------------------------------------


def _ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _docker_pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex: `*` and `?` stop at `/`, `**` crosses directories."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i:]:
            end = pattern.index("]", i)
            out.append(pattern[i : end + 1])
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins, and an excluded directory excludes what is inside it."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for pattern in patterns:
        regex = _docker_pattern(pattern.removeprefix("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not pattern.startswith("!")
    return ignored


@pytest.mark.parametrize(
    "path",
    [
        ".venv",
        ".git",
        ".git/config",
        "vobot.db",
        "data/vobot.db",
        ".env",
        "vobot.env",
        ".pytest_cache",
        "bot/__pycache__",
        "bot/sim",
        "bot/sim/static/workspace.js",
    ],
)
def test_dockerignore_excludes(path: str) -> None:
    assert _ignored(path, _ignore_patterns()), f".dockerignore must exclude {path}"


def test_dockerignore_keeps_what_the_image_copies(dockerfile: list[list[Instruction]]) -> None:
    patterns = _ignore_patterns()
    for instruction in (i for stage in dockerfile for i in stage if i.keyword == "COPY"):
        options, words = _options(instruction.args)
        if "from" in options:
            continue
        for source in words[:-1]:
            assert not _ignored(source.rstrip("/"), patterns), f"line {instruction.line}: {source} is in .dockerignore"


# ---- hadolint, when installed -----------------------------------------------------------------------------


def test_hadolint() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (the Python lint above still ran)")
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
