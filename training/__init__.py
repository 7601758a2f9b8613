"""Builds the bundled ONNX models and their manifests (PyTorch; not shipped in the installer)."""
