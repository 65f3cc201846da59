"""A small WebSocket server that broadcasts each pose as JSON (and serves the live viewer page).

Uses the `websockets` package (optional extra: pip install "poselift[live]") in its threaded sync mode.
Each client gets a short queue: when a client is slower than the stream, its oldest frames are dropped,
so a slow browser never slows the capture loop. A plain HTTP GET of "/" (no WebSocket upgrade) returns
the viewer page in live mode, so http://HOST:PORT/ in a browser shows the stream. Binds to 127.0.0.1 by
default (loopback only).

Frame message (text, JSON): {"type": "pose", "frame": n, "time": seconds, "space": "world",
"joints": [[x, y, z] x 17]}: Human3.6M joints, metres, Y up, floor at y = 0, the order of poselift.skeleton.
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

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


def live_viewer_page() -> str:
    """The viewer page without embedded poses; its live-mode block connects back to the page's host."""
    try:
        from poselift.video.viewer import build_html
    except ImportError:  # the video extra is not there: a minimal page that still counts frames
        return ("<!doctype html><title>poselift live</title><body><p>received frames: "
                "<span id=n>0</span></p><script>var s=new WebSocket('ws://'+location.host+'/');var n=0;"
                "s.onmessage=function(){n++;document.getElementById('n').textContent=n;"
                "document.body.setAttribute('data-poselift-received',n)}</script></body>")
    return build_html([], fps=30.0)


class PoseServer:
    """Broadcast poses to every connected WebSocket client. `broadcast(text)`; `close()` when done."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8765, client_queue: int = 8):
        try:
            from websockets.sync.server import serve
        except ImportError:
            raise InputError(None, INSTALL_HINT) from None
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
    def num_clients(self) -> int:
        """Currently connected WebSocket clients."""
        with self._lock:
            return len(self._clients)

    def _http(self, connection: Any, request: Any) -> Any:
        if request.headers.get("Upgrade", "").lower() == "websocket":
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
