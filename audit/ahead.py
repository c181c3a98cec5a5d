"""Items of an iterator made in a thread of their own, a few ahead of the one using them.

A big audit alternates two kinds of work: the rules make a chunk's results (pure Python), then the
database writes it. While the driver waits on the database it lets the GIL go (psycopg while
PostgreSQL works, the sqlite3 module inside SQLite's calls), so with the next chunk's results made
meanwhile in another thread the two overlap on a machine with two cores or more.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from queue import Full, Queue
from typing import TypeVar

T = TypeVar("T")
POLL_S = 0.1  # how often a waiting thread looks whether it should stop


def made_ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """``items`` in order, made up to ``depth`` ahead by a thread of their own. An exception raised
    making them is raised here, where the item would have come; a consumer that stops early (or
    fails) stops the thread, which ends after the item it is making."""
    queue: Queue[tuple[bool, T | BaseException | None]] = Queue(maxsize=depth)
    stop = threading.Event()
    thread = threading.Thread(target=_produce, args=(items, queue, stop), name="rxaudit-made-ahead",
                              daemon=True)
    thread.start()
    try:
        while True:
            more, item = queue.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        thread.join()


def _produce(items: Iterator[T], queue: Queue, stop: threading.Event) -> None:
    try:
        for item in items:
            if not _put(queue, (True, item), stop):
                return
        _put(queue, (False, None), stop)
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
        _put(queue, (False, exc), stop)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def _put(queue: Queue, entry: tuple, stop: threading.Event) -> bool:
    """Put ``entry`` once there is room; False when told to stop first."""
    while not stop.is_set():
        try:
            queue.put(entry, timeout=POLL_S)
            return True
        except Full:
            continue
    return False

