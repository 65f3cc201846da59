"""The training configuration: frozen dataclasses read from TOML (or JSON) plus dotted `key=value` overrides.

A config file mirrors the dataclasses: top-level keys, then `[model]`, `[data]`, `[optim]`, `[loss]` tables.
In `[model]`, `name` and `dropout` are ours; every other key is passed to `create_model(name, **overrides)`.
The resolved config is saved with each run as `config.json` (JSON: tuples become lists).
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poselift.errors import InputError

OPTIMIZERS = ("ranger", "adamw", "adam")
SCHEDULES = ("cosine", "exponential", "constant")
SCHEDULE_UNITS = ("step", "epoch")
DATA_KINDS = ("npz", "mocap", "h36m")
CAMERA_MODES = ("random", "h36m")
PRECISIONS = ("fp32", "bf16")
DEVICE_DATA = ("auto", "on", "off")
SYNTHESIS_PLACES = ("auto", "host", "device")
NON_NEGATIVE = (
    "max_windows_per_epoch", "max_val_windows", "max_steps", "checkpoint_every_steps", "checkpoint_every_epochs",
    "num_threads", "data.fps", "data.max_seconds", "optim.weight_decay", "optim.grad_clip", "loss.mpjpe",
    "loss.velocity", "loss.bone_length", "loss.trajectory",
)
"""Config keys that count or weigh something: 0 switches them off, a negative value means nothing."""
FRACTIONS = ("optim.lookahead_alpha", "optim.bn_momentum_start", "optim.bn_momentum_end")
"""Config keys that are shares in [0, 1]."""
MAX_FPS = 1000.0


@dataclass(frozen=True)
class ModelConfig:
    """Which network to train: a registered name (or `module:callable`) and its constructor overrides."""

    name: str = "atcn_243f"
    dropout: float | None = None
    """Dropout probability passed as `dropout=`; None keeps the model's default."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Further keyword arguments for create_model (channels, ...); in TOML written directly in [model]."""


@dataclass(frozen=True)
class DataConfig:
    """Where training and validation sequences come from; see poselift.training.data.build_sequences."""

    kind: str = "npz"
    """"npz" (our simple sequence files), "mocap" (BVH synthesised to 2D/3D pairs) or "h36m"."""
    train: tuple[str, ...] = ()
    """npz: files; mocap: BVH files or folders (searched recursively)."""
    val: tuple[str, ...] = ()
    """npz: files; mocap: BVH files or folders (optional: held-out styles of `train` are used otherwise)."""
    holdout_styles: tuple[str, ...] = ()
    """mocap: styles (file-name field) kept out of training and used for validation."""
    source: str = "auto"
    """mocap: skeleton mapping by source ("auto" detects it from the joint names, "bandai", "cmu")."""
    mapping: str = ""
    """mocap: a joint-mapping JSON file, which wins over `source` (see docs/data.md)."""
    cache_dir: str = ""
    """mocap: folder caching the mapped joints per BVH file (makes re-loading fast)."""
    cameras: str = "random"
    """mocap: "random" cameras around the subject or the 4 "h36m" cameras."""
    views_per_clip: int = 4
    noise: tuple[str, ...] = ("light",)
    """mocap: 2D detector noise level: "none", "light", "detector" or "heavy" (see docs/data.md); several
    make a mix: each synthesised view draws one of them, so one model learns clean and noisy 2D."""
    fps: float = 30.0
    """mocap: resample clips to this frame rate (0 keeps each file's rate)."""
    augment_proportions: bool = True
    """mocap: new body proportions and stature per clip (the mocap actors share one skeleton)."""
    height_range: tuple[float, ...] = (1.5, 1.95)
    """mocap: the statures (metres) that proportion augmentation draws from; [] keeps each clip's own size
    (the bone-length factors still vary it by a few per cent)."""
    speed_range: tuple[float, ...] = ()
    """mocap: play each training piece at a random speed, a factor log-uniform in [low, high] (e.g. [0.8, 1.25]);
    [] keeps the recorded speed. Validation always uses the recorded speed."""
    limb_rotation: float = 0.0
    """mocap: turn the limbs, head and upper body of each training piece by slowly drifting random rotations
    about their joints, per-axis standard deviation in degrees (e.g. 15; see docs/data.md): poses the
    recording never holds, bones unchanged. 0 turns nothing. Validation always uses the recorded poses."""
    arm_swap: float = 0.0
    """mocap: the share of training pieces (0 to 1) whose upper arms and forearms move as another training
    recording's do relative to its chest (docs/data.md); 0 borrows nothing. Validation uses the recorded poses."""
    max_seconds: float = 0.0
    """mocap: cut longer clips into pieces of at most this length, each with its own cameras (0: no cut)."""
    resynthesize: bool = True
    """mocap: draw fresh cameras, proportions and noise every epoch (seeded by the epoch), a cheap and
    strong augmentation."""
    synthesis: str = "auto"
    """mocap training data: where the views are filmed (projection, 2D noise): "host" (numpy), "device" (torch on
    the training device, all views of an epoch in a few batches; random cameras), "auto" ("device" on CUDA)."""
    data_3d: str = ""
    """h36m: the 3D poses file."""
    data_2d: str = ""
    """h36m: the 2D keypoints file (detections or ground truth)."""
    train_subjects: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
    val_subjects: tuple[str, ...] = ("S9", "S11")
    actions: tuple[str, ...] = ()
    """h36m: restrict to these actions (empty = all)."""
    downsample: int = 1
    """h36m: keep every k-th frame of the 50 fps sequences."""


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser, learning-rate schedule and batch-norm momentum decay."""

    name: str = "ranger"
    lr: float = 1e-3
    lr_end: float = 1e-5
    schedule: str = "cosine"
    schedule_unit: str = "step"
    """"step": the schedule advances every optimiser step; "epoch": once per epoch."""
    betas: tuple[float, float] = (0.95, 0.999)
    eps: float = 1e-5
    weight_decay: float = 0.0
    lookahead_k: int = 6
    lookahead_alpha: float = 0.5
    bn_momentum_start: float = 0.1
    bn_momentum_end: float = 0.001
    grad_clip: float = 0.0
    """Clip the gradients' global norm to this value (0: no clipping)."""


