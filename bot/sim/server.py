"""Serve an ASGI app with uvicorn on a loopback port: in a background thread, or as a task in this loop.

Used for the VictorOps simulator and the other local fakes, in tests and in the demo. The socket is bound here,
by default to port 0 (any free port), so the URL is known before the server starts and no two servers race
for a port.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Literal, Self

import uvicorn
from starlette.types import ASGIApp

HOST = "127.0.0.1"
Lifespan = Literal["auto", "on", "off"]


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave signals to the program that embeds the server: Ctrl-C stops it, not just this server."""
        yield


def free_port() -> int:
    """A port nothing listens on now, for a server started as another process (which binds it itself)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    """The resident memory of process `pid` in MB (Linux), for the footprint figures of the benchmarks."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _bind(port: int) -> socket.socket:
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only then, and without it every
    # response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    return sock


def _server(app: ASGIApp, lifespan: Lifespan) -> _Server:
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan=lifespan, timeout_graceful_shutdown=1)
    return _Server(config)


class ServerThread:
    """`with ServerThread(app) as server:` serves `app` at `server.url` from a thread with its own event loop."""

    def __init__(
        self, app: ASGIApp, *, port: int = 0, lifespan: Lifespan = "off", startup_timeout: float = 10.0
    ) -> None:
        self._server = _server(app, lifespan)
        self._sock = _bind(port)
        self._startup_timeout = startup_timeout
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"uvicorn:{self.port}", daemon=True)

    @property
    def port(self) -> int:
        port: int = self._sock.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as error:  # uvicorn raises SystemExit when startup fails; start() reports it
            self._error = error

    def start(self) -> Self:
        """Start serving and return once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server at {self.url} did not start") from self._error
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=self._startup_timeout)
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextlib.asynccontextmanager
async def serve(app: ASGIApp, *, port: int = 0, lifespan: Lifespan = "off") -> AsyncIterator[str]:
    """`async with serve(app) as url:` serves `app` as a task in the running loop until the block ends."""
    server, sock = _server(app, lifespan), _bind(port)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            sock.close()
            await task  # raises what stopped the server
            raise RuntimeError("the server stopped before it started")
        await asyncio.sleep(0.005)
    try:
        yield f"http://{HOST}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
