"""Vision: frame sampling (PyAV), detectors (onnxruntime, OpenVINO, dlib), tracking, drawing, detect.
May import: rxaudit, ingest. Vendor formats (PyAV frames, tensors, dlib rectangles) stop at its edges."""
