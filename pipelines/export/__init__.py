"""Exports of a trained model: the SavedModel that serves raw inputs, and ONNX / TFLite."""
