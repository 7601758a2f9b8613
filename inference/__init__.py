"""MammoLens AI engine: ONNX Runtime sessions, manifests, the two-stage pipeline, Grad-CAM."""
