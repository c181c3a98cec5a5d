"""The S3 store against a real S3-speaking server on loopback (moto), with real HTTP in between."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from ingest.remote_store import FsspecVideoStore
from ingest.stores import open_store
from ingest.video_store import segment_name
from rxaudit.errors import FootageMissing, StoreError
from tests.s3 import FaultyProxy, upload_tree
from tests.videos import make_clip
from vision.sampler import sample_window

T0 = __import__("tests.factories", fromlist=["T0"]).T0


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    proxy = FaultyProxy((host, port))
    root = tmp_path_factory.mktemp("s3videos")
    make_clip(root / "P1" / "C1" / segment_name(T0), 60, fps=10, size=(320, 192))
    make_clip(root / "P1" / "C1" / segment_name(T0 + timedelta(seconds=60)), 60, fps=10, size=(320, 192))
    rng = np.random.default_rng(0)  # noise: a few MB, so that reading a window is a fraction of it
    make_clip(root / "P2" / "C1" / segment_name(T0), 30, fps=5, size=(320, 192),
              frames=[rng.integers(0, 255, (192, 320, 3), dtype=np.uint8) for _ in range(150)])
    client = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket="city")
    upload_tree(client, "city", "cctv", root)
    yield {"proxy": proxy, "client": client, "root": root}
    proxy.close()
    server.stop()


@pytest.fixture
def store(s3, monkeypatch, make_settings):
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    s3["proxy"].fail_markers.clear()
    settings = make_settings(s3_endpoint_url=s3["proxy"].url, store_retries=2, store_block_size=16 * 1024)
    return open_store("s3://city/cctv", settings)


def test_lists_segments_and_counters(store):
    assert isinstance(store, FsspecVideoStore)
    segments = store.list_segments("P1", "C1")
    assert [s.start for s in segments] == [T0, T0 + timedelta(seconds=60)]
    assert store.has_counter("P1", "C1") and not store.has_counter("P1", "C9")


def test_a_window_is_read_with_ranged_requests_not_whole_files(store, s3):
    s3["proxy"].bytes_out.clear()
    got = sample_window(store, store.list_segments("P2", "C1"), T0 + timedelta(seconds=20),
                        T0 + timedelta(seconds=22), 1.0)
    assert len(got.frames) == 3 and got.problems == []
    size = (s3["root"] / "P2" / "C1" / segment_name(T0)).stat().st_size
    fetched = sum(n for path, n in s3["proxy"].bytes_out.items() if segment_name(T0) in path.replace("%2B", "+"))
    assert 0 < fetched < 0.5 * size, (fetched, size)


def test_missing_object_is_footage_missing(store):
    with pytest.raises(FootageMissing):
        store.open("P1/C1/" + segment_name(T0 + timedelta(hours=1)))


def test_5xx_is_retried_a_bounded_number_of_times_then_unreadable(store, s3):
    name = segment_name(T0 + timedelta(seconds=60))
    s3["proxy"].fail_markers.add(name.replace("+", "%2B"))
    s3["proxy"].fail_markers.add(name)
    s3["proxy"].requests.clear()
    got = sample_window(store, store.list_segments("P1", "C1"), T0 + timedelta(seconds=70),
                        T0 + timedelta(seconds=74), 1.0)
    assert got.frames == [] and "unreadable" in got.problems[0]
    tries = sum(n for path, n in s3["proxy"].requests.items() if name in path.replace("%2B", "+"))
    assert 1 < tries <= 12  # bounded: the store's and botocore's retries, not forever


@pytest.mark.parametrize("uri", ["../other/x.mp4", "/etc/passwd", "P1//x.mp4"])
def test_paths_never_escape_the_bucket_prefix(store, uri):
    with pytest.raises(StoreError):
        store.open(uri)


def test_unsupported_scheme_is_a_clear_error(make_settings):
    with pytest.raises(StoreError, match="unsupported"):
        open_store("ftp://host/x", make_settings())
