"""`poselift export-onnx`: a model to ONNX, checked against PyTorch (needs the `onnx` extra)."""

from __future__ import annotations

import argparse

HELP = "export a model to ONNX (one window in, one pose out) and check it against PyTorch"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="shipped model name or weights file")
    parser.add_argument("--out", "-o", required=True, help="output .onnx")
    parser.add_argument("--no-check", action="store_true", help="skip the onnxruntime comparison")


def run(args: argparse.Namespace) -> int:
    from poselift.export.onnx import export_onnx
    from poselift.models.registry import load_model

    model = load_model(args.model)
    error = export_onnx(model, args.out, check=not args.no_check)
    message = f"{args.out}: exported, windows of {model.receptive_field} frames"
    if error is not None:
        message += f"; max |onnxruntime - torch| = {error:.2e} m"
    print(message)
    return 0
