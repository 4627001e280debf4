# syntax=docker/dockerfile:1
# vobot image: `docker build -t vobot .` then
#   docker run --env-file vobot.env -v vobot-data:/data -p 3000:3000 vobot          (vobot run)
#   docker run --env-file vobot.env -v vobot-data:/data vobot check                  (any other subcommand)
# Configuration comes from the environment only (see the README's configuration reference); no secret and no
# .env file is ever part of the image. The YAML file, if any, is mounted and named by VOBOT_CONFIG.

# ---- builder: install the project and its dependencies into a self-contained venv ----------------------------
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv /opt/venv

WORKDIR /src
# Only what the distribution needs (pyproject.toml reads README.md as the long description); bot/sim, the
# development-only simulator, is not even sent (.dockerignore), and the wheel would leave it out anyway.
COPY pyproject.toml README.md ./
COPY bot ./bot
# The production install the README documents: the project, no dev extras, not editable.
RUN pip install --no-cache-dir .

# ---- runtime: the venv alone, run as an unprivileged user ----------------------------------------------------
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    VOBOT_DATABASE_URL=sqlite:////data/vobot.db

RUN groupadd --system --gid 10001 vobot \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin vobot \
    && mkdir /data \
    && chown 10001:10001 /data

COPY --from=builder /opt/venv /opt/venv

# /app stays root-owned and read-only to the bot; only /data (the SQLite database) is writable.
WORKDIR /app
VOLUME ["/data"]
USER 10001:10001

# HTTP mode serves POST /slack/events there; both modes serve GET /healthz, /readyz and /metrics on $PORT.
EXPOSE 3000
# GET http://127.0.0.1:${PORT:-3000}/healthz with Python's urllib (the slim image has no curl), bypassing any
# HTTP(S)_PROXY from the environment; any error or non-2xx answer raises, so the check exits 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.build_opener(urllib.request.ProxyHandler({})).open(f\"http://127.0.0.1:{os.environ.get('PORT') or 3000}/healthz\", timeout=4)"]

ENTRYPOINT ["vobot"]
CMD ["run"]
