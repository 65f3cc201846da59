"""The Lifter: 2D keypoint sequences in, root-relative 3D poses out, for whole videos and live streams.

Whole sequences are padded at both ends by repeating the edge frame (causal models only at the start),
so every input frame gets a pose. Attention models run one window per output frame, in batches;
VideoPose3D runs in its full-sequence form, in chunks. Flip averaging (on by default) also lifts the
mirrored input and averages it, mirrored back, with the direct output. Roll averaging (`roll_tta`, off by
default) does the same with the 2D turned about the image centre by +-roll_tta degrees, which is the view of
a camera rolled about its optical axis, and turns the 3D outputs back.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from poselift.camera import normalize_screen_coordinates
from poselift.errors import InputError
from poselift.geometry.euler import axis_rotation
from poselift.skeleton import H36M17, SKELETONS, Skeleton, flip_average, mirror_poses

LIFT_PRECISIONS = ("fp32", "tf32", "bf16")


@contextlib.contextmanager
def _tf32(enabled: bool) -> Iterator[None]:
    """CUDA matmuls and cuDNN convolutions with TF32 on or off inside the block (torch's global switches)."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def validate_keypoints(keypoints_2d: np.ndarray, num_joints: int, source: str | Path | None = None) -> np.ndarray:
    """Check a (T, J, 2) keypoint array and return it as float32; raise InputError naming `source`."""
    array = np.asarray(keypoints_2d)
    if array.ndim != 3 or array.shape[-1] != 2:
        raise InputError(source, f"expected keypoints of shape (T, {num_joints}, 2), found {array.shape}")
    if array.shape[1] != num_joints:
        raise InputError(source, f"expected {num_joints} joints per frame, found {array.shape[1]}")
    if array.shape[0] == 0:
        raise InputError(source, "no frames")
    if not np.issubdtype(array.dtype, np.number):
        raise InputError(source, f"keypoints must be numbers, found dtype {array.dtype}")
    if not np.isfinite(array).all():
        bad = np.unique(np.nonzero(~np.isfinite(array))[0])
        raise InputError(source, f"keypoints contain NaN or infinite values in {len(bad)} frames (first: {bad[0]})")
    return array.astype(np.float32, copy=False)


def _skeleton_of(model: nn.Module) -> Skeleton:
    layout = getattr(model, "meta", {}).get("joint_layout", "h36m17")
    skeleton = SKELETONS.get(layout, H36M17)
    if skeleton.num_joints != model.config.num_joints_out:
        raise ValueError(f"joint layout {layout} does not fit a model with {model.config.num_joints_out} joints")
    return skeleton


class Lifter:
    """Lift 2D keypoints (normalised screen coordinates) to root-relative 3D poses (metres, camera frame).

    `model` is a shipped model name, a weights file, a module, or None for the default shipped model.
    """

    def __init__(
        self,
        model: str | Path | nn.Module | None = None,
        flip: bool = True,
        batch_size: int = 1024,
        device: str | torch.device = "cpu",
        chunk_frames: int = 8192,
        optimize: bool = True,
        roll_tta: float = 0.0,
        precision: str = "fp32",
    ):
        from poselift.models.fused import fuse_for_inference, supports_fusion
        from poselift.models.registry import load_model

        if precision not in LIFT_PRECISIONS:
            raise InputError(None, f"precision must be one of {', '.join(LIFT_PRECISIONS)}, found {precision!r}")
        module = model if isinstance(model, nn.Module) else load_model(model)
        self.model = module.eval().to(device)
        self.device = torch.device(device)
        self.precision = precision
        """"fp32"; "tf32" (CUDA: float32 with TF32 matmuls and convolutions; a CPU computes float32); "bf16"
        (matrix products in bfloat16: the fused CPU form's bf16 matmuls, autocast elsewhere). docs/speed.md
        gives the measured errors."""
        self.flip = flip
        self.roll_tta = float(roll_tta)
        """Degrees: also lift the input turned by +-roll_tta about the image centre (0: off; 3x the passes)."""
        if not 0.0 <= self.roll_tta <= 90.0:
            raise InputError(None, f"roll_tta must be 0-90 degrees, found {roll_tta!r}")
        self.batch_size = batch_size
        self.chunk_frames = chunk_frames
        self.meta: dict[str, Any] = dict(getattr(module, "meta", {}))
        self.skeleton = _skeleton_of(module)
        self._flip_in = torch.as_tensor(self.skeleton.flip_permutation())
        self._flip_out = self._flip_in
        # optimize: lift with the fused inference form (poselift.models.fused), the same function computed
        # faster on a CPU; a snapshot of the weights now. optimize=False runs the plain model.
        fusable = optimize and self.device.type == "cpu" and supports_fusion(self.model)
        self.fast = fuse_for_inference(self.model, "bf16" if precision == "bf16" else "fp32") if fusable else None

    def precision_context(self) -> contextlib.AbstractContextManager:
        """The numeric mode of the plain model's passes: bf16 autocast, and on CUDA TF32 on ("tf32") or off."""
        stack = contextlib.ExitStack()
        if self.device.type == "cuda":
            stack.enter_context(_tf32(self.precision == "tf32"))
        if self.precision == "bf16" and self.fast is None:
            stack.enter_context(torch.autocast(self.device.type, dtype=torch.bfloat16))
        return stack

    @property
    def receptive_field(self) -> int:
        return int(self.model.receptive_field)

    @property
    def causal(self) -> bool:
        return bool(self.model.causal)

    @property
    def fps(self) -> float | None:
        """The frame rate the model was trained at (None when its weights do not say)."""
        fps = self.meta.get("fps")
        return float(fps) if fps is not None else None

    @property
    def num_joints(self) -> int:
        return int(self.model.config.num_joints_in)

    def pad_sequence(self, keypoints_2d: np.ndarray) -> np.ndarray:
        """Edge-pad (T, J, 2) so that every frame has a full window: (T + RF - 1, J, 2)."""
        rf = self.receptive_field
        before, after = (rf - 1, 0) if self.causal else (rf // 2, rf // 2)
        return np.pad(keypoints_2d, ((before, after), (0, 0), (0, 0)), mode="edge")

    def lift(self, keypoints_2d: np.ndarray, source: str | Path | None = None) -> np.ndarray:
        """(T, J, 2) normalised screen coordinates -> (T, J, 3) root-relative metres, camera frame."""
        keypoints = validate_keypoints(keypoints_2d, self.num_joints, source)
        if not self.roll_tta:
            return self._lift_view(keypoints)
        # A camera rolled by a about its optical axis sees the 2D turned by a about the principal point (the
        # origin of normalised screen coordinates) and the 3D turned by a about the camera's z axis.
        poses = self._lift_view(keypoints).astype(np.float64)
        for degrees in (-self.roll_tta, self.roll_tta):
            turn = axis_rotation("Z", degrees)
            turned = self._lift_view((keypoints @ turn[:2, :2].T).astype(np.float32))
            poses += turned @ turn  # turned back: turn^-1 v = turn^T v, i.e. v @ turn for row vectors
        return (poses / 3).astype(np.float32)

    def mirror_2d(self, keypoints: torch.Tensor) -> torch.Tensor:
        """(..., J, 2) keypoints seen in a mirror: left and right swapped, x negated."""
        return mirror_poses(keypoints, self._flip_in.to(keypoints.device))

    def flip_average(self, direct: torch.Tensor, mirrored: torch.Tensor) -> torch.Tensor:
        """(..., J, 3) poses averaged with those lifted from the mirrored input, mirrored back."""
        return flip_average(direct, mirrored, self._flip_out.to(mirrored.device))

    def _lift_view(self, keypoints: np.ndarray) -> np.ndarray:
        """Lift one validated (T, J, 2) view, flip-averaged when `flip`."""
        padded = torch.from_numpy(self.pad_sequence(keypoints)).to(self.device)
        if self.device.type != "cpu":
            # An accelerator: the mirrored view rides in the same batches as the direct one (one pass).
            with torch.inference_mode(), self.precision_context():
                if not self.flip:
                    return self._lift_views(padded[None])[0].float().cpu().numpy()
                both = self._lift_views(torch.stack([padded, self.mirror_2d(padded)])).float()
                return self.flip_average(both[0], both[1]).cpu().numpy()
        with torch.inference_mode(), self.precision_context():
            poses = self._lift_padded(padded)
            if self.flip:
                poses = self.flip_average(poses, self._lift_padded(self.mirror_2d(padded)))
        return poses.float().cpu().numpy()

    def _lift_views(self, padded: torch.Tensor) -> torch.Tensor:
        """(V, T + RF - 1, J, 2) padded views -> (V, T, J, 3), each batch holding every view's windows."""
        views, rf = padded.shape[0], self.receptive_field
        frames = padded.shape[1] - rf + 1
        outputs = []
        if hasattr(self.model, "forward_sequence"):
            for start in range(0, frames, self.chunk_frames):
                stop = min(frames, start + self.chunk_frames)
                outputs.append(self.model.forward_sequence(padded[:, start : stop + rf - 1]))
        else:
            windows = padded.unfold(1, rf, 1).permute(0, 1, 4, 2, 3)  # (V, T, RF, J, 2), a view
            step = max(1, self.batch_size // views)
            for start in range(0, frames, step):
                batch = windows[:, start : start + step].reshape(-1, *windows.shape[2:])
                outputs.append(self.model(batch)[:, 0].unflatten(0, (views, -1)))
        return torch.cat(outputs, dim=1)

    def lift_pixels(self, keypoints_px: np.ndarray, width: float, height: float) -> np.ndarray:
        """The same as `lift` for keypoints in pixels of a width x height image."""
        return self.lift(normalize_screen_coordinates(keypoints_px, width, height))

    def _lift_padded(self, padded: torch.Tensor) -> torch.Tensor:
        """(T + RF - 1, J, 2) padded -> (T, J, 3)."""
        if self.fast is not None:
            if hasattr(self.model, "forward_sequence"):
                return self.fast.lift_padded(padded, chunk_frames=self.chunk_frames)
            return self.fast.lift_padded(padded)
        rf = self.receptive_field
        frames = padded.shape[0] - rf + 1
        outputs = []
        if hasattr(self.model, "forward_sequence"):
            # Full-sequence form in overlapping chunks: shared computation, bounded memory.
            for start in range(0, frames, self.chunk_frames):
                stop = min(frames, start + self.chunk_frames)
                chunk = padded[start : stop + rf - 1].unsqueeze(0)
                outputs.append(self.model.forward_sequence(chunk)[0])
        else:
            windows = padded.unfold(0, rf, 1).permute(0, 3, 1, 2)  # (T, RF, J, 2), a view
            for start in range(0, frames, self.batch_size):
                batch = windows[start : start + self.batch_size].contiguous()
                outputs.append(self.model(batch)[:, 0])
        return torch.cat(outputs)

    def stream(self) -> LiftStream:
        """A frame-by-frame lifter for real time; needs a causal model (flip averaging applies, roll_tta not)."""
        if not self.causal:
            raise InputError(None, "live lifting needs a causal model (e.g. atcn_27f_causal_mocap)")
        return LiftStream(self)


class LiftStream:
    """Causal frame-by-frame lifting: each pushed 2D frame returns the 3D pose of that frame at once.

    Before the window is full, the first frame is repeated, as in whole-sequence lifting. On a CPU the fused
    network's cached stream runs when there is one; on CUDA the window lives on the device and each push
    replays one captured CUDA graph (`StaticWindowStream`), which removes the per-operation launch cost.
    """

    def __init__(self, lifter: Lifter, static: bool | None = None):
        self.lifter = lifter
        self.window: deque[np.ndarray] = deque(maxlen=lifter.receptive_field)
        fast_stream = getattr(lifter.fast, "stream", None)  # the fused attention network's cached stream
        self._fast = fast_stream(lifter._flip_in.numpy() if lifter.flip else None) if fast_stream else None
        if static is None:
            static = self._fast is None and lifter.device.type == "cuda"
        self._static = StaticWindowStream(lifter, cuda_graph=lifter.device.type == "cuda") if static else None

    def reset(self) -> None:
        self.window.clear()
        if self._fast is not None:
            self._fast.reset()
        if self._static is not None:
            self._static.reset()

    def push(self, frame_2d: np.ndarray) -> np.ndarray:
        """frame_2d (J, 2) normalised screen coordinates -> (J, 3) root-relative metres."""
        frame = validate_keypoints(np.asarray(frame_2d)[None], self.lifter.num_joints)[0]
        if self._fast is not None:
            return self._fast.push(frame)
        if self._static is not None:
            return self._static.push(frame)
        if not self.window:
            self.window.extend([frame] * self.lifter.receptive_field)
        else:
            self.window.append(frame)
        window = torch.from_numpy(np.stack(self.window))[None].to(self.lifter.device)
        lifter = self.lifter
        with torch.inference_mode():
            if lifter.flip:
                out = lifter.model(torch.cat([window, lifter.mirror_2d(window)]))[:, -1]
                pose = lifter.flip_average(out[0], out[1])
            else:
                pose = lifter.model(window)[0, -1]
        return pose.cpu().numpy()


class StaticWindowStream:
    """Batch-1 causal lifting on fixed device buffers: the window is a device tensor shifted in place, and one
    push is one fixed sequence of kernels (shift, mirror, model, average), captured as a CUDA graph on first
    use when `cuda_graph` and replayed afterwards. Without `cuda_graph` the same step runs eagerly (the CPU
    form of the same computation, which the tests compare with the plain stream)."""

    def __init__(self, lifter: Lifter, cuda_graph: bool = False):
        self.lifter = lifter
        self.cuda_graph = cuda_graph
        device, shape = lifter.device, (lifter.receptive_field, lifter.num_joints, 2)
        self.frame = torch.zeros(shape[1:], device=device)
        self.window = torch.zeros((1, *shape), device=device)
        self.started = False
        self._graph: Any = None
        self._output: torch.Tensor | None = None

    def reset(self) -> None:
        """Forget the frames so far; the next push starts a new window (the captured graph is kept)."""
        self.started = False

    def _step(self) -> torch.Tensor:
        """Shift `frame` into the window and lift its last frame (flip-averaged): (J, 3) float32, on the device."""
        lifter = self.lifter
        self.window.copy_(torch.cat([self.window[:, 1:], self.frame[None, None]], dim=1))
        with lifter.precision_context():
            if not lifter.flip:
                return lifter.model(self.window)[0, -1].float()
            out = lifter.model(torch.cat([self.window, lifter.mirror_2d(self.window)]))[:, -1].float()
        return lifter.flip_average(out[0], out[1])

    def _capture(self) -> None:
        """Warm up on a side stream, then record `_step` into a CUDA graph; the window is left as it was."""
        saved = self.window.clone()
        side = torch.cuda.Stream(device=self.window.device)
        side.wait_stream(torch.cuda.current_stream(self.window.device))
        with torch.cuda.stream(side):
            for _ in range(3):
                self._step()
                self.window.copy_(saved)
        torch.cuda.current_stream(self.window.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._output = self._step()
        self.window.copy_(saved)
        self._graph = graph

    def push(self, frame: np.ndarray) -> np.ndarray:
        """A validated (J, 2) frame -> (J, 3) root-relative metres."""
        with torch.no_grad():
            self.frame.copy_(torch.from_numpy(frame))
            if not self.started:
                self.window.copy_(self.frame.expand_as(self.window))
                self.started = True
            if not self.cuda_graph:
                return self._step().cpu().numpy()
            if self._graph is None:
                self._capture()
            self._graph.replay()
            return self._output.cpu().numpy()
