"""Background threads for decoding ahead and encoding behind: order, errors, early exit."""

from __future__ import annotations

import threading

import pytest

from poselift.background import BackgroundWorker, read_ahead


def test_read_ahead_yields_everything_in_order_from_another_thread() -> None:
    threads = set()

    def items():
        for i in range(100):
            threads.add(threading.current_thread().name)
            yield i

    assert list(read_ahead(items(), depth=3)) == list(range(100))
    assert threads == {"poselift-read-ahead"}


def test_read_ahead_re_raises_the_producers_error_after_its_items() -> None:
    def items():
        yield 1
        yield 2
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in read_ahead(items()):
            got.append(item)
    assert got == [1, 2]


def test_leaving_read_ahead_early_stops_the_producer() -> None:
    produced = []

    def items():
        for i in range(10_000):
            produced.append(i)
            yield i

    for item in read_ahead(items(), depth=2):
        if item == 5:
            break
    assert len(produced) < 20  # it stopped instead of running to the end


def test_worker_consumes_in_order_and_close_waits_for_all() -> None:
    seen = []
    worker = BackgroundWorker(seen.append, depth=2)
    for i in range(50):
        worker.submit(i)
    worker.close()
    assert seen == list(range(50))


def test_worker_errors_come_back_to_the_caller_once() -> None:
    consumed = []

    def consume(item: int) -> None:
        if item == 3:
            raise ValueError("bad frame 3")
        consumed.append(item)

    worker = BackgroundWorker(consume)
    errors = []
    for i in range(6):
        try:
            worker.submit(i)
        except ValueError as error:  # raised at a later submit, or else at close
            errors.append(error)
    try:
        worker.close()
    except ValueError as error:
        errors.append(error)
    assert [str(e) for e in errors] == ["bad frame 3"]
    assert consumed == [0, 1, 2]  # nothing after the failure is consumed
