"""3D pose error metrics: MPJPE (Protocol 1), P-MPJPE (2), N-MPJPE (3) and the velocity error MPJVE.

All functions take numpy arrays of poses `(N, J, 3)` (N frames or samples; any unit, usually metres) and
return errors in the same unit. Alignment for Protocols 2 and 3 is done per frame. The `*_per_joint`
variants return the mean over frames for each joint, shape (J,); the `*_errors` helpers return the
per-frame, per-joint distances the means are made of, so callers can aggregate over many sequences.
"""

from __future__ import annotations

import numpy as np

from poselift.errors import InputError


def _pair(predicted: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float64 (N, J, 3) after checking they have the same (..., J, 3) shape."""
    p = np.asarray(predicted, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if p.shape != t.shape:
        raise InputError(None, f"predicted {p.shape} and target {t.shape} poses differ in shape")
    if p.ndim < 2 or p.shape[-1] != 3:
        raise InputError(None, f"poses must be (..., J, 3), found {p.shape}")
    return p.reshape(-1, *p.shape[-2:]), t.reshape(-1, *t.shape[-2:])


def position_errors(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Euclidean distance per frame and joint, (N, J), without any alignment (Protocol 1)."""
    p, t = _pair(predicted, target)
    return np.linalg.norm(p - t, axis=-1)


def procrustes_align(predicted: np.ndarray, target: np.ndarray, scale: bool = True) -> np.ndarray:
    """Align each predicted pose to its target by the best similarity transform, (N, J, 3).

    Per frame, finds s, R, t minimising sum_j |s * R p_j + t - x_j|^2 with R a proper rotation
    (det R = +1: a mirror image is not "aligned" away) and s > 0 (s = 1 when scale is False).
    """
    p, t = _pair(predicted, target)
    mu_p = p.mean(axis=1, keepdims=True)
    mu_t = t.mean(axis=1, keepdims=True)
    p0 = p - mu_p
    t0 = t - mu_t
    # Row-vector convention: aligned = s * p0 @ R + mu_t with R = U D V^T from svd(p0^T t0).
    cross = np.einsum("nji,njk->nik", p0, t0)
    u, sigma, vt = np.linalg.svd(cross)
    d = np.sign(np.linalg.det(u @ vt))
    d[d == 0] = 1.0
    u[:, :, -1] *= d[:, None]
    rotation = u @ vt
    if scale:
        var_p = np.sum(p0**2, axis=(1, 2))
        trace = sigma[:, 0] + sigma[:, 1] + d * sigma[:, 2]
        s = np.divide(trace, var_p, out=np.zeros_like(trace), where=var_p > 0)
    else:
        s = np.ones(p.shape[0])
    return s[:, None, None] * (p0 @ rotation) + mu_t


def scale_align(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rescale each predicted pose by the least-squares factor s = <p, x> / <p, p> (Protocol 3), (N, J, 3).

    No rotation and no translation: both poses are expected root-relative (VideoPose3D's N-MPJPE).
    """
    p, t = _pair(predicted, target)
    num = np.sum(p * t, axis=(1, 2))
    den = np.sum(p * p, axis=(1, 2))
    s = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return s[:, None, None] * p


def velocity_errors(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Norm of the difference of first temporal differences, (T-1, J); axis 0 must be time.

    Units are position units per frame (VideoPose3D's MPJVE); divide by 1/fps for per-second values.
    """
    p, t = _pair(predicted, target)
    if np.asarray(predicted).ndim != 3:
        raise InputError(None, f"velocity error needs a sequence (T, J, 3), found {np.shape(predicted)}")
    return np.linalg.norm(np.diff(p, axis=0) - np.diff(t, axis=0), axis=-1)


def p_mpjpe_errors(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-frame, per-joint distances after Procrustes alignment (Protocol 2), (N, J)."""
    p, t = _pair(predicted, target)
    return np.linalg.norm(procrustes_align(p, t) - t, axis=-1)


def n_mpjpe_errors(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-frame, per-joint distances after scale-only alignment (Protocol 3), (N, J)."""
    p, t = _pair(predicted, target)
    return np.linalg.norm(scale_align(p, t) - t, axis=-1)


def _mean(errors: np.ndarray) -> float:
    return float(errors.mean()) if errors.size else float("nan")


def _per_joint(errors: np.ndarray) -> np.ndarray:
    if errors.shape[0] == 0:
        return np.full(errors.shape[1], np.nan)
    return errors.mean(axis=0)


def mpjpe(predicted: np.ndarray, target: np.ndarray) -> float:
    """Protocol 1: mean per-joint position error, no alignment. Poses (..., J, 3)."""
    return _mean(position_errors(predicted, target))


def p_mpjpe(predicted: np.ndarray, target: np.ndarray) -> float:
    """Protocol 2: MPJPE after per-frame rigid alignment with scale (Procrustes). Poses (..., J, 3)."""
    return _mean(p_mpjpe_errors(predicted, target))


def n_mpjpe(predicted: np.ndarray, target: np.ndarray) -> float:
    """Protocol 3: MPJPE after per-frame scale-only alignment. Poses (..., J, 3), root-relative."""
    return _mean(n_mpjpe_errors(predicted, target))


def mpjve(predicted: np.ndarray, target: np.ndarray) -> float:
    """Mean per-joint velocity error over a sequence (T, J, 3); units per frame. NaN when T < 2."""
    return _mean(velocity_errors(predicted, target))


def mpjpe_per_joint(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Protocol 1 error of each joint, mean over frames, (J,)."""
    return _per_joint(position_errors(predicted, target))


def p_mpjpe_per_joint(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Protocol 2 error of each joint (alignment still uses all joints of the frame), (J,)."""
    return _per_joint(p_mpjpe_errors(predicted, target))


def n_mpjpe_per_joint(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Protocol 3 error of each joint, (J,)."""
    return _per_joint(n_mpjpe_errors(predicted, target))


def mpjve_per_joint(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Velocity error of each joint over a sequence (T, J, 3), (J,)."""
    return _per_joint(velocity_errors(predicted, target))


PROTOCOLS: dict[str, str] = {
    "mpjpe": "Protocol 1 (MPJPE)",
    "p_mpjpe": "Protocol 2 (P-MPJPE)",
    "n_mpjpe": "Protocol 3 (N-MPJPE)",
    "mpjve": "Velocity (MPJVE)",
}
"""The metric keys used in reports, with their display names."""


def sequence_errors(predicted: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """All four protocols' per-frame, per-joint errors of one sequence (T, J, 3): {key: (T or T-1, J)}."""
    return {
        "mpjpe": position_errors(predicted, target),
        "p_mpjpe": p_mpjpe_errors(predicted, target),
        "n_mpjpe": n_mpjpe_errors(predicted, target),
        "mpjve": velocity_errors(predicted, target),
    }
