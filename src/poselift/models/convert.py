"""Converters from the community's released checkpoints to poselift's models.

Supported: the authors' attention network (`cpn.bin`, `gt.bin`, `--from liu2020`) and VideoPose3D
(`pretrained_h36m_cpn.bin`, `--from videopose3d`). Both are torch pickles with the weights under
`model_pos`; they also hold optimizer state and a pickled numpy RandomState, so they are read with
torch's weights-only unpickler plus exactly the numpy globals such a RandomState needs.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from poselift.errors import InputError
from poselift.models.attention import AttentionConfig
from poselift.models.videopose3d import VideoPose3DConfig

_DWSEP = {"DW_conv": "depthwise", "DW_bn": "depthwise_bn", "PW_conv": "pointwise", "PW_bn": "pointwise_bn"}
_KA_PARTS = {"0": "depthwise", "1": "depthwise_bn", "2": "grouped", "3": "grouped_bn"}
SOURCES = ("liu2020", "videopose3d")


def _numpy_random_state_globals() -> list:
    """The globals a pickled numpy RandomState needs (numpy 1.x and 2.x names), and nothing else."""
    import numpy as np
    import numpy.random._pickle as np_random_pickle

    try:
        reconstruct = np._core.multiarray._reconstruct  # numpy >= 2
    except AttributeError:  # pragma: no cover - numpy 1.x
        reconstruct = np.core.multiarray._reconstruct
    allowed: list = [
        (reconstruct, "numpy.core.multiarray._reconstruct"),
        (reconstruct, "numpy._core.multiarray._reconstruct"),
        np.ndarray,
        np.dtype,
        (np.dtype, "numpy.dtype"),
        np.random.RandomState,
        (np.random.RandomState, "numpy.random.mtrand.RandomState"),
        (np_random_pickle.__randomstate_ctor, "numpy.random._pickle.__randomstate_ctor"),
        (getattr(np.random, "__RandomState_ctor"), "numpy.random.__RandomState_ctor"),
        (np_random_pickle.__bit_generator_ctor, "numpy.random._pickle.__bit_generator_ctor"),
        (np.random.MT19937, "numpy.random._mt19937.MT19937"),
    ]
    for dtype_class in ("UInt32DType", "Float64DType", "Int64DType", "Int32DType"):
        if hasattr(np, "dtypes") and hasattr(np.dtypes, dtype_class):
            allowed.append((getattr(np.dtypes, dtype_class), f"numpy.dtypes.{dtype_class}"))
    return allowed


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a released checkpoint's model weights without unpickling arbitrary code."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    from poselift.array_files import check_zip_inflation

    check_zip_inflation(path)
    try:
        with torch.serialization.safe_globals(_numpy_random_state_globals()):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure is a bad input file
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(path, f"not a loadable weights-only torch checkpoint ({first_line})") from None
    state = checkpoint.get("model_pos", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(path, "no state dict of tensors under 'model_pos' (or at the top level)")
    if not all(isinstance(k, str) for k in state):
        raise InputError(path, "state dict keys must be parameter names (text)")
    for name, tensor in state.items():
        # A stored tensor must be backed by its own data: a broadcast view (stride 0) of a few bytes would
        # declare a huge layer that building the model then allocates in full.
        if tensor.numel() * tensor.element_size() > tensor.untyped_storage().nbytes():
            raise InputError(path, f"{name}: declares {list(tensor.shape)} but stores only "
                                   f"{tensor.untyped_storage().nbytes():,} bytes (a forged or broadcast tensor)")
    return {k.removeprefix("module."): v for k, v in state.items()}


def detect_source(state: dict[str, torch.Tensor]) -> str:
    """Tell which release a state dict comes from by its parameter names."""
    if any(k.startswith("layers_tem_att.") for k in state):
        return "liu2020"
    if "expand_bn.weight" in state and "expand_conv.weight" in state:
        return "videopose3d"
    raise ValueError("parameter names match neither the attention release nor VideoPose3D")


def _rename_liu2020(name: str) -> str:
    m = re.fullmatch(r"expand_conv\.(\d+)\.(\w+)\.(.+)", name)
    if m:
        k, part, rest = int(m[1]), m[2], m[3]
        prefix = "stem" if k == 0 else f"input_branches.{k - 1}"
        return f"{prefix}.{_DWSEP[part]}.{rest}"
    m = re.fullmatch(r"layers_conv\.(\d+)\.convs\.(\d+)\.(\d)\.(.+)", name)
    if m:
        return f"layers.{int(m[1]) // 2}.kernel_attention.branches.{m[2]}.{_KA_PARTS[m[3]]}.{m[4]}"
    m = re.fullmatch(r"layers_conv\.(\d+)\.fc\.(.+)", name)
    if m:
        return f"layers.{int(m[1]) // 2}.kernel_attention.squeeze.{m[2]}"
    m = re.fullmatch(r"layers_conv\.(\d+)\.fcs\.(\d+)\.(.+)", name)
    if m:
        return f"layers.{int(m[1]) // 2}.kernel_attention.excite.{m[2]}.{m[3]}"
    m = re.fullmatch(r"layers_conv\.(\d+)\.(weight|bias)", name)
    if m:
        return f"layers.{(int(m[1]) - 1) // 2}.pointwise.{m[2]}"
    m = re.fullmatch(r"layers_bn\.(\d+)\.(.+)", name)
    if m:
        return f"layers.{m[1]}.bn.{m[2]}"
    m = re.fullmatch(r"layers_tem_att\.(\d+)\.(.+)", name)
    if m:
        return f"gates.{m[1]}.linear.{m[2]}"
    m = re.fullmatch(r"layers_tem_bn\.(\d+)\.(.+)", name)
    if m:
        return f"gates.{m[1]}.bn.{m[2]}"
    m = re.fullmatch(r"dilation_conv\.(\d+)\.(\w+)\.(.+)", name)
    if m and int(m[1]) % 2 == 0:
        return f"skips.{int(m[1]) // 2}.dwsep.{_DWSEP[m[2]]}.{m[3]}"
    m = re.fullmatch(r"dilation_conv\.(\d+)\.(weight|bias)", name)
    if m:
        return f"skips.{int(m[1]) // 2}.pointwise.{m[2]}"
    m = re.fullmatch(r"dilation_bn\.(\d+)\.(.+)", name)
    if m:
        return f"skips.{m[1]}.bn.{m[2]}"
    m = re.fullmatch(r"shrink\.(.+)", name)
    if m:
        return f"head.{m[1]}"
    raise KeyError(name)


def _rename_videopose3d(name: str) -> str:
    m = re.fullmatch(r"expand_(conv|bn)\.(.+)", name)
    if m:
        return f"expand_{m[1]}.{m[2]}"
    m = re.fullmatch(r"layers_(conv|bn)\.(\d+)\.(.+)", name)
    if m:
        i = int(m[2])
        kind = "dilated" if i % 2 == 0 else "pointwise"
        suffix = "" if m[1] == "conv" else "_bn"
        return f"blocks.{i // 2}.{kind}{suffix}.{m[3]}"
    m = re.fullmatch(r"shrink\.(.+)", name)
    if m:
        return f"head.{m[1]}"
    raise KeyError(name)


def infer_liu2020_config(state: dict[str, torch.Tensor], causal: bool = False) -> AttentionConfig:
    """The attention architecture from the weight shapes (causality is not visible in weights)."""
    try:
        channels, cin = state["expand_conv.0.PW_conv.weight"].shape[:2]
        window = state["layers_tem_att.0.weight"].shape[1]
        out = state["shrink.weight"].shape[0]
        per_group = state["layers_conv.0.convs.0.2.weight"].shape[1]
        reduction = state["layers_conv.0.fc.weight"].shape[0]
    except KeyError as missing:
        raise ValueError(f"cannot infer the architecture: {missing.args[0]} is missing") from None
    branches = len({k.split(".")[3] for k in state if k.startswith("layers_conv.0.convs.")})
    return AttentionConfig(
        receptive_field=int(window), channels=int(channels), causal=causal,
        num_joints_in=int(cin) // 2, num_joints_out=int(out) // 3,
        kernel_branches=branches, kernel_groups=int(channels) // int(per_group), kernel_reduction=int(reduction),
        multi_scale=any(k.startswith("expand_conv.1.") for k in state),
    )


def infer_videopose3d_config(state: dict[str, torch.Tensor], causal: bool = False) -> VideoPose3DConfig:
    """VideoPose3D's filter widths and channels from the weight shapes."""
    expand = state["expand_conv.weight"]
    widths = [int(expand.shape[2])]
    i = 0
    while f"layers_conv.{2 * i}.weight" in state:
        widths.append(int(state[f"layers_conv.{2 * i}.weight"].shape[2]))
        i += 1
    return VideoPose3DConfig(
        filter_widths=tuple(widths), channels=int(expand.shape[0]), causal=causal,
        num_joints_in=int(expand.shape[1]) // 2, num_joints_out=int(state["shrink.weight"].shape[0]) // 3,
    )


