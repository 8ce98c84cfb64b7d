"""Training and ONNX export of mgie's models (PyTorch). The runtime is TypeScript; see ../README.md."""