@dataclass(frozen=True)
class LossConfig:
    """Weights of the loss terms; a zero weight switches a term off."""

    mpjpe: float = 1.0
    velocity: float = 0.0
    bone_length: float = 0.0
    trajectory: float = 1.0
    """Weight of the trajectory model's loss (used only when `trajectory_model` is on)."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs; saved with the run so it can be repeated or resumed."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    epochs: int = 80
    batch_size: int = 1024
    """Global batch (windows per optimiser step); split across ranks in distributed runs."""
    flip_augment: bool = True
    trajectory_model: bool = False
    """Also train a second network of the same kind to predict the root's camera-frame position."""
    window_stride: int = 1
    """Use every k-th target frame per epoch (the phase rotates with the epoch, so all frames get used)."""
    max_windows_per_epoch: int = 0
    """Cap on windows per epoch after the stride (0: no cap); a random subset each epoch."""
    action_balance: float = 0.0
    """Even out how often each action is trained on: a window of an action with n frames is drawn with weight
    n ** -action_balance, with replacement (0: every frame equally, no reweighting; 1: every action equally)."""
    val_stride: int = 1
    max_val_windows: int = 0
    val_flip: bool = True
    """Evaluate with test-time flip averaging, as the paper reports."""
    seed: int = 0
    output_dir: str = "runs/default"
    checkpoint_every_steps: int = 0
    checkpoint_every_epochs: int = 1
    max_steps: int = 0
    """Stop after this many optimiser steps in all (0: train all epochs); a checkpoint is written then."""
    fast_training: bool = True
    """Train through the model's faster training form when it has one (poselift.models.fused.training_form:
    same parameters, function and gradients, about 2x the windows per second on a CPU)."""
    precision: str = "fp32"
    """"fp32", or "bf16": forward and backward under bfloat16 autocast (matmuls and convolutions in bfloat16;
    the weights, their gradients, the loss and the optimiser state stay float32). Validation runs in float32."""
    targets_per_window: int = 1
    """K > 1: each input is a run of rf + K - 1 frames giving K neighbouring target frames (the work before the
    first temporal gate shared between them: poselift.models.shared_targets); batch_size still counts target
    frames, so a step holds batch_size // K runs. The loss is the mean over all targets, as with K = 1."""
    device_data: str = "auto"
    """Where batches are gathered: "on" keeps the epoch's windows on the training device and cuts each batch
    there (no per-step host work), "off" gathers on the host with numpy, "auto" is "on" for CUDA."""
    num_threads: int = 0
    """torch intra-op threads (0: os.cpu_count(), divided among the processes of a distributed run)."""
    device: str = "auto"
    """"auto" (CUDA when available), "cpu" or "cuda"."""
    plot: bool = True
    """Write training-curves.png after each epoch (needs matplotlib)."""
    description: str = ""
    """Free text stored in the weights' metadata (what the model was trained on)."""
    init_weights: str = ""
    """Start from these weights (a shipped model name or a weights file) instead of a random start: fine-tuning.
    Their architecture must be the config's model (dropout aside); the optimiser and schedules start afresh."""

    def __post_init__(self) -> None:
        _check_choice("optim.name", self.optim.name, OPTIMIZERS)
        _check_choice("optim.schedule", self.optim.schedule, SCHEDULES)
        _check_choice("optim.schedule_unit", self.optim.schedule_unit, SCHEDULE_UNITS)
        _check_choice("data.kind", self.data.kind, DATA_KINDS)
        _check_choice("data.cameras", self.data.cameras, CAMERA_MODES)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("device_data", self.device_data, DEVICE_DATA)
        _check_choice("data.synthesis", self.data.synthesis, SYNTHESIS_PLACES)
        if self.data.synthesis == "device" and self.data.cameras != "random":
            raise InputError(None, "config key 'data.synthesis' = \"device\" needs data.cameras = \"random\"")
        if self.data.kind == "mocap":
            from poselift.data.synthesis import NOISE_LEVELS

            if not self.data.noise:
                raise InputError(None, "config key 'data.noise' needs at least one level")
            for level in self.data.noise:
                _check_choice("data.noise", level, tuple(NOISE_LEVELS))
        for key in ("epochs", "batch_size", "window_stride", "val_stride", "optim.lookahead_k", "targets_per_window"):
            if _get(self, key) < 1:
                raise InputError(None, f"config key '{key}' must be >= 1, found {_get(self, key)}")
        if self.batch_size // self.targets_per_window < 2:
            raise InputError(None, f"config key 'targets_per_window' ({self.targets_per_window}) leaves fewer than "
                             f"2 runs per batch of {self.batch_size} targets (batch norm needs 2)")
        if not 0.0 <= self.action_balance <= 1.0:
            raise InputError(None, f"config key 'action_balance' must be in [0, 1], found {self.action_balance}")
        if self.data.limb_rotation < 0:
            found = self.data.limb_rotation
            raise InputError(None, f"config key 'data.limb_rotation' must be >= 0 degrees, found {found}")
        if not 0.0 <= self.data.arm_swap <= 1.0:
            found = self.data.arm_swap
            raise InputError(None, f"config key 'data.arm_swap' must be in [0, 1], found {found}")
        for key in ("optim.lr", "optim.lr_end", "optim.eps"):
            if not _get(self, key) > 0:
                raise InputError(None, f"config key '{key}' must be > 0, found {_get(self, key)}")
        for key in NON_NEGATIVE:
            if _get(self, key) < 0:
                raise InputError(None, f"config key '{key}' must be >= 0, found {_get(self, key)}")
        for key in FRACTIONS:
            value = _get(self, key)
            if not 0.0 <= value <= 1.0:
                raise InputError(None, f"config key '{key}' must be in [0, 1], found {value}")
        if self.data.views_per_clip < 1 or self.data.downsample < 1:
            raise InputError(None, "config keys 'data.views_per_clip' and 'data.downsample' must be >= 1, found "
                                   f"{self.data.views_per_clip} and {self.data.downsample}")
        if self.data.fps > MAX_FPS:
            raise InputError(None, f"config key 'data.fps' must be at most {MAX_FPS:g}, found {self.data.fps}")
        if self.model.dropout is not None and not 0.0 <= self.model.dropout < 1.0:
            raise InputError(None, f"config key 'model.dropout' must be in [0, 1), found {self.model.dropout}")
        if not all(0.0 <= beta < 1.0 for beta in self.optim.betas):
            raise InputError(None, f"config key 'optim.betas' must be in [0, 1), found {list(self.optim.betas)}")
        for key, unit in (("data.height_range", "metres"), ("data.speed_range", "factors")):
            bounds = _get(self, key)
            if bounds and not (len(bounds) == 2 and 0 < bounds[0] <= bounds[1]):
                raise InputError(None, f"config key '{key}' must be [] or [low, high] {unit}, found {list(bounds)}")

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able data; `[model]` overrides are flattened into the model table."""
        data = _to_plain(dataclasses.asdict(self))
        overrides = data["model"].pop("overrides")
        data["model"].update(overrides)
        return data

    def to_json(self) -> str:
        """The resolved config as indented JSON text (what runs save as config.json)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"


