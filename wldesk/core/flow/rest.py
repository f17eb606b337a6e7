"""The REST API channel: Orthanc's ``/worklists`` calls over HTTP(S), served by uvicorn.

Off unless ``rest_port`` is set. It listens on ``rest_bind_address`` (127.0.0.1 by default) and
refuses to start on any other address without a token (``Authorization: Bearer``) or a user
name and password (HTTP basic): a clinic's worklist must not be writable by anyone on its
network. With ``rest_tls_certificate`` and ``rest_tls_key`` it speaks HTTPS only. Secrets are
compared in constant time. The requests themselves are :mod:`wldesk.core.flow.rest_api`'s.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import logging
import socket
import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from wldesk.core.events import EventBus, InputEvent
from wldesk.core.flow.ledger import Ledger
from wldesk.core.flow.rest_api import CHANNEL, WorklistApi, client, error
from wldesk.core.settings import Settings

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0
STOP_GRACE = 2.0
"""Seconds a stopping API gives the requests under way."""
_CHANGING = frozenset({"POST", "PUT", "DELETE", "PATCH"})


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # "": every interface


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class Guard:
    """ASGI middleware: only callers with the token or the user name and password get through
    (everyone when neither is set, which only a loopback address allows)."""

    def __init__(self, app: ASGIApp, settings: Settings, bus: EventBus) -> None:
        self.app = app
        self.token = settings.rest_token
        self.user, self.password = settings.rest_user, settings.rest_password
        self.bus = bus

    def allowed(self, authorization: str) -> bool:
        if not self.token and not self.user:
            return True
        scheme, _, credentials = authorization.strip().partition(" ")
        if self.token and scheme.lower() == "bearer":
            return _same(credentials.strip(), self.token)
        if self.user and scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                return False
            user, _, password = decoded.partition(":")
            return _same(user, self.user) & _same(password, self.password)
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if self.allowed(request.headers.get("authorization", "")):
            await self.app(scope, receive, send)
            return
        if request.method in _CHANGING:
            self.bus.emit(InputEvent(CHANNEL, "refused", client(request),
                                     detail=f"{request.method} {request.url.path}: wrong or "
                                            "missing credentials"))
        challenge = 'Basic realm="wldesk"' if self.user else 'Bearer realm="wldesk"'
        response = error(401, "this wldesk needs a token or a user name and password",
                         {"WWW-Authenticate": challenge})
        await response(scope, receive, send)


def without_trailing_slash(app: ASGIApp) -> ASGIApp:
    """``app`` answering ``/worklists/`` as ``/worklists``, as Orthanc does (its documentation
    lists with ``/worklists/?format=Short``), instead of redirecting."""

    async def trimmed(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
        await app(scope, receive, send)

    return trimmed


def make_app(settings: Settings, ledger: Ledger, bus: EventBus) -> ASGIApp:
    """The API of ``ledger``'s folder behind the guard of ``settings``."""
    api = WorklistApi(ledger, bus)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        return error(status, "not found" if status == 404 else "this request cannot be answered")

    app = Starlette(routes=[
        Route("/worklists", api.list, methods=["GET"]),
        Route("/worklists/create", api.create, methods=["POST"]),
        Route("/worklists/{id}", api.get, methods=["GET"]),
        Route("/worklists/{id}", api.replace, methods=["PUT"]),
        Route("/worklists/{id}", api.delete, methods=["DELETE"]),
        Route("/system", api.system, methods=["GET"]),
    ], exception_handlers={404: not_found, 405: not_found})
    return Guard(without_trailing_slash(app), settings, bus)


class RestChannel:
    """The REST API of one worklist folder, served in a thread of its own."""

    def __init__(self, settings: Settings, ledger: Ledger, bus: EventBus) -> None:
        self.settings = settings
        self.ledger = ledger
        self.bus = bus
        self.port = settings.rest_port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.settings.rest_tls_certificate else "http"

    def _check(self) -> None:
        s = self.settings
        if bool(s.rest_user) != bool(s.rest_password):
            raise ValueError("HTTP basic authentication needs both a REST API user name and "
                             "password")
        if not is_loopback(s.rest_bind_address) and not (s.rest_token or s.rest_user):
            where = s.rest_bind_address or "every address"
            raise ValueError(f"the REST API would listen on {where} without a token or a user "
                             "name and password; set one in Settings, or listen on 127.0.0.1")
        if bool(s.rest_tls_certificate) != bool(s.rest_tls_key):
            raise ValueError("HTTPS needs both the REST API TLS certificate and its key")

    def start(self) -> None:
        self._check()
        s = self.settings
        host = "127.0.0.1" if s.rest_bind_address == "localhost" else s.rest_bind_address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, self.port), family=family)
        config = uvicorn.Config(
            make_app(s, self.ledger, self.bus), http=H11Protocol, ws="none", lifespan="off",
            loop="asyncio", log_config=None, log_level="warning", access_log=False,
            server_header=False, timeout_keep_alive=5,
            ssl_certfile=s.rest_tls_certificate or None, ssl_keyfile=s.rest_tls_key or None)
        try:
            config.load()  # reads the certificate and key: a bad file is an error now
        except BaseException:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                  name="wldesk-rest", daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not server.started:
            self.stop()
            sock.close()
            raise OSError(0, "the REST API did not start (see the log)")
        log.info("REST API listening on %s://%s:%d", self.scheme, host, self.port)

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None and thread is not None:
            server.should_exit = True  # answers what is under way...
            thread.join(STOP_GRACE)
            server.force_exit = True  # ...but does not wait for idle or stalled connections
            thread.join(START_TIMEOUT)


def make_channel(settings: Settings, ledger: Ledger, bus: EventBus) -> RestChannel:
    """The REST API channel of ``settings`` (made when ``rest_port`` turns it on: see
    ``services.make_rest``)."""
    return RestChannel(settings, ledger, bus)
