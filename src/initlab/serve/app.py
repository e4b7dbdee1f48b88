"""The playground's web server: a small ASGI app (Starlette) with one WebSocket per page.

Why Starlette + uvicorn + plotly.js: a page that redraws on every slider move needs a server
that starts in a fraction of a second and answers a computation with one message, and a
plotting library that runs in the browser from a file on disk. Starlette + uvicorn + websockets
import in 0.22-0.25 s of CPU and answer a one-line WebSocket request in 0.34 ms (median, loopback);
plotly's Python wheel ships ``plotly.min.js``, served from the installed package (no CDN, no
network: the page works offline). Bokeh's server was the alternative: 1.35-1.49 s of CPU to import
(Panel on it 0.7 s more), and a document model synced per widget that we do not need
(docs/playground.md has the measurements).

Protocol (JSON over ``/ws``): the page sends ``{"type": "step0", "id": n, "settings": {...}}``
or ``{"type": "train", "id": n, "settings": {...}, "runs": [init specs]}``, and
``pause``/``resume``/``stop``. One computation per page at a time: a new request cancels the
running one (it stops at its next layer or step) and replaces any waiting one. The server answers
with ``step0`` / ``phase`` / ``train_start`` / ``frame`` / ``train_done`` messages, or ``error``
with the config field and the CLI's one-line message; never a stack trace (an unexpected failure
is one ``internal error`` line, its traceback printed on the server's terminal only).
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from initlab.errors import ConfigError
from initlab.serve import compute, limits, meta

STATIC = {"app.js": "text/javascript", "style.css": "text/css"}
#: uvicorn's WebSocket implementation on the `websockets` package (its sans-I/O protocol; the
#: legacy one is deprecated since uvicorn 0.35)
WS_IMPL = "websockets-sansio"


def plotly_js() -> Path:
    """plotly.min.js from the installed plotly package (its wheel ships it)."""
    path = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
    if not path.is_file():  # pragma: no cover - a broken plotly install
        raise RuntimeError(f"plotly.min.js not found at {path}; reinstall with pip install 'initlab[serve]'")
    return path


class Jobs:
    """Computations in flight over every page, at most :data:`limits.MAX_JOBS`."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=limits.MAX_JOBS, thread_name_prefix="initlab-serve")
        self.lock = threading.Lock()
        self.tokens: set[compute.Token] = set()

    def acquire(self, token: compute.Token) -> bool:
        with self.lock:
            if len(self.tokens) >= limits.MAX_JOBS:
                return False
            self.tokens.add(token)
            return True

    def release(self, token: compute.Token) -> None:
        with self.lock:
            self.tokens.discard(token)

    def shutdown(self) -> None:
        """Stop every computation at its next layer or step (a paused one too), so the process
        exits without waiting for a training run to finish."""
        with self.lock:
            for token in self.tokens:
                token.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)