def _check_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InputError(None, f"config key '{key}' must be one of {', '.join(choices)}; found '{value}'")


def _get(config: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        config = getattr(config, part)
    return config


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_plain(v) for v in value]
    return value


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Read a TOML or JSON config (or start from defaults when `path` is None) and apply `key=value` overrides."""
    data = _read_config_file(Path(path)) if path is not None else {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InputError(None, f"override '{item}' is not of the form key=value")
        _set_dotted(data, key.strip(), _OverrideText(raw.strip()))
    return config_from_dict(data, None if path is None else str(path))


def _read_config_file(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config file's tables; `base = "other.toml"` (relative to this file) starts from that file's, so a
    config that changes a few keys of another names only those."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(path, f"cannot read config: {error.strerror or error}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise InputError(path, f"not a valid {kind} config: {error}") from None
    if not isinstance(data, dict):
        raise InputError(path, f"a config must be a table of keys (a JSON object), found a {type(data).__name__}")
    base = data.pop("base", None)
    if base is None:
        return data
    base_path = path.parent / str(base)
    if base_path.resolve() in seen or base_path.resolve() == path.resolve():
        raise InputError(path, f"config 'base' chain loops back to {base_path}")
    return _merge(_read_config_file(base_path, (*seen, path.resolve())), data)


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` applied, table by table."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class _OverrideText(str):
    """A value typed on the command line: converted by the target field's type, not by TOML rules."""


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        sub = data.setdefault(part, {})
        if not isinstance(sub, dict):
            raise InputError(None, f"config key '{part}' is a value, not a table (in override '{key}')")
        data = sub
    data[parts[-1]] = value


