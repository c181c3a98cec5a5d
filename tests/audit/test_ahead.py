"""Items made ahead in a thread: in order, the next one made while the consumer is busy with the
last, an error raised where its item would have come, the thread stopped when the consumer stops."""

from __future__ import annotations

import threading

import pytest

from audit import ahead
from rxaudit.domain import CheckResult, CheckStatus
from audit.persist import pharmacy_chunks
from tests.factories import settlement

WAIT_S = 10  # generous: the test fails only if the item is never made meanwhile


def test_items_come_in_order_from_another_thread():
    makers = []

    def items():
        for n in range(50):
            makers.append(threading.current_thread())
            yield n

    assert list(ahead.made_ahead(items(), depth=3)) == list(range(50))
    assert set(makers) != {threading.current_thread()}


def test_the_next_item_is_made_while_the_consumer_is_busy_with_the_last():
    second_started = threading.Event()

    def items():
        yield 1
        second_started.set()
        yield 2

    made = ahead.made_ahead(items())
    assert next(made) == 1
    assert second_started.wait(WAIT_S)  # made while we hold the first (sequentially: never)
    assert list(made) == [2]


def test_an_error_making_an_item_is_raised_where_it_would_have_come():
    def items():
        yield 1
        raise ZeroDivisionError("rule failed")

    made = ahead.made_ahead(items())
    assert next(made) == 1
    with pytest.raises(ZeroDivisionError, match="rule failed"):
        next(made)


def test_a_consumer_that_stops_early_stops_the_thread_and_closes_the_items():
    closed = threading.Event()

    def items():
        try:
            n = 0
            while True:
                n += 1
                yield n
        finally:
            closed.set()

    before = threading.active_count()
    made = ahead.made_ahead(items(), depth=2)
    assert next(made) == 1
    made.close()
    assert closed.is_set() and threading.active_count() == before


def test_the_rules_make_the_next_pharmacy_chunk_while_the_last_one_is_written():
    fifth_made = threading.Event()

    def results():  # what the rules make: three settlements a pharmacy
        for n in range(10):
            if n == 5:
                fifth_made.set()
            yield CheckResult(settlement(n, pharmacy=f"P{n // 3}"), CheckStatus.CLEAN, (), {})

    chunks = pharmacy_chunks(results(), size=2, ahead=True)
    first = next(chunks)  # being written: the rules go on meanwhile (sequentially: stopped at the 4th)
    assert fifth_made.wait(WAIT_S)
    assert [[r.settlement.pharmacy_id for r in c] for c in [first, *chunks]] == [
        ["P0", "P0", "P0"], ["P1", "P1", "P1"], ["P2", "P2", "P2"], ["P3"]]
