"""Run one side of a producer/consumer pair on a background thread, for work that releases the GIL.

Video decoding and encoding (FFmpeg through PyAV) drop the GIL, so a decoder or an encoder on its own
thread runs on the second core while Python draws the next frame.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_DONE = object()


def read_ahead(items: Iterable[T], depth: int = 8) -> Iterator[T]:
    """Iterate `items` on a background thread, at most `depth` items ahead; its exceptions re-raise here."""
    slots: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                slots.put((item, None))
            slots.put((_DONE, None))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            slots.put((_DONE, error))

    worker = threading.Thread(target=produce, name="poselift-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                slots.get_nowait()
            except queue.Empty:
                worker.join(0.01)


class BackgroundWorker:
    """Call `consume(item)` for each `submit`ted item, in order, on a background thread (bounded queue).

    `close()` waits for everything submitted; an exception in `consume` re-raises at the next `submit`
    or at `close`, and later items are dropped.
    """

    def __init__(self, consume: Callable[[Any], None], depth: int = 8):
        self._consume = consume
        self._slots: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="poselift-background", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._slots.get()
            if item is _DONE:
                return
            if self._error is None:
                try:
                    self._consume(item)
                except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
                    self._error = error

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, item: Any) -> None:
        """Queue `item` (blocks while `depth` items wait)."""
        self._raise()
        self._slots.put(item)

    def close(self) -> None:
        """Wait until every submitted item is consumed; re-raise a failure."""
        if self._thread.is_alive():
            self._slots.put(_DONE)
            self._thread.join()
        self._raise()
