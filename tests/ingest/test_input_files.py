"""An input that is not a regular file (a folder, /dev/zero behind a symlink, a named pipe) is refused
at once with an error naming it: reading /dev/zero used to hang an audit for ever, and opening a
pipe waits for a writer that never comes."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.csv_reader import read_text
from ingest.tables import open_table
from rxaudit.errors import InputError

DEADLINE_S = 5  # each case must end well within this (the refusal takes milliseconds)


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail (instead of hanging the test run) when the code under test does not finish in time."""
    def too_slow(signum, frame):
        raise TimeoutError(f"still reading after {DEADLINE_S} s")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(DEADLINE_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def make(kind: str, path: Path) -> None:
    if kind == "folder":
        path.mkdir()
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    else:
        os.mkfifo(path)


def read_table(path: Path) -> None:
    with open_table(path, required=("pharmacy_id",)) as rows:
        list(rows)


WORDS = {"folder": "is a folder", "dev-zero": "is a device", "fifo": "is a named pipe"}
CASES = [(name, kind) for name in ("purchases.csv", "stock.xlsx", "cameras.yaml") for kind in WORDS
         # (read whole, /dev/zero would fill the memory before any deadline if the check regressed)
         if (name, kind) != ("cameras.yaml", "dev-zero")]


@pytest.mark.parametrize("name, kind", CASES)
def test_an_input_that_is_not_a_regular_file_is_refused_at_once(tmp_path, deadline, name, kind):
    path = tmp_path / name
    make(kind, path)
    with pytest.raises(InputError) as info:
        read_text(path) if name.endswith(".yaml") else read_table(path)
    assert str(info.value) == f"{path}: {WORDS[kind]}, not a regular file; give the path of a file"


def test_a_missing_input_still_says_it_cannot_be_opened(tmp_path):
    with pytest.raises(InputError, match="purchases.csv: cannot open: No such file"):
        read_table(tmp_path / "purchases.csv")
