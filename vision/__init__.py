"""Vision: frame sampling (PyAV), detectors (onnxruntime, dlib), tracking and keyframe drawing.

Vendor formats (PyAV frames, onnxruntime tensors, dlib rectangles) stop at this package's edges.
"""