class Session:
    """One page: its socket, its running computation and the one waiting to run."""

    def __init__(self, ws: WebSocket, jobs: Jobs, train: bool):
        self.ws, self.jobs, self.train_enabled = ws, jobs, train
        self.loop = asyncio.get_running_loop()
        self.out: asyncio.Queue = asyncio.Queue()
        self.current: tuple[int, compute.Token] | None = None
        self.pending: dict | None = None
        self.wake = asyncio.Event()

    def send(self, msg: dict) -> None:
        """Queue ``msg`` for the page (callable from any thread)."""
        self.loop.call_soon_threadsafe(self.out.put_nowait, msg)

    async def sender(self) -> None:
        from initlab.serve.training import merge_frames

        while True:
            batch = [await self.out.get()]
            while not self.out.empty():  # the page fell behind: send the latest state, every row
                batch.append(self.out.get_nowait())
            for msg in merge_frames(batch):
                await self.ws.send_text(json.dumps(msg, allow_nan=False, separators=(",", ":")))

    def submit(self, req: dict) -> None:
        if self.current is not None:
            self.current[1].cancel()
        if self.pending is not None:
            self.send({"type": "cancelled", "id": self.pending.get("id")})
        self.pending = req
        self.wake.set()

    def control(self, what: str) -> None:
        if self.current is None:
            return
        token = self.current[1]
        {"pause": token.pause, "resume": token.resume, "stop": token.cancel}[what]()

    def close(self) -> None:
        self.pending = None
        if self.current is not None:
            self.current[1].cancel()

    async def runner(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            req, self.pending = self.pending, None
            if req is None:
                continue
            token = compute.Token()
            self.current = (req.get("id"), token)
            try:
                await self._run(req, token)
            finally:
                self.current = None

    async def _run(self, req: dict, token: compute.Token) -> None:
        rid, kind = req.get("id"), req.get("type")
        if not self.jobs.acquire(token):
            self.send({"type": "error", "id": rid, "field": "", "message": "the server is busy "
                       f"({limits.MAX_JOBS} computations running, MAX_JOBS); try again in a moment"})
            return
        try:
            if kind == "step0":
                res = await self.loop.run_in_executor(self.jobs.pool, compute.step0, req.get("settings") or {},
                                                      token)
                self.send({"type": "step0", "id": rid, **res})
                if not token.cancelled and req.get("phase", True):
                    ph = await self.loop.run_in_executor(self.jobs.pool, compute.phase, req.get("settings") or {})
                    self.send({"type": "phase", "id": rid, **ph})
            else:
                from initlab.serve import training

                emit = lambda m: self.send({**m, "id": rid})  # noqa: E731
                finals = await self.loop.run_in_executor(self.jobs.pool, training.train_job,
                                                         req.get("settings") or {}, req.get("runs") or [], token,
                                                         emit)
                self.send({"type": "train_done", "id": rid, "finals": finals})
        except compute.Cancelled:
            self.send({"type": "cancelled", "id": rid})
        except ConfigError as e:
            self.send({"type": "error", "id": rid, **compute.page_error(e)})
        except Exception as e:  # a bug: one line to the page, the traceback to the terminal
            traceback.print_exc(file=sys.stderr)
            self.send({"type": "error", "id": rid, "field": "",
                       "message": f"internal error: {type(e).__name__}: {' '.join(str(e).split())} "
                                  "(a bug: please report it with the permalink)"})
        finally:
            self.jobs.release(token)

    def receive(self, text: str) -> None:
        if len(text) > limits.MAX_MESSAGE_BYTES:
            self.send({"type": "error", "id": None, "field": "", "message":
                       f"request of {len(text)} bytes refused (MAX_MESSAGE_BYTES {limits.MAX_MESSAGE_BYTES})"})
            return
        try:
            req = json.loads(text)
        except ValueError:
            req = None
        kind = req.get("type") if isinstance(req, dict) else None
        if kind in ("pause", "resume", "stop"):
            self.control(kind)
        elif kind == "step0" or (kind == "train" and self.train_enabled):
            self.submit(req)
        elif kind == "train":
            self.send({"type": "error", "id": req.get("id"), "field": "",
                       "message": "training is off on this server (initlab serve --no-train)"})
        else:
            self.send({"type": "error", "id": None, "field": "",
                       "message": "unknown request; valid types: step0, train, pause, resume, stop"})


def make_app(*, train: bool = True) -> Starlette:
    """The playground's ASGI app (``train=False``: the step-0 view only)."""
    jobs = Jobs()
    static = resources.files("initlab.serve") / "static"

    async def index(request):
        return FileResponse(str(static / "index.html"), media_type="text/html",
                            headers={"Cache-Control": "no-cache"})

    async def asset(request):
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("not found", status_code=404)
        return FileResponse(str(static / name), media_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    async def plotly(request):
        return FileResponse(str(plotly_js()), media_type="text/javascript",
                            headers={"Cache-Control": "max-age=86400"})

    async def info(request):
        return JSONResponse(meta.describe(train=train))

    async def socket(ws: WebSocket):
        await ws.accept()
        session = Session(ws, jobs, train)
        tasks = [asyncio.create_task(session.sender()), asyncio.create_task(session.runner())]
        try:
            while True:
                session.receive(await ws.receive_text())
        except WebSocketDisconnect:
            pass
        finally:
            session.close()
            for t in tasks:
                t.cancel()

    routes = [Route("/", index), Route("/static/{name}", asset), Route("/vendor/plotly.min.js", plotly),
              Route("/api/meta", info), WebSocketRoute("/ws", socket)]
    app = Starlette(routes=routes)
    app.state.jobs = jobs
    return app


def listen(host: str, port: int):
    """A listening socket on ``host:port``, or a :class:`ConfigError` naming --host/--port."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise ConfigError("--host", f"cannot resolve '{host}': {e.strerror or e}") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as e:
        sock.close()
        raise ConfigError("--port", f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def serve(host: str = "127.0.0.1", port: int = 8765, *, train: bool = True, ready=None) -> None:
    """Run the playground until interrupted; ``ready(url)`` is called once it listens."""
    import uvicorn

    sock = listen(host, port)
    port = sock.getsockname()[1]  # port 0: the one the system chose
    app = make_app(train=train)
    # no WebSocket pings: the page is on this machine or a trusted network, a closed tab closes its
    # connection, and a ping unanswered while the training threads hold the GIL would drop a
    # live page
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws=WS_IMPL, lifespan="off",
                                           ws_ping_interval=None, ws_ping_timeout=None))

    async def main() -> None:
        async def started() -> None:
            while not server.started:
                await asyncio.sleep(0.02)
            if ready is not None:
                shown = f"[{host}]" if ":" in host else host
                ready(f"http://{shown}:{port}/")

        await asyncio.gather(server.serve(sockets=[sock]), started())

    try:
        asyncio.run(main())
    finally:
        app.state.jobs.shutdown()
        sock.close()
