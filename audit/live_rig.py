"""The live audit's rig (``rxaudit live-demo``, ``rxaudit bench-live``): a sample bundle played live.

- **Cameras**: one GStreamer RTSP test camera process serving, per counter, an MP4 that shows the
  bundle's footage on the replay's clock (:mod:`sample_footage.live_footage`, built once and kept in
  ``footage/<key>/``: the file depends on the bundle, the cut idle stretches and the length, never on
  the wall clock). Stream time 0 plays when the recorder connects.
- **Processes**: ``rxaudit record`` (into ``videos/``, snapshots for the wall), ``rxaudit live`` (the
  workers) and ``rxaudit serve``, each a child process logging to ``logs/<name>.log``, stopped together.
- **The clock**: a counter's stream starts when the recorder opens it; its first segment in the store
  is named by the recorder's clock at that first frame. Each settlement is pushed at
  ``stream start of its counter + (its replay time - the replay's stream start)``, so the picture and the
  swipe meet (to the second the segment names carry).
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from ingest.video_store import parse_segment_name
from rxaudit.errors import ConfigError
from sample_footage.live_footage import FOOTAGE_VERSION, CounterCamera, bundle_cameras, write_demo_footage
from sample_footage.replay import BundleLog, Laps, Replay, footage_spans, lap_record, read_bundle

REF = datetime(2000, 1, 1, tzinfo=UTC)
ZONE_KEYS = ("zone", "goods_zone", "display_zone")  # the reference wall clock the footage files are built on
# the rig plays the bundle at whatever hour it is started: business hours round the clock, so that
# ``off_hours`` (a rule on the log's clock, not on the picture) does not flag every swipe of a night run
ROUND_THE_CLOCK = "00:00-23:59:59.999999"


@dataclass
class Plan:
    """The bundle replayed: its cameras, settlements and the replay on the reference clock (stream time
    0 = ``REF``, the first swipe at ``REF + lead_s``)."""

    bundle: Path
    seed: int
    cameras: list[CounterCamera]
    log: BundleLog
    replay: Replay | Laps
    lead_s: float
    seconds: float
    max_idle_s: float | None
    own_clock: bool = False  # one counter on a clock of its own
    swipe_window_s: float | None = None  # only footage this close to a swipe kept (the rest cut as idle)

    @property
    def lap_s(self) -> float | None:
        return self.replay.length.total_seconds() if isinstance(self.replay, Laps) else None

    @property
    def key(self) -> str:
        own = "-own" if self.own_clock else ""
        laps = f"-lap{self.lap_s:g}" if self.lap_s else ""
        near = f"-near{self.swipe_window_s:g}" if self.swipe_window_s else ""
        return (f"v{FOOTAGE_VERSION}-seed{self.seed}-lead{self.lead_s:g}-idle{self.max_idle_s}"
                f"-len{self.seconds:g}{own}{laps}{near}")

    def stream_time(self, at: datetime) -> float:
        """Stream seconds (from the stream's start) at which bundle time ``at`` is shown."""
        return (self.replay.wall(at) - REF).total_seconds()

    def settlements(self) -> list[tuple[float, dict[str, Any]]]:
        """(stream seconds, the record) of every settlement inside the footage's length, in time order
        (played in laps: each lap's copies, :func:`~sample_footage.replay.lap_record`)."""
        out = []
        laps = int(self.seconds // self.lap_s) + 1 if self.lap_s else 1  # every lap starting inside the files
        for lap in range(laps):
            shift = lap * (self.lap_s or 0.0)
            for s in self.log.settlements:
                t = self.stream_time(s.at) + shift
                if 0 <= t <= self.seconds - 15:  # its footage (swipe + after) is inside the files
                    out.append((t, lap_record(s.record, lap)))
        return sorted(out, key=lambda x: x[0])


def plan(bundle: Path, *, lead_s: float, seconds: float, max_idle_s: float | None,
         only: CounterCamera | None = None, laps: bool = False, swipe_window_s: float | None = None) -> Plan:
    """The whole bundle on one clock, or (``only``) one counter's settlements and footage on a clock of
    its own (its idle stretches cut: a busy counter, for the benchmark). ``laps``: played again and
    again for ``seconds`` (a lap: up to the end of its last footage or swipe, plus ``max_idle_s``).
    ``swipe_window_s``: footage farther than this from every swipe counts as idle (cut to ``max_idle_s``):
    the stretches of a bundle's recording where no one pays (an audit decodes ``window_before_s`` before
    a swipe and ``window_after_s`` after it, well inside the default 30 s)."""
    expected = json.loads((bundle / "expected.json").read_text(encoding="utf-8"))
    log = read_bundle(bundle)
    cameras = bundle_cameras(bundle, expected)
    pattern = "*/*/*.mp4"
    if only is not None:
        log = BundleLog([s for s in log.settlements if (s.record["pharmacy_id"], s.record["counter_id"])
                         == (only.pharmacy_id, only.counter_id)], log.skipped)
        cameras, pattern = [only], f"{only.pharmacy_id}/{only.counter_id}/*.mp4"
    if not log.settlements:
        raise ConfigError(f"{bundle}: no settlement to replay")
    if swipe_window_s is None:
        busy = footage_spans(bundle / "videos", pattern=pattern) + [(s.at, s.at + timedelta(seconds=1))
                                                                    for s in log.settlements]
    else:
        near = timedelta(seconds=swipe_window_s)
        busy = [(s.at - near, s.at + near) for s in log.settlements]
    replay: Replay | Laps = Replay.plan(log.settlements[0].at, REF + timedelta(seconds=lead_s),
                                        max_idle_s=max_idle_s, busy=busy)
    if laps:
        end = replay.wall(max(b for _, b in busy)) + timedelta(seconds=max_idle_s or 0.0)
        replay = Laps(replay, REF, end - REF)
    return Plan(bundle, int(expected.get("seed", 0)), cameras, log, replay, lead_s, seconds, max_idle_s,
                own_clock=only is not None, swipe_window_s=swipe_window_s)


def build_footage(p: Plan, folder: Path, log=print) -> dict[str, Path]:
    """Each counter's demo MP4 (built once per plan key), by mount name."""
    out, where = {}, folder / p.key
    for cam in p.cameras:
        path = where / cam.file_name
        if not path.exists():
            started = time.monotonic()
            counts = write_demo_footage(p.bundle, cam, p.replay, REF, p.seconds, path, p.seed)
            log(f"  camera {cam.pharmacy_id}/{cam.counter_id}: {p.seconds:g} s of footage "
                f"({counts['bundle']} bundle frames, {counts['empty']} empty-counter frames) "
                f"in {time.monotonic() - started:.0f} s")
        out[cam.mount] = path
    return out


def cameras_yaml(bundle: Path, counters: list[tuple[str, CounterCamera]], port: int, path: Path) -> Path:
    """The bundle's cameras.yaml for ``counters`` ((pharmacy id, the bundle's camera it plays): a
    pharmacy id of its own takes the bundle pharmacy's configuration), each counter's stream on the test
    camera and no clock offset (the demo footage plays on the true clock, which segment names carry);
    business hours round the clock (``ROUND_THE_CLOCK``)."""
    config = yaml.safe_load((bundle / "cameras.yaml").read_text(encoding="utf-8")) or {}
    source = config.get("pharmacies") or {}
    config.setdefault("defaults", {})["business_hours"] = ROUND_THE_CLOCK
    pharmacies: dict[str, Any] = {}
    for pharmacy_id, cam in counters:
        entry = pharmacies.setdefault(pharmacy_id, copy.deepcopy({k: v for k, v in (source.get(cam.pharmacy_id) or {})
                                                                  .items() if k not in ("counters", "business_hours")}))
        # a counter listed in cameras.yaml does not inherit the defaults' zones (ingest.cameras): copied here
        counter = {k: copy.deepcopy(v) for k, v in (config.get("defaults") or {}).items() if k in ZONE_KEYS}
        counter.update(copy.deepcopy(((source.get(cam.pharmacy_id) or {}).get("counters") or {}).get(cam.counter_id)
                                     or {}))
        counter.pop("clock_offset_s", None)
        counter["stream"] = f"rtsp://127.0.0.1:{port}/{pharmacy_id}_{cam.counter_id}"
        entry.setdefault("counters", {})[cam.counter_id] = counter
    config["pharmacies"] = pharmacies
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def demo_env(root: Path) -> dict[str, str]:
    """The children's environment: the card-hash key the settings have (environment, ``.env``), else the
    demo's own (kept in ``card_hash_key`` in the demo folder, readable only by its owner)."""
    from rxaudit.settings import load_settings

    env = dict(os.environ)
    configured = load_settings().card_hash_key.get_secret_value()
    if len(configured) >= 16:
        env["RXAUDIT_CARD_HASH_KEY"] = configured
    else:
        keyfile = root / "card_hash_key"
        if not keyfile.exists():
            keyfile.write_text(secrets.token_urlsafe(24), encoding="utf-8")
            keyfile.chmod(0o600)
        env["RXAUDIT_CARD_HASH_KEY"] = keyfile.read_text(encoding="utf-8").strip()
    return env


@dataclass
class Children:
    """Child processes started together, stopped together (SIGTERM, then SIGKILL after ``grace_s``)."""

    logs: Path
    env: dict[str, str]
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{name}.log", "ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "cli.main", *args], stdout=out, stderr=subprocess.STDOUT,
                                    env=self.env, start_new_session=True)  # Ctrl-C reaches us, we stop them
        self.procs[name] = proc
        return proc

    def check(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise ConfigError(f"{name} stopped (exit {proc.returncode}); see {self.logs / (name + '.log')}")

    def stop(self, grace_s: float = 10.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def stream_starts(videos: Path, cameras: list[CounterCamera], *, timeout_s: float, check=lambda: None,
                  since: datetime | None = None) -> dict[str, datetime]:
    """Each counter's stream start: the name of its first segment in the store at or after ``since``
    (a second before it: names are whole seconds), waiting for them."""
    floor = None if since is None else since - timedelta(seconds=1)
    found: dict[str, datetime] = {}
    deadline = time.monotonic() + timeout_s
    while len(found) < len(cameras) and time.monotonic() < deadline:
        check()
        for cam in cameras:
            if cam.mount in found:
                continue
            names = [n for n in (parse_segment_name(f.name) for f in
                                 (videos / cam.pharmacy_id / cam.counter_id).glob("*.mp4"))
                     if n is not None and (floor is None or n >= floor)]
            if names:
                found[cam.mount] = min(names)
        time.sleep(0.5)
    missing = [c.mount for c in cameras if c.mount not in found]
    if missing:
        raise ConfigError(f"no recorded segment within {timeout_s:g} s for {', '.join(missing)} "
                          "(see logs/record.log)")
    return found


def timed_settlements(p: Plan, starts: dict[str, datetime]) -> list[tuple[datetime, dict[str, Any]]]:
    """Every settlement at its wall time: its counter's stream start + its stream time; settled_at alike."""
    out = []
    for t, record in p.settlements():
        mount = f"{record['pharmacy_id']}_{record['counter_id']}"
        base = starts.get(mount) or min(starts.values())  # a counter without footage: the earliest start
        when = base + timedelta(seconds=t)
        shifted = dict(record)
        offset = datetime.fromisoformat(record["settled_at"]).tzinfo
        shifted["settled_at"] = when.astimezone(offset).isoformat(timespec="milliseconds")
        out.append((when, shifted))
    out.sort(key=lambda r: r[0])
    return out


def wait_http(url: str, timeout_s: float, check=lambda: None) -> None:
    """Until ``url`` answers (a child's ``check`` raising when it died meanwhile)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        check()
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise ConfigError(f"the server did not answer at {url} within {timeout_s:g} s")


def fresh_run(root: Path, db_url: str) -> None:
    """A demo run starts from nothing of the last one (its database file when it is the demo's own
    SQLite file, videos, evidence, logs); the bundle and the camera files stay."""
    for name in ("videos", "evidence", "logs"):
        shutil.rmtree(root / name, ignore_errors=True)
    own = f"sqlite:///{root}/"
    if db_url.startswith(own):
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(db_url[len("sqlite:///"):] + suffix).unlink(missing_ok=True)


def check_port_free(port: int, host: str = "127.0.0.1") -> None:
    """A server already on the port would answer for ours (and ours would not start)."""
    import socket

    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"port {port} on {host} is in use (another rxaudit serve?): choose --port") from exc
