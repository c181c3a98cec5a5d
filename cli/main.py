"""The ``rxaudit`` command line: one parser, each command group registered by its module's
``register(subparsers)`` in the order listed here. Errors from the exception tree become one line and
an exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rxaudit.errors import EXIT_CODES, Busy, RxauditError, database_busy, lookup

DESCRIPTION = "The ``rxaudit`` command line. Errors from the exception tree become one line and an exit code."


def build_parser() -> argparse.ArgumentParser:
    # the command groups, in the order of ``rxaudit --help``; each module has ``register(subparsers)``
    # and none imports this one (imported here, not at the top: a command loads only what it runs)
    from benchmarks import ingest as bench_ingest, live as bench_live, log, memory, record as bench_record, records, sse
    from cli import (audit, bench, cases, clocks, drugs, goods_head, live, live_demo, models, pull, push, review,
                     record)

    parser = argparse.ArgumentParser(prog="rxaudit", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (audit, bench, review, cases, models, drugs, goods_head, log, records, sse, clocks, memory, record,
                  bench_record, live, push, pull, live_demo, bench_ingest, bench_live):
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RxauditError as exc:
        print(f"rxaudit: error: {exc}", file=sys.stderr)
        return lookup(EXIT_CODES, exc, 1)
    except Exception as exc:
        if not database_busy(exc):
            raise
        # another writer held the database past the busy timeout (SQLite) or lock_timeout
        # (PostgreSQL): what was committed stays, the step that failed changed nothing
        print(f"rxaudit: error: {Busy.__doc__} ({type(exc).__name__})", file=sys.stderr)
        return EXIT_CODES[Busy]


if __name__ == "__main__":
    raise SystemExit(main())
