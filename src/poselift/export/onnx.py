"""ONNX export of a lifting network (one window in, one pose out), checked against PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from poselift.atomic import atomic_path
from poselift.errors import PoseliftError


def export_onnx(model: nn.Module, path: str | Path, check: bool = True, opset: int = 17) -> float | None:
    """Write `model` as ONNX with a dynamic batch axis; return max |onnxruntime - torch| when checked."""
    model = model.eval()
    cfg = model.config
    example = torch.randn(4, model.receptive_field, cfg.num_joints_in, cfg.in_features) * 0.3
    with atomic_path(path, suffix=".onnx") as tmp:
        torch.onnx.export(
            model, (example,), str(tmp), input_names=["keypoints_2d"], output_names=["poses_3d"],
            dynamic_axes={"keypoints_2d": {0: "batch"}, "poses_3d": {0: "batch"}}, opset_version=opset,
            dynamo=False,
        )
    if not check:
        return None
    try:
        import onnxruntime
    except ImportError as error:
        raise PoseliftError("onnxruntime is not installed: pip install 'poselift[onnx]'") from error
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probe = torch.randn(3, model.receptive_field, cfg.num_joints_in, cfg.in_features) * 0.3
    (onnx_out,) = session.run(None, {"keypoints_2d": probe.numpy()})
    with torch.no_grad():
        torch_out = model(probe).numpy()
    return float(np.abs(onnx_out - torch_out).max())
