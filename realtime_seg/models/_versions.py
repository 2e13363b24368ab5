"""Converter constants that the model cache checks on every start, kept apart from the converter so that
checking the cache does not import ``onnx`` (0.7 s of start-up: its ``ml_dtypes`` dependency)."""

from __future__ import annotations

OPSET = 17
#: bump when the converter's output changes, so cached conversions can be told apart
CONVERTER_VERSION = "1"
