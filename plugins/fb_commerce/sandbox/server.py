"""Running the sandbox: ``SandboxServer`` (uvicorn in a background thread, for tests and demos) and ``serve``
(blocking, for ``fb-commerce sandbox``)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from types import TracebackType

import uvicorn

from fb_commerce import defaults

from .client import SandboxAdmin
from .http.app import create_app
from .http.auth import appsecret_proof
from .world.sandbox import Sandbox

_START_TIMEOUT = 30.0


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket with TCP_NODELAY, which accepted connections inherit.

    Without it, keep-alive clients wait ~40 ms per call: the response goes out in two writes and Nagle holds the
    second until the client's delayed ACK.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


class SandboxServer:
    """A sandbox on ``host:port`` (0 = a free port) served from a background thread; a context manager."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = defaults.SANDBOX_SEED,
        orders: int = defaults.SANDBOX_ORDERS,
        products: int = defaults.SANDBOX_PRODUCTS,
        days: int = defaults.SANDBOX_DAYS,
    ) -> None:
        self.host = host
        self.sandbox = Sandbox(seed=seed, orders=orders, products=products, days=days)
        self.app = create_app(self.sandbox)
        self._sock = listening_socket(host, port)  # bound now, so .port and .url are known before start()
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.admin = SandboxAdmin(self.url)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxServer:
        if self._thread is not None:
            return self
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30)
        server = self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[self._sock])),
            name=f"fb-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not start on {self.url}")
            time.sleep(0.01)
        self.admin.wait_ready(timeout=_START_TIMEOUT)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None
        self._server = None
        self._sock.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def connection_json(base_url: str) -> str:
    """An example AIRFLOW_CONN_FB_COMMERCE_DEFAULT for this sandbox (field names of the fb_commerce form)."""
    from fb_commerce.environment import sandbox_connection

    return json.dumps(sandbox_connection(base_url))


def banner(base_url: str) -> str:
    proof = appsecret_proof(defaults.SANDBOX_ACCESS_TOKEN, defaults.SANDBOX_APP_SECRET)
    return "\n".join(
        [
            "fb-commerce Graph API sandbox (not Meta: a local stand-in for tests and demos)",
            f"  base URL        {base_url}   (Graph paths: {base_url}/{defaults.API_VERSION}/...)",
            f"  access token    {defaults.SANDBOX_ACCESS_TOKEN}",
            f"  app secret      {defaults.SANDBOX_APP_SECRET}   (appsecret_proof {proof})",
            f"  app id          {defaults.SANDBOX_APP_ID}",
            f"  page id         {defaults.SANDBOX_PAGE_ID}",
            f"  CMS id          {defaults.SANDBOX_CMS_ID}",
            f"  catalog id      {defaults.SANDBOX_CATALOG_ID}",
            f"  feed id         {defaults.SANDBOX_FEED_ID}",
            f"  API version     {defaults.API_VERSION}",
            f"  admin API       {base_url}/_sandbox/  (reset, seed, faults, config, clock, state, stats, orders)",
            "",
            f"export AIRFLOW_CONN_FB_COMMERCE_DEFAULT='{connection_json(base_url)}'",
        ]
    )


def serve(
    host: str = defaults.SANDBOX_HOST,
    port: int = defaults.SANDBOX_PORT,
    seed: int = defaults.SANDBOX_SEED,
    orders: int = defaults.SANDBOX_ORDERS,
    products: int = defaults.SANDBOX_PRODUCTS,
    days: int = defaults.SANDBOX_DAYS,
) -> None:
    """Seed, print the defaults, and serve until interrupted (``fb-commerce sandbox``)."""
    app = create_app(Sandbox(seed=seed, orders=orders, products=products, days=days))
    sock = listening_socket(host, port)
    print(banner(f"http://{host}:{sock.getsockname()[1]}"), flush=True)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="info", access_log=False, lifespan="off", timeout_keep_alive=30)
    )
    server.run(sockets=[sock])
