"""``rxaudit pull``: settlements published to a NATS JetStream stream, pulled into the live inbox by a
durable consumer (``ingest.jetstream``); each fetch is committed (``database.inbox.accept``) before
its messages are acknowledged."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Sequence

from cli.common import common, settings_from_args
from rxaudit.errors import InputError


def inbox_store(settings, sessions):
    """The consumer's ``store``: every message's settlements into the inbox, one transaction."""
    from database.engine import transaction
    from database.inbox import accept

    def store(messages: Sequence) -> None:
        with transaction(sessions) as session:
            for origin, settlements in messages:
                accept(session, settlements=settlements, source="nats", settings=settings, origin=origin)

    return store


def consumer_for(args: argparse.Namespace, settings, sessions):
    from ingest.fields import IngestOptions
    from ingest.jetstream import Consumer, PullOptions

    try:
        options = PullOptions(servers=args.nats, stream=args.stream, subject=args.subject, durable=args.durable,
                              batch=args.batch, ack_wait_s=args.ack_wait, max_bytes=settings.ingest_max_bytes,
                              max_records=settings.ingest_max_records)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    return Consumer(options, store=inbox_store(settings, sessions), card_key=settings.require_card_key(),
                    ingest=IngestOptions.from_settings(settings))


def cmd_pull(args: argparse.Namespace) -> int:
    from database.engine import make_engine, migrate, session_factory

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = settings_from_args(args)
    settings.require_card_key()
    engine = make_engine(settings.db_url)
    migrate(engine)
    consumer = consumer_for(args, settings, session_factory(engine))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, consumer.stop)
        await consumer.run()

    print(f"rxaudit pull: {args.subject} (stream {args.stream}) as durable {args.durable}; Ctrl+C stops")
    try:
        asyncio.run(main())
    finally:
        engine.dispose()
    counts = consumer.counts
    print(f"{counts['messages']} messages: {counts['acked']} stored and acknowledged "
          f"({counts['settlements']} settlements), {counts['terminated']} terminated, {counts['retried']} retried")
    return 0


def register(sub) -> None:
    p = sub.add_parser("pull", help="pull settlements from a NATS JetStream stream into the live inbox")
    p.add_argument("--nats", default="nats://127.0.0.1:4222", help="server URL(s), comma-separated")
    p.add_argument("--stream", required=True, help="the JetStream stream the platform publishes to")
    p.add_argument("--subject", required=True, help="the subject (filter) to consume")
    p.add_argument("--durable", required=True, help="the durable consumer's name (keeps the place)")
    p.add_argument("--batch", type=int, default=100, help="messages one fetch takes (1 to 1000)")
    p.add_argument("--ack-wait", dest="ack_wait", type=float, default=30.0,
                   help="seconds before an unacknowledged message is delivered again")
    common(p)
    p.set_defaults(func=cmd_pull)
