"""The pull adapter for platforms that publish rather than push: a NATS JetStream durable pull
consumer (``rxaudit pull``).

Each message is one settlement object or a JSON array of them (``ingest.live_records``). A fetch
takes at most ``batch`` messages; their settlements go to ``store`` (which commits them to the inbox,
one transaction for the fetch) and only then is each message acknowledged, so a consumer killed
before its ack leaves the message to be delivered again after ``ack_wait_s`` — and storing it again
changes nothing (the inbox is idempotent on ``settlement_id``). A message that cannot be used at all
(not JSON, not an object or array, over the bounds, not one usable record) is terminated (``term``:
never delivered again) with its reason logged; records of a message that cannot be used are logged
by index and field (never a value: no card id reaches the log) and the others stored. When ``store``
fails (the database down or busy) the messages are nak'd with a delay and nothing is acknowledged.

The connection is re-made whenever it is lost or closed (backing off ``reconnect_min_s`` up to
``reconnect_max_s``); the durable consumer keeps the place on the server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ingest.fields import IngestOptions
from ingest.live_records import read_records
from rxaudit.domain import Settlement

log = logging.getLogger("rxaudit.pull")

# one stored message: where it came from (as the conflicts list shows it) and its settlements
Stored = tuple[str, Sequence[Settlement]]
Store = Callable[[list[Stored]], None]  # commits them all, or raises (nothing stored)


@dataclass(frozen=True)
class PullOptions:
    servers: str
    stream: str
    subject: str
    durable: str
    batch: int = 100  # messages one fetch takes at most
    fetch_timeout_s: float = 1.0  # how long one fetch waits for messages
    ack_wait_s: float = 30.0  # a message not acknowledged this long is delivered again
    max_ack_pending: int = 1000
    max_bytes: int = 16 * 1024 * 1024  # bytes of one message
    max_records: int = 5000  # settlements in one message
    retry_delay_s: float = 5.0  # a message whose store failed is delivered again after this
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 10.0

    def __post_init__(self) -> None:
        if not 1 <= self.batch <= 1000:
            raise ValueError("batch: 1 to 1000 messages")
        for name in ("stream", "subject", "durable"):
            if not getattr(self, name) or any(c in getattr(self, name) for c in " \t\r\n"):
                raise ValueError(f"{name} must be a NATS name without spaces")


class Malformed(ValueError):
    """A message that cannot be used at all; ``str()`` is the reason (never a value)."""


def settlements_of(data: bytes, card_key: bytes, ingest: IngestOptions, options: PullOptions
                   ) -> tuple[list[Settlement], list[str]]:
    """The message's settlements and the reasons its bad records were left out. Malformed: the
    message as a whole cannot be used."""
    if len(data) > options.max_bytes:
        raise Malformed(f"message larger than {options.max_bytes} bytes")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise Malformed("message is not JSON (UTF-8)") from None
    values = value if isinstance(value, list) else [value] if isinstance(value, dict) else None
    if values is None:
        raise Malformed("message must be a settlement object or an array of them")
    if len(values) > options.max_records:
        raise Malformed(f"more than {options.max_records} settlements in one message")
    settlements, errors = read_records(values, card_key, ingest)
    reasons = [f"record {e.index}: {e.reason}" for e in errors]
    if not settlements:
        raise Malformed("; ".join(reasons[:5]) or "message holds no settlement")
    return settlements, reasons


class Consumer:
    """One durable pull consumer: :meth:`run` until :meth:`stop`."""

    def __init__(self, options: PullOptions, *, store: Store, card_key: bytes, ingest: IngestOptions) -> None:
        self.options = options
        self.store = store
        self.card_key = card_key
        self.ingest = ingest
        self.connection: Any = None  # the current NATS connection (tests close it under the consumer)
        self.counts = {"messages": 0, "settlements": 0, "acked": 0, "terminated": 0, "retried": 0,
                       "connections": 0}
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Connect, consume, and connect again whenever the connection is lost, until stopped."""
        delay = self.options.reconnect_min_s
        while not self._stopping.is_set():
            try:
                await self._consume()
                delay = self.options.reconnect_min_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the server gone, the connection closed, the stream missing
                log.warning("nats: %s; connecting again in %.1f s", _what(exc), delay)
                await self._sleep(delay)
                delay = min(delay * 2, self.options.reconnect_max_s)
            finally:
                await self._close()

    async def _consume(self) -> None:
        import nats
        from nats.js.api import AckPolicy, ConsumerConfig

        o = self.options
        self.connection = await nats.connect(o.servers, connect_timeout=5, max_reconnect_attempts=3,
                                             reconnect_time_wait=1, allow_reconnect=True,
                                             error_cb=_quiet, disconnected_cb=_none, closed_cb=_none)
        self.counts["connections"] += 1
        js = self.connection.jetstream()
        config = ConsumerConfig(durable_name=o.durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=o.ack_wait_s,
                                max_ack_pending=o.max_ack_pending, filter_subject=o.subject)
        subscription = await js.pull_subscribe(o.subject, durable=o.durable, stream=o.stream, config=config)
        log.info("nats: consuming %s (stream %s) as %s", o.subject, o.stream, o.durable)
        while not self._stopping.is_set():
            if self.connection.is_closed:
                raise ConnectionError("connection closed")
            try:
                messages = await subscription.fetch(o.batch, timeout=o.fetch_timeout_s)
            except nats.errors.TimeoutError:
                continue
            await self.handle(messages)

    async def handle(self, messages: Sequence[Any]) -> None:
        """Store the usable messages' settlements (one commit), then ack them; term the rest."""
        usable: list[tuple[Any, Stored]] = []
        for message in messages:
            self.counts["messages"] += 1
            where = _where(message, self.options.stream)
            try:
                settlements, reasons = settlements_of(message.data, self.card_key, self.ingest, self.options)
            except Malformed as exc:
                log.warning("nats: %s terminated: %s", where, exc)
                await message.term()
                self.counts["terminated"] += 1
                continue
            for reason in reasons:
                log.warning("nats: %s: %s (left out, the others stored)", where, reason)
            usable.append((message, (where, settlements)))
        if not usable:
            return
        try:
            await asyncio.to_thread(self.store, [stored for _, stored in usable])
        except Exception as exc:  # nothing committed: delivered again later
            log.warning("nats: %d messages not stored (%s); delivered again in %.0f s", len(usable), _what(exc),
                        self.options.retry_delay_s)
            for message, _ in usable:
                await message.nak(delay=self.options.retry_delay_s)
            self.counts["retried"] += len(usable)
            return
        for message, (_, settlements) in usable:
            await message.ack()
            self.counts["acked"] += 1
            self.counts["settlements"] += len(settlements)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    async def _close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None and not connection.is_closed:
            try:
                await connection.close()
            except Exception:  # closing a broken connection: nothing more to do
                pass


def _where(message: Any, stream: str) -> str:
    try:
        return f"nats stream {stream} seq {message.metadata.sequence.stream}"
    except Exception:
        return f"nats stream {stream}"


def _what(exc: BaseException) -> str:
    """An error's type and first line (a NATS error's text holds no message data)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


async def _quiet(exc: Exception) -> None:
    log.debug("nats: %s", _what(exc))


async def _none() -> None:
    return None
