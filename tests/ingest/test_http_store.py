"""The https:// (here http://) store through fsspec: directory listings and Range reads, against a
loopback server (python's http.server, with the Range support it lacks added)."""

from __future__ import annotations

import os
import re
import threading
from datetime import timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ingest.stores import open_store
from ingest.video_store import segment_name
from tests.factories import T0
from tests.videos import make_clip
from vision.sampler import sample_window


class RangeHandler(SimpleHTTPRequestHandler):
    ranges = 0

    def log_message(self, *args) -> None:
        pass

    def send_head(self):
        match = re.match(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        path = self.translate_path(self.path)
        if not match or os.path.isdir(path):
            return super().send_head()
        size = os.path.getsize(path)
        start = int(match.group(1))
        end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
        fh = open(path, "rb")  # noqa: SIM115 - closed by copyfile's caller
        fh.seek(start)
        RangeHandler.ranges += 1
        self.send_response(206)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self._remaining = end - start + 1
        return _Limited(fh, end - start + 1)


class _Limited:
    def __init__(self, fh, n):
        self.fh, self.n = fh, n

    def read(self, size=-1):
        if self.n <= 0:
            return b""
        data = self.fh.read(self.n if size < 0 else min(size, self.n))
        self.n -= len(data)
        return data

    def close(self):
        self.fh.close()


@pytest.fixture
def http_store(tmp_path, make_settings):
    pytest.importorskip("aiohttp")
    make_clip(tmp_path / "P1" / "C1" / segment_name(T0), 30, fps=10, size=(320, 192))
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield open_store(f"http://127.0.0.1:{server.server_address[1]}", make_settings())
    server.shutdown()


def test_http_store_lists_and_reads_ranges(http_store):
    segments = http_store.list_segments("P1", "C1")
    assert [s.start for s in segments] == [T0]
    assert http_store.has_counter("P1", "C1") and not http_store.has_counter("P1", "C2")
    RangeHandler.ranges = 0
    got = sample_window(http_store, segments, T0 + timedelta(seconds=10), T0 + timedelta(seconds=12), 1.0)
    assert len(got.frames) == 3 and got.problems == []
    assert RangeHandler.ranges >= 1
