"""Known-answer tests of the pose error metrics (Protocols 1-3 and the velocity error)."""

from __future__ import annotations

import numpy as np
import pytest

from poselift import metrics
from poselift.errors import InputError


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def test_mpjpe_hand_computed():
    target = np.zeros((2, 2, 3))
    predicted = np.array([[[3, 4, 0], [0, 0, 0]], [[0, 0, 2], [1, 2, 2]]], dtype=float)
    # distances: frame 0 -> 5, 0; frame 1 -> 2, 3
    assert metrics.mpjpe(predicted, target) == pytest.approx(2.5)
    np.testing.assert_allclose(metrics.mpjpe_per_joint(predicted, target), [3.5, 1.5])
    np.testing.assert_allclose(metrics.position_errors(predicted, target), [[5, 0], [2, 3]])


def test_p_mpjpe_is_zero_for_similarity_transformed_copy(rng):
    target = rng.normal(size=(6, 17, 3))
    predicted = np.stack(
        [0.7 * pose @ random_rotation(rng).T + rng.normal(size=3) for pose in target]
    )  # a different scale, rotation and shift per frame
    assert metrics.mpjpe(predicted, target) > 0.1
    assert metrics.p_mpjpe(predicted, target) == pytest.approx(0, abs=1e-9)
    np.testing.assert_allclose(metrics.procrustes_align(predicted, target), target, atol=1e-9)


def test_p_mpjpe_does_not_undo_a_reflection(rng):
    target = rng.normal(size=(1, 17, 3))  # a non-planar point set
    mirrored = target * np.array([-1.0, 1.0, 1.0])
    error = metrics.p_mpjpe(mirrored, target)
    assert error > 0.1  # a mirror image is not a rotation of the original

    # The alignment is a proper rotation, and no rotation, scale and translation does better
    # (checked by numerical optimisation from several starts; the scale is kept positive, since
    # a scale of -1 is itself a reflection).
    from scipy.optimize import minimize
    from scipy.spatial.transform import Rotation

    def objective(params):
        rot = Rotation.from_rotvec(params[:3]).as_matrix()
        aligned = np.exp(params[3]) * mirrored[0] @ rot.T + params[4:7]
        return np.sum((aligned - target[0]) ** 2)

    best = min(
        minimize(objective, np.r_[rng.normal(size=3), 0.0, 0, 0, 0], method="BFGS").fun for _ in range(8)
    )
    ours = np.sum((metrics.procrustes_align(mirrored, target)[0] - target[0]) ** 2)
    assert ours <= best + 1e-6
    assert ours > 0.5 * best


def test_p_mpjpe_undoes_a_reflection_of_a_planar_pose(rng):
    target = rng.normal(size=(1, 10, 3))
    target[..., 2] = 0  # planar: the mirror image in x equals a 180-degree rotation about y
    mirrored = target * np.array([-1.0, 1.0, 1.0])
    assert metrics.p_mpjpe(mirrored, target) == pytest.approx(0, abs=1e-9)


def test_n_mpjpe_undoes_scale_only(rng):
    target = rng.normal(size=(5, 17, 3))
    scaled = target * np.array([0.5, 2.0, 1.3, 0.9, 3.0])[:, None, None]
    assert metrics.mpjpe(scaled, target) > 0.1
    assert metrics.n_mpjpe(scaled, target) == pytest.approx(0, abs=1e-12)
    rotated = target @ random_rotation(rng).T
    assert metrics.n_mpjpe(rotated, target) > 0.1  # a rotation is not undone
    # s = 1 is one of the candidates, so the least-squares scale never does worse in squared error
    noisy = target + rng.normal(scale=0.3, size=target.shape)
    assert np.sum((metrics.scale_align(noisy, target) - target) ** 2) <= np.sum((noisy - target) ** 2)


def test_mpjve_constant_offset_is_zero_and_hand_computed(rng):
    target = rng.normal(size=(10, 17, 3))
    assert metrics.mpjve(target + np.array([0.3, -2.0, 5.0]), target) == pytest.approx(0, abs=1e-12)
    # one joint drifting by (3, 4, 0) per frame relative to the target: velocity error 5 for it, 0 elsewhere
    t = np.zeros((4, 2, 3))
    p = t.copy()
    p[:, 1] = np.arange(4)[:, None] * np.array([3.0, 4.0, 0.0])
    assert metrics.mpjve(p, t) == pytest.approx(2.5)
    np.testing.assert_allclose(metrics.mpjve_per_joint(p, t), [0.0, 5.0])
    assert metrics.velocity_errors(p, t).shape == (3, 2)


def test_per_joint_variants_match_the_overall_mean(rng):
    target = rng.normal(size=(8, 17, 3))
    predicted = target + rng.normal(scale=0.05, size=target.shape)
    for name in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"):
        per_joint = getattr(metrics, f"{name}_per_joint")(predicted, target)
        assert per_joint.shape == (17,)
        assert per_joint.mean() == pytest.approx(getattr(metrics, name)(predicted, target))
    errors = metrics.sequence_errors(predicted, target)
    assert errors["mpjpe"].shape == (8, 17) and errors["mpjve"].shape == (7, 17)


def test_degenerate_and_bad_inputs(rng):
    target = rng.normal(size=(3, 17, 3))
    zeros = np.zeros_like(target)
    assert np.isfinite(metrics.p_mpjpe(zeros, target))
    assert np.isfinite(metrics.n_mpjpe(zeros, target))
    assert np.isnan(metrics.mpjve(target[:1], target[:1]))
    with pytest.raises(InputError, match="differ in shape"):
        metrics.mpjpe(target[:, :16], target)
    with pytest.raises(InputError, match=r"\(\.\.\., J, 3\)"):
        metrics.mpjpe(target[..., :2], target[..., :2])
    # a single pose (J, 3) is accepted for the frame-wise protocols
    assert metrics.p_mpjpe(target[0], target[0]) == pytest.approx(0, abs=1e-9)