def config_from_dict(data: dict[str, Any], source: str | None = None) -> TrainConfig:
    """Build a TrainConfig from nested plain data, converting every value to its field's type."""
    if not isinstance(data, dict):
        raise InputError(source, f"a config must be a table of keys, found a {type(data).__name__}")
    data = dict(data)
    model = data.pop("model", {}) or {}
    if not isinstance(model, dict):
        raise InputError(source, f"config key 'model' must be a table ([model] name = ...), found {model!r}")
    model = dict(model)
    overrides = model.pop("overrides", {}) or {}
    if not isinstance(overrides, dict):
        raise InputError(source, f"config key 'model.overrides' must be a table, found {overrides!r}")
    overrides = dict(overrides)
    known = {f.name for f in dataclasses.fields(ModelConfig)} - {"overrides"}
    for key in list(model):
        if key not in known:
            value = model.pop(key)
            overrides[key] = _literal(value) if isinstance(value, _OverrideText) else value
    model["overrides"] = overrides
    data["model"] = model
    return _build(TrainConfig, data, "", source)


def _build(cls: type, data: Any, prefix: str, source: str | None) -> Any:
    if not isinstance(data, dict):
        raise InputError(source, f"config key '{prefix.rstrip('.')}' must be a table")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            raise InputError(source, f"unknown config key '{prefix}{key}' (known: {', '.join(sorted(names))})")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value, f"{prefix}{key}.", source)
        else:
            kwargs[key] = _coerce(value, hint, f"{prefix}{key}", source)
    try:
        return cls(**kwargs)
    except InputError as error:
        raise InputError(source, error.problem) from None


def _literal(text: str) -> Any:
    """A command-line value parsed as a TOML literal when it is one (numbers, booleans, arrays), else the text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return str(text)


def _coerce(value: Any, hint: Any, key: str, source: str | None) -> Any:
    """Convert `value` to the field type `hint` (int, float, bool, str, tuple[...], dict, X | None)."""

    def fail() -> InputError:
        return InputError(source, f"config key '{key}' expects {_type_name(hint)}, found {value!r}")

    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], key, source)
    if hint is str:
        if isinstance(value, str):
            return str(value)
        raise fail()
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise fail()
    if hint is int:
        if isinstance(value, str):
            value = _literal(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise fail()
    if hint is float:
        if isinstance(value, str):
            value = _literal(value)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise fail()
    if origin is tuple:
        if isinstance(value, _OverrideText):
            parsed = _literal(value)
            value = parsed if isinstance(parsed, list) else [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            raise fail()
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], key, source) for v in value)
        if len(value) != len(args):
            raise fail()
        return tuple(_coerce(v, a, key, source) for v, a in zip(value, args, strict=True))
    if origin is dict:
        if isinstance(value, _OverrideText):
            value = _literal(value)
        if not isinstance(value, dict):
            raise fail()
        return {str(k): (_literal(v) if isinstance(v, _OverrideText) else v) for k, v in value.items()}
    raise fail()


def _type_name(hint: Any) -> str:
    if isinstance(hint, type):
        return hint.__name__
    return str(hint).replace("typing.", "")
