"""``rxaudit clocks`` with the real person model on real footage (Intel sample-videos, CC BY 4.0):
a counter-day cut from real clips — real people (the head-pose clips, looped) at irregular times
over a real empty scene (a frame of the bottle clip, no people) — with swipes placed during the
real people's visits, on a camera clock 40 s fast that cameras.yaml does not know about."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

import av
import cv2
import numpy as np
import pytest

from ingest.video_store import segment_name
from cli.main import main
from tests.conftest import FOOTAGE, TEST_KEY
from tests.videos import make_clip
from vision.calibration import gif_frames

TZ = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=TZ)
FPS = 2
SIZE = (480, 270)


def empty_scene() -> np.ndarray:
    with av.open(str(FOOTAGE / "bottle-detection.mp4")) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    return cv2.resize(frame, SIZE, interpolation=cv2.INTER_AREA)


def real_counter_day(folder, offset: float) -> tuple[list[tuple[float, float]], list[float]]:
    """Writes the clip; returns the visits (camera clock, s) and the swipes' true times (s)."""
    people = [gif_frames(FOOTAGE / "head-pose-face-detection-male.gif"),
              gif_frames(FOOTAGE / "head-pose-face-detection-female.gif")]
    people = [[cv2.resize(np.asarray(f)[..., :3], SIZE) for f in clip] for clip in people]
    rng = random.Random(5)
    visits, t = [], 140.0
    for _ in range(12):
        visits.append((t, t + rng.uniform(14, 22)))
        t += rng.uniform(30, 75)
    seconds = visits[-1][1] + 140
    background = empty_scene()
    frames = []
    for k in range(int(seconds * FPS)):
        at = k / FPS
        inside = [i for i, (a, b) in enumerate(visits) if a <= at <= b]
        if inside:
            clip = people[inside[0] % 2]
            frames.append(clip[k % len(clip)])
        else:
            frames.append(background)
    make_clip(folder / "PH1" / "C1" / segment_name(T0), seconds, fps=FPS, size=SIZE, frames=frames)
    swipes = [(a + b) / 2 - offset for a, b in visits]  # true time: the camera shows it offset later
    return visits, swipes


@pytest.mark.slow
def test_clocks_on_real_footage_finds_the_unknown_offset(tmp_path, monkeypatch):
    videos = tmp_path / "videos"
    _, swipes = real_counter_day(videos, offset=40.0)
    lines = ["settlement_id,pharmacy_id,counter_id,settled_at,card_id,amount"]
    lines += [f"S{n},PH1,C1,{(T0 + timedelta(seconds=s)).isoformat()},CARD{n},9.00" for n, s in enumerate(swipes)]
    log = tmp_path / "settlements.csv"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("RXAUDIT_CARD_HASH_KEY", TEST_KEY)
    out = tmp_path / "clocks.json"
    assert main(["clocks", "--settlements", str(log), "--videos", str(videos), "--json", str(out),
                 "--db", f"sqlite:///{tmp_path}/rx.db"]) == 0
    (row,) = json.loads(out.read_text())["counters"]
    assert row["verdict"] == "suspect" and 36 <= row["best_offset_s"] <= 44, row
    assert row["agreement_best"] >= 0.9 and row["agreement_configured"] <= 0.4

    # the same swipes on the right clock: nothing to report
    lines = lines[:1] + [f"S{n},PH1,C1,{(T0 + timedelta(seconds=s + 40)).isoformat()},CARD{n},9.00"
                         for n, s in enumerate(swipes)]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["clocks", "--settlements", str(log), "--videos", str(videos), "--json", str(out),
                 "--db", f"sqlite:///{tmp_path}/rx.db"]) == 0
    (row,) = json.loads(out.read_text())["counters"]
    assert row["verdict"] == "ok" and abs(row["best_offset_s"]) <= 3, row
    assert row["agreement_configured"] >= 0.9
