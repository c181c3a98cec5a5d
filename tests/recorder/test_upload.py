"""``rxaudit record --videos s3://bucket/prefix`` against a real RTSP camera and a real S3-speaking
server on loopback (moto, in a bucket of its own: moto keeps one state per process), with real HTTP
in between (a proxy that can answer 503): segments are uploaded whole, the audit's S3 store lists and
reads them, and while the store is unreachable they wait on the recorder's disk up to a bound, the gap
and the health saying why, then catch up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cli.main import main
from database.engine import make_engine, migrate, session_factory
from database.models import CameraGapRow, CameraHealthRow
from ingest.stores import open_store
from recorder.reader import RecorderOptions
from recorder.retention import sweep
from recorder.supervisor import Recorder
from recorder.upload import ObjectTarget, Uploader, UploadOptions
from tests.recorder.conftest import camera, probe, wait_for
from tests.s3 import FaultyProxy

AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3():
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    proxy = FaultyProxy((host, port))
    client = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket="recorded")
    yield {"proxy": proxy, "client": client}
    proxy.close()
    server.stop()


@pytest.fixture
def aws(monkeypatch, s3):
    for k, v in AWS.items():
        monkeypatch.setenv(k, v)
    s3["proxy"].fail_markers.clear()


def objects(client, prefix: str) -> list[str]:
    listed = client.list_objects_v2(Bucket="recorded", Prefix=prefix)
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_record_into_s3_and_the_audit_store_reads_it(tmp_path, cameras_up, s3, aws, monkeypatch, make_settings):
    cam = cameras_up()
    cams = tmp_path / "cameras.yaml"
    cams.write_text(f"pharmacies:\n  P1:\n    counters:\n      C1: {{stream: '{cam.url()}'}}\n", encoding="utf-8")
    monkeypatch.setenv("RXAUDIT_S3_ENDPOINT_URL", s3["proxy"].url)
    spool = tmp_path / "spool"
    code = main(["record", "--cameras", str(cams), "--videos", "s3://recorded/cctv", "--spool", str(spool),
                 "--db", f"sqlite:///{tmp_path}/rec.db", "--evidence-dir", str(tmp_path / "evidence"),
                 "--segment-s", "3", "--duration", "14"])
    assert code == 0
    assert not list(spool.rglob("*.mp4")), "every segment uploaded, then removed from the spool"
    keys = objects(s3["client"], "cctv/P1/C1/")
    assert len(keys) >= 3, keys
    # the audit's own S3 store finds them, named from the recorder's clock, and reads them whole
    store = open_store("s3://recorded/cctv", make_settings(s3_endpoint_url=s3["proxy"].url))
    segments = store.list_segments("P1", "C1")
    assert [f"cctv/{s.uri}" for s in segments] == keys
    assert all(abs((s.start - datetime.now(UTC)).total_seconds()) < 60 for s in segments)
    for segment in segments[:-1]:  # the last one ends where the recorder stopped
        local = tmp_path / "got.mp4"
        with store.open(segment.uri) as remote:
            local.write_bytes(remote.read())
        duration, frames, width, height = probe(local)
        assert abs(duration - 3) <= 0.2 and (width, height) == (640, 360)


def test_an_unreachable_store_keeps_segments_on_disk_up_to_a_bound_then_catches_up(
        tmp_path, cameras_up, footage, s3, aws, make_settings):
    # a mount per counter: two clients opening one shared mount at once once hung the test camera (CI)
    cam = cameras_up({"cam0": footage["long"], "cam1": footage["long"]})
    proxy = s3["proxy"]
    settings = make_settings(s3_endpoint_url=proxy.url, store_retries=0)
    target = ObjectTarget(open_store("s3://recorded/down", settings))
    cameras = [camera(cam.url("cam0"), counter="C1"), camera(cam.url("cam1"), counter="C2")]
    spool = tmp_path / "spool"
    uploader = Uploader(target, spool, cameras, UploadOptions(spool_max_segments=3, backoff_min_s=0.2,
                                                              backoff_max_s=1), shown="s3://recorded/down")
    engine = make_engine(f"sqlite:///{tmp_path}/rec.db")
    migrate(engine)
    factory = session_factory(engine)
    options = RecorderOptions(segment_s=2, stall_s=3, open_s=6, backoff_min_s=0.5, backoff_max_s=2,
                              health_every_s=0.5, tamper=None)
    recorder = Recorder(cameras, spool, options, factory, uploader)
    proxy.fail_markers.add("/recorded/down")  # every request for this store: 503
    recorder.start()
    try:
        def refused():
            snaps = {s.key: s for s in recorder.snapshots()}
            return all(s.state == "store_failing" for s in snaps.values()) and snaps
        snaps = wait_for(refused, 30)
        assert snaps, recorder.snapshots()
        for key in ("P1/C1", "P1/C2"):  # the readers recorded on into the spool, up to its bound
            assert len(list((spool / key).glob("*.mp4"))) == 3
            assert "cannot upload to s3://recorded/down" in snaps[key].detail
            assert "3 segment(s) wait on the recorder's disk" in snaps[key].detail
        assert objects(s3["client"], "down/") == []
        recorder.flush()
        with factory() as session:
            gaps = session.scalars(select(CameraGapRow)).all()
            assert {g.counter_id for g in gaps} == {"C1", "C2"}
            assert all(g.end is None and g.reason.startswith("cannot upload to s3://recorded/down") for g in gaps)
            health = session.get(CameraHealthRow, ("P1", "C1"))
            assert health.state == "store_failing" and "waiting to upload" in health.detail
        proxy.fail_markers.clear()  # the store is back: the spool drains and recording resumes
        assert wait_for(lambda: len(objects(s3["client"], "down/P1/C1/")) >= 5, 30)
        assert wait_for(lambda: all(s.state == "recording" for s in recorder.snapshots()), 20)
    finally:
        recorder.stop()
    with factory() as session:
        gaps = session.scalars(select(CameraGapRow)).all()
        assert all(g.end is not None for g in gaps), "the gaps closed once recording resumed"
    assert uploader.failures > 0 and uploader.uploaded >= 8  # the 6 that waited, and C1 recording on
    # retention on S3: objects older than retention_days are deleted (none here is)
    assert sweep(spool, cameras, 1, factory, now=datetime.now(UTC), target=target).deleted == []
    swept = sweep(spool, cameras, 1, factory, now=datetime.now(UTC) + timedelta(days=2), target=target)
    assert len(swept.deleted) == uploader.uploaded and objects(s3["client"], "down/") == []


def test_what_a_killed_recorder_left_in_the_spool_is_uploaded_at_the_next_start(tmp_path, footage, s3, aws,
                                                                                make_settings):
    """The spool is the queue: complete segments waiting there (a recorder killed before uploading
    them) go up when an uploader starts; a half-written one aside never does."""
    from ingest.video_store import segment_name

    spool = tmp_path / "spool"
    start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    waiting = [spool / "P1" / "C1" / segment_name(start + timedelta(seconds=10 * k)) for k in range(3)]
    for path in waiting:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(footage["small"].read_bytes()[:200_000])
    aside = spool / ".recording" / "P1" / "C1" / "0123.mp4.part"
    aside.parent.mkdir(parents=True)
    aside.write_bytes(b"half")
    settings = make_settings(s3_endpoint_url=s3["proxy"].url)
    uploader = Uploader(ObjectTarget(open_store("s3://recorded/restart", settings)), spool, [camera("rtsp://x/1")])
    uploader.start()
    try:
        assert wait_for(lambda: uploader.backlog() == 0 and uploader.uploaded == 3, 20)
    finally:
        uploader.stop()
    assert objects(s3["client"], "restart/") == [f"restart/P1/C1/{p.name}" for p in waiting]
    assert not list((spool / "P1").rglob("*.mp4")) and aside.exists()
    got = s3["client"].get_object(Bucket="recorded", Key=f"restart/P1/C1/{waiting[0].name}")["Body"].read()
    assert got == footage["small"].read_bytes()[:200_000]