def convert_state_dict(
    state: dict[str, torch.Tensor], source: str | None = None, causal: bool = False
) -> tuple[AttentionConfig | VideoPose3DConfig, dict[str, torch.Tensor]]:
    """Map a released state dict to (our config, our state dict)."""
    source = source or detect_source(state)
    if source == "liu2020":
        config, rename = infer_liu2020_config(state, causal), _rename_liu2020
    elif source == "videopose3d":
        config, rename = infer_videopose3d_config(state, causal), _rename_videopose3d
    else:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    try:
        renamed = {rename(k): v for k, v in state.items()}
    except KeyError as unknown:
        raise ValueError(f"unexpected parameter {unknown.args[0]!r} for a {source} checkpoint") from None
    return config, renamed


def load_released_checkpoint(path: str | Path, source: str | None = None, causal: bool = False) -> torch.nn.Module:
    """Read a released checkpoint and return our model with its weights, in eval mode."""
    from poselift.models.families import build_model
    from poselift.models.weights import check_shapes, planned_shapes

    state = read_checkpoint(path)
    try:
        config, renamed = convert_state_dict(state, source, causal)
    except (ValueError, RuntimeError, IndexError, KeyError, TypeError) as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(path, f"not a {source or 'known'} checkpoint ({detail[:160]})") from None
    check_shapes(planned_shapes(config, path), {k: tuple(v.shape) for k, v in renamed.items()}, path)
    try:
        model = build_model(config)
        model.load_state_dict(renamed, strict=True)
    except (ValueError, RuntimeError) as error:
        raise InputError(path, str(error).strip().splitlines()[0]) from None
    return model.eval()
