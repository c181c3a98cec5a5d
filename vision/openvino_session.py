"""The part of an onnxruntime ``InferenceSession`` the detectors use (``get_inputs()``,
``run(None, {name: array})``), on OpenVINO's CPU plugin.

Why: on a CPU with native bfloat16 (Intel AMX or AVX-512 BF16) OpenVINO runs convolutions in
bfloat16 by default, which halves the pose model's cost (`rxaudit bench-models`: 15 ms -> 7 ms per
640x360 frame on one core of the 2-core Xeon this project runs on). On a CPU without it the plugin
runs float32, as fast as onnxruntime. The detections agree with onnxruntime's float32 ones (see
``vision/models/PROVENANCE.md``). The ONNX file is the same; nothing is converted or stored.

The model is compiled once per input shape (a fixed shape compiles to faster code than a dynamic
one); the audit sees one shape per camera resolution."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rxaudit.errors import ModelError
from vision.model_files import existing_model

MAX_SHAPES = 8  # compiled shapes kept (each ~10 MB); the oldest is dropped beyond this


@dataclass(frozen=True)
class InputInfo:
    name: str
    shape: list


class OpenVinoSession:
    def __init__(self, path: Path, threads: int) -> None:
        import openvino as ov

        path = existing_model(path)
        self._core = ov.Core()
        try:
            self._model = self._core.read_model(str(path))
        except Exception as exc:  # OpenVINO raises its own untyped errors for bad files
            raise ModelError(f"model file {path} cannot be loaded: {exc}") from exc
        self._config = {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"}
        (first,) = self._model.inputs
        self._input = InputInfo(first.get_any_name(), [d.get_length() if d.is_static else None
                                                       for d in first.get_partial_shape()])
        self._requests: dict[tuple[int, ...], object] = {}

    def get_inputs(self) -> list[InputInfo]:
        return [self._input]

    def _request(self, shape: tuple[int, ...]):
        request = self._requests.get(shape)
        if request is None:
            model = self._model.clone()
            model.reshape({self._input.name: list(shape)})
            request = self._core.compile_model(model, "CPU", self._config).create_infer_request()
            if len(self._requests) >= MAX_SHAPES:
                self._requests.pop(next(iter(self._requests)))
            self._requests[shape] = request
        return request

    def run(self, _outputs: None, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        (array,) = feed.values()
        request = self._request(tuple(array.shape))
        result = request.infer({0: array})
        return [np.array(result[i]) for i in range(len(result))]  # copies: the request reuses its buffers
