"""A small WebSocket server that broadcasts each pose as JSON (and serves the live viewer page).

Uses the `websockets` package (optional extra: pip install "poselift[live]") in its threaded sync mode.
Each client gets a short queue: when a client is slower than the stream, its oldest frames are dropped,
so a slow browser never slows the capture loop. A plain HTTP GET of "/" (no WebSocket upgrade) returns
the viewer page in live mode, so http://HOST:PORT/ in a browser shows the stream.

Locked down by default: it binds loopback only ("0", "" and no host mean 127.0.0.1; another address needs
`allow_remote=True` and prints a warning), and a WebSocket handshake whose `Origin` is a web page is refused
(403) unless the page is on a loopback host, is the viewer opened as a file (`null` / `file://`), or its
origin is in `allowed_origins`: otherwise any site the user visits could read the pose stream from
127.0.0.1. Clients that send no Origin (programs, not browsers) are accepted.

Frame message (text, JSON): {"type": "pose", "frame": n, "time": seconds, "space": "world",
"joints": [[x, y, z] x 17]}: Human3.6M joints, metres, Y up, floor at y = 0, the order of poselift.skeleton.
"""

from __future__ import annotations

import ipaddress
import json
import queue
import sys
import threading
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from poselift.errors import InputError

INSTALL_HINT = 'the WebSocket server needs the "websockets" package: pip install "poselift[live]"'


def pose_message(joints: np.ndarray, frame: int, seconds: float, space: str = "world") -> str:
    """The JSON text of one pose: joints (17, 3) metres, millimetre precision."""
    return json.dumps(
        {"type": "pose", "frame": int(frame), "time": round(float(seconds), 4), "space": space,
         "joints": np.round(np.asarray(joints, dtype=np.float64), 3).tolist()},
        separators=(",", ":"),
    )


LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")
LOOPBACK_ALIASES = ("", "0")
"""Hosts that mean 'this machine only' on the command line: bound as 127.0.0.1."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost names."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_server_address(text: str, default_port: int = 8765) -> tuple[str, int]:
    """'HOST:PORT', 'HOST', ':PORT' or 'PORT' -> (host, port) for the server; "0" or an empty host is loopback."""
    from poselift.export.vmc import parse_address

    if text.strip().isdigit() and text.strip() != "0":
        return "127.0.0.1", parse_address(f":{text.strip()}", default_port=default_port, allow_zero=True)[1]
    host, port = parse_address(text, default_port=default_port, allow_zero=True)
    return ("127.0.0.1" if host in LOOPBACK_ALIASES else host), port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def origin_allowed(origin: str | None, allowed: tuple[str, ...] = (), host: str | None = None) -> bool:
    """Whether a WebSocket handshake's Origin header may connect (see the module docstring).

    `host` (the request's Host header) also admits the page this server itself served when it was asked for
    by IP address (a remote viewer); a DNS name is not enough, which keeps DNS-rebinding pages out.
    """
    if origin is None:
        return True  # not a browser
    origin = origin.strip()
    if origin.lower() in ("null", "file://") or origin.lower().startswith("file:"):
        return True
    if origin.rstrip("/").lower() in (a.rstrip("/").lower() for a in allowed):
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or parts.hostname is None:
        return False
    if is_loopback(parts.hostname):
        return True
    return host is not None and parts.netloc.lower() == host.strip().lower() and _is_ip(parts.hostname)


def live_viewer_page() -> str:
    """The viewer page without embedded poses; its live-mode block connects back to the page's host."""
    try:
        from poselift.export.viewer import build_html
    except ImportError:  # the video extra is not there: a minimal page that still counts frames
        return ("<!doctype html><title>poselift live</title><body><p>received frames: "
                "<span id=n>0</span></p><script>var s=new WebSocket('ws://'+location.host+'/');var n=0;"
                "s.onmessage=function(){n++;document.getElementById('n').textContent=n;"
                "document.body.setAttribute('data-poselift-received',n)}</script></body>")
    return build_html([], fps=30.0)


class PoseServer:
    """Broadcast poses to every connected WebSocket client. `broadcast(text)`; `close()` when done."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8765, client_queue: int = 8, *,
                 allow_remote: bool = False, allowed_origins: tuple[str, ...] | list[str] = ()):
        try:
            from websockets.sync.server import serve
        except ImportError:
            raise InputError(None, INSTALL_HINT) from None
        host = "127.0.0.1" if host in LOOPBACK_ALIASES else host
        if not is_loopback(host):
            if not allow_remote:
                raise InputError(None, f"the WebSocket server would listen on {host}, reachable from other "
                                       "machines: allow it explicitly (--ws-allow-remote), or use 127.0.0.1")
            print(f"warning: the pose stream is served on {host}:{port}: anyone who can reach this machine "
                  "can watch it", file=sys.stderr)
        self.allowed_origins = tuple(allowed_origins)
        self.refused = 0
        """WebSocket handshakes refused for their Origin."""
        self._clients: set[queue.Queue] = set()
        self._lock = threading.Lock()
        self._client_queue = client_queue
        self._closed = threading.Event()
        self._page = live_viewer_page().encode("utf-8")
        try:
            self._server = serve(self._handle, host, port, process_request=self._http, compression=None,
                                 ping_interval=None)
        except OSError as error:
            raise InputError(None, f"cannot listen on {host}:{port}: {error.strerror or error}") from None
        self._thread = threading.Thread(target=self._server.serve_forever, name="poselift-ws", daemon=True)
        self._thread.start()
        self.messages_sent = 0

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound (port 0 asks the system for a free one)."""
        name = self._server.socket.getsockname()
        return name[0], name[1]

    @property
    def url_host(self) -> str:
        """The bound host as written in a URL (IPv6 in brackets)."""
        host = self.address[0]
        return f"[{host}]" if ":" in host else host

    @property
    def num_clients(self) -> int:
        """Currently connected WebSocket clients."""
        with self._lock:
            return len(self._clients)

    def _http(self, connection: Any, request: Any) -> Any:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            if not origin_allowed(request.headers.get("Origin"), self.allowed_origins, request.headers.get("Host")):
                self.refused += 1
                return connection.respond(403, "origin not allowed (poselift live --ws-allow-origin)\n")
            return None  # go on with the WebSocket handshake
        if request.path.split("?")[0] not in ("/", "/index.html"):
            return connection.respond(404, "not found\n")
        response = connection.respond(200, "")
        response.body = self._page
        for name, value in (("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(self._page)))):
            del response.headers[name]  # websockets' Headers appends on assignment: replace instead
            response.headers[name] = value
        return response

    def _handle(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        outbox: queue.Queue = queue.Queue(maxsize=self._client_queue)
        with self._lock:
            self._clients.add(outbox)
        try:
            while not self._closed.is_set():
                try:
                    text = outbox.get(timeout=0.2)
                except queue.Empty:
                    if connection.close_code is not None:
                        break
                    continue
                connection.send(text)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._clients.discard(outbox)

    def broadcast(self, text: str) -> int:
        """Queue one message for every client (dropping a slow client's oldest); returns the client count."""
        with self._lock:
            clients = list(self._clients)
        for outbox in clients:
            while True:
                try:
                    outbox.put_nowait(text)
                    break
                except queue.Full:
                    try:
                        outbox.get_nowait()
                    except queue.Empty:
                        pass
        self.messages_sent += 1
        return len(clients)

    def send_pose(self, joints: np.ndarray, frame: int, seconds: float) -> int:
        """Broadcast one pose (17, 3) world metres (see pose_message); returns the client count."""
        return self.broadcast(pose_message(joints, frame, seconds))

    def close(self) -> None:
        """Stop serving and disconnect every client."""
        self._closed.set()
        self._server.shutdown()
        self._thread.join(timeout=5)

    def __enter__(self) -> PoseServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
