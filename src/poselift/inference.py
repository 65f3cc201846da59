"""The Lifter: 2D keypoint sequences in, root-relative 3D poses out, for whole videos and live streams.

Whole sequences are padded at both ends by repeating the edge frame (causal models only at the start),
so every input frame gets a pose. Attention models run one window per output frame, in batches;
VideoPose3D runs in its full-sequence form, in chunks. Flip averaging (on by default) also lifts the
mirrored input and averages it, mirrored back, with the direct output. Roll averaging (`roll_tta`, off by
default) does the same with the 2D turned about the image centre by +-roll_tta degrees, which is the view of
a camera rolled about its optical axis, and turns the 3D outputs back.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from poselift.camera import normalize_screen_coordinates
from poselift.errors import InputError
from poselift.skeleton import H36M17, SKELETONS, Skeleton


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
    ):
        from poselift.models.fused import fuse_for_inference, supports_fusion
        from poselift.models.registry import load_model

        module = model if isinstance(model, nn.Module) else load_model(model)
        self.model = module.eval().to(device)
        self.device = torch.device(device)
        self.flip = flip
        self.roll_tta = float(roll_tta)
        """Degrees: also lift the input turned by +-roll_tta about the image centre (0: off; 3x the passes)."""
        self.batch_size = batch_size
        self.chunk_frames = chunk_frames
        self.meta: dict[str, Any] = dict(getattr(module, "meta", {}))
        self.skeleton = _skeleton_of(module)
        self._flip_in = torch.as_tensor(self.skeleton.flip_permutation())
        self._flip_out = self._flip_in
        # optimize: lift with the fused inference form (poselift.models.fused), the same function computed
        # faster on a CPU; a snapshot of the weights now. optimize=False runs the plain model.
        fusable = optimize and self.device.type == "cpu" and supports_fusion(self.model)
        self.fast = fuse_for_inference(self.model) if fusable else None

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
        from poselift.data.bvh import axis_rotation

        poses = self._lift_view(keypoints).astype(np.float64)
        for degrees in (-self.roll_tta, self.roll_tta):
            turn = axis_rotation("Z", degrees)
            turned = self._lift_view((keypoints @ turn[:2, :2].T).astype(np.float32))
            poses += turned @ turn  # turned back: turn^-1 v = turn^T v, i.e. v @ turn for row vectors
        return (poses / 3).astype(np.float32)

    def _lift_view(self, keypoints: np.ndarray) -> np.ndarray:
        """Lift one validated (T, J, 2) view, flip-averaged when `flip`."""
        padded = torch.from_numpy(self.pad_sequence(keypoints)).to(self.device)
        with torch.inference_mode():
            poses = self._lift_padded(padded)
            if self.flip:
                mirrored = padded[:, self._flip_in].clone()
                mirrored[..., 0] *= -1
                flipped = self._lift_padded(mirrored)[:, self._flip_out]
                flipped[..., 0] *= -1
                poses = (poses + flipped) / 2
        return poses.cpu().numpy()

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

    Before the window is full, the first frame is repeated, as in whole-sequence lifting.
    """

    def __init__(self, lifter: Lifter):
        self.lifter = lifter
        self.window: deque[np.ndarray] = deque(maxlen=lifter.receptive_field)
        fast_stream = getattr(lifter.fast, "stream", None)  # the fused attention network's cached stream
        self._fast = fast_stream(lifter._flip_in.numpy() if lifter.flip else None) if fast_stream else None

    def reset(self) -> None:
        self.window.clear()
        if self._fast is not None:
            self._fast.reset()

    def push(self, frame_2d: np.ndarray) -> np.ndarray:
        """frame_2d (J, 2) normalised screen coordinates -> (J, 3) root-relative metres."""
        frame = validate_keypoints(np.asarray(frame_2d)[None], self.lifter.num_joints)[0]
        if self._fast is not None:
            return self._fast.push(frame)
        if not self.window:
            self.window.extend([frame] * self.lifter.receptive_field)
        else:
            self.window.append(frame)
        window = torch.from_numpy(np.stack(self.window))[None].to(self.lifter.device)
        lifter = self.lifter
        with torch.inference_mode():
            if lifter.flip:
                mirrored = window[:, :, lifter._flip_in].clone()
                mirrored[..., 0] *= -1
                out = lifter.model(torch.cat([window, mirrored]))[:, -1]
                flipped = out[1, lifter._flip_out].clone()
                flipped[..., 0] *= -1
                pose = (out[0] + flipped) / 2
            else:
                pose = lifter.model(window)[0, -1]
        return pose.cpu().numpy()
