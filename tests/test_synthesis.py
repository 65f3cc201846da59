"""Synthesis of 2D/3D training pairs: resampling, proportions, cameras that see everything, detector noise."""

from __future__ import annotations

import numpy as np
import pytest

from poselift.body_size import BONE_GROUPS, bone_lengths, stature
from poselift.camera import Camera, image_coordinates, project
from poselift.data.mocap import MocapClip, load_mocap
from poselift.data.sequences import PoseSequence
from poselift.data.synthesis import (
    IMAGE_SIZES,
    JOINT_NOISE_SCALE,
    NOISE_LEVELS,
    MotionAugmentation,
    add_detector_noise,
    augment_proportions,
    borrow_arms,
    bursts,
    chest_frames,
    fill_missing,
    perturb_limb_angles,
    ping_pong,
    random_camera,
    synthesize,
)
from poselift.errors import InputError
from poselift.geometry.resample import resample_rate
from poselift.skeleton import H36M17

# A standing person (metres, Y up, facing +Z, left = +X), Human3.6M order.
STANDING = np.array([
    [0.0, 0.95, 0.0], [-0.13, 0.95, 0.0], [-0.13, 0.51, 0.02], [-0.13, 0.08, 0.0],
    [0.13, 0.95, 0.0], [0.13, 0.51, 0.02], [0.13, 0.08, 0.0],
    [0.0, 1.18, -0.02], [0.0, 1.44, 0.0], [0.0, 1.56, 0.09], [0.0, 1.69, 0.02],
    [0.16, 1.41, 0.0], [0.18, 1.13, -0.02], [0.2, 0.89, 0.04],
    [-0.16, 1.41, 0.0], [-0.18, 1.13, -0.02], [-0.2, 0.89, 0.04],
])


def walk(metres: float = 8.0, seconds: float = 8.0, fps: float = 30.0) -> np.ndarray:
    """A straight walk along +Z over `metres`, with swinging legs and arms: (T, 17, 3)."""
    t = np.arange(int(seconds * fps)) / fps
    joints = np.repeat(STANDING[None], len(t), axis=0).copy()
    swing = 0.3 * np.sin(2 * np.pi * t)[:, None]
    joints[:, [2, 3], 2] += swing * np.array([0.5, 1.0])
    joints[:, [5, 6], 2] -= swing * np.array([0.5, 1.0])
    joints[:, [12, 13], 2] -= swing * np.array([0.4, 0.8])
    joints[:, [15, 16], 2] += swing * np.array([0.4, 0.8])
    joints[:, :, 2] += (t / seconds * metres - metres / 2)[:, None]
    return joints


def clip(joints: np.ndarray, fps: float = 30.0, name: str = "dataset-1_walk_normal_001") -> MocapClip:
    return MocapClip(joints_3d=joints.astype(np.float32), fps=fps, source="test", name=name, subject="dataset-1",
                     action="walk", style="normal", take="001")


def camera_of(seq: PoseSequence) -> Camera:
    p = seq.camera_params
    return Camera(R=p["R"], t=p["t"], focal=tuple(p["focal"]), centre=tuple(p["centre"]), width=p["width"],
                  height=p["height"])


def check_in_view(seq: PoseSequence) -> None:
    """Every joint >= 1 m in front of the camera and its clean projection inside the image."""
    assert seq.poses_3d[..., 2].min() >= 1.0 - 1e-4
    camera = camera_of(seq)
    pixels = project(seq.poses_3d.astype(np.float64), camera)
    assert pixels[..., 0].min() >= 0 and pixels[..., 0].max() <= camera.width
    assert pixels[..., 1].min() >= 0 and pixels[..., 1].max() <= camera.height
    scale = 1e-6 * camera.width + 1e-3  # float32 normalised coordinates
    np.testing.assert_allclose(image_coordinates(seq.keypoints_2d, camera.width, camera.height), pixels,
                               atol=scale * camera.width)


# ------------------------------------------------------------------------------------------ resampling


def test_resampling_lengths_and_values():
    joints = np.random.default_rng(0).normal(size=(121, 17, 3))
    down = resample_rate(joints, 120.0, 30.0)
    assert down.shape == (31, 17, 3)
    np.testing.assert_allclose(down, joints[::4])
    ramp = np.arange(31, dtype=np.float64)[:, None, None] * np.ones((1, 17, 3))  # 1 unit per frame at 30 fps
    up = resample_rate(ramp, 30.0, 50.0)
    assert up.shape == (51, 17, 3)
    np.testing.assert_allclose(up[:, 0, 0], np.arange(51) * 0.6, atol=1e-12)
    assert resample_rate(joints[:1], 30.0, 50.0).shape == (1, 17, 3)


def test_synthesize_resamples_to_the_requested_rate():
    seqs = synthesize([clip(walk(seconds=4.0, fps=120.0), fps=120.0)], views_per_clip=1, fps=30.0)
    assert seqs[0].fps == 30.0 and seqs[0].num_frames == (480 - 1) // 4 + 1


def test_speed_augmentation_plays_each_piece_faster_or_slower():
    """A speed factor s shortens a piece by s and frame k shows the recording at k*s; the factors are
    log-uniform in the range, and without a range nothing is drawn (the data stay as before)."""
    recorded = walk(seconds=4.0)
    doubled = MotionAugmentation(proportions=False, speed_range=(2.0, 2.0))
    fast = synthesize([clip(recorded)], views_per_clip=1, augmentation=doubled)[0]
    assert fast.fps == 30.0 and fast.num_frames == (120 - 1) // 2 + 1
    np.testing.assert_allclose(fast.poses_3d, camera_of(fast).world_to_camera(recorded[::2]), atol=1e-5)
    varied = MotionAugmentation(speed_range=(0.8, 1.25))
    lengths = [s.num_frames for s in synthesize([clip(recorded)] * 40, views_per_clip=1, augmentation=varied)]
    factors = 119 / (np.array(lengths) - 1)
    assert 0.79 < factors.min() and factors.max() < 1.26 and factors.min() < 0.9 and factors.max() > 1.1
    plain = synthesize([clip(recorded)], views_per_clip=2, noise="detector", seed=5)
    same = synthesize([clip(recorded)], views_per_clip=2, noise="detector", seed=5,
                      augmentation=MotionAugmentation(speed_range=None))
    for x, y in zip(plain, same, strict=True):
        np.testing.assert_array_equal(x.keypoints_2d, y.keypoints_2d)


# ------------------------------------------------------------------------------------------- limb angles


def _direction_change_degrees(before: np.ndarray, after: np.ndarray, parent: int, child: int) -> np.ndarray:
    a, b = before[:, child] - before[:, parent], after[:, child] - after[:, parent]
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def test_limb_rotation_turns_limbs_keeps_bones_and_drifts_smoothly():
    """Every bone keeps its length in every frame, the pelvis and hips stay put, the forearms turn by about the
    asked-for angle and the turn drifts slowly (about a degree per frame at 30 fps)."""
    recorded = walk(seconds=40.0).astype(np.float64)
    turned = perturb_limb_angles(recorded, np.random.default_rng(0), 15.0, 30.0).astype(np.float64)
    parents = np.array(H36M17.parents[1:])
    np.testing.assert_allclose(np.linalg.norm(turned[:, 1:] - turned[:, parents], axis=-1),
                               np.linalg.norm(recorded[:, 1:] - recorded[:, parents], axis=-1), atol=1e-5)
    np.testing.assert_allclose(turned[:, [0, 1, 4, 7]], recorded[:, [0, 1, 4, 7]], atol=1e-6)
    for parent, child in ((12, 13), (15, 16)):  # forearms: their own turn plus the ones above them
        change = _direction_change_degrees(recorded, turned, parent, child)
        assert 12.0 < change.mean() < 60.0
        assert np.abs(np.diff(change)).mean() < 1.0
    shins = _direction_change_degrees(recorded, turned, 2, 3).mean()
    forearms = _direction_change_degrees(recorded, turned, 15, 16).mean()
    assert shins < forearms  # legs get half the arms' share
    bigger = perturb_limb_angles(recorded, np.random.default_rng(0), 30.0, 30.0)
    assert _direction_change_degrees(recorded, bigger, 15, 16).mean() > 1.5 * forearms


def test_limb_rotation_off_changes_nothing_and_draws_nothing():
    recorded = walk(seconds=4.0)
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(perturb_limb_angles(recorded, rng, 0.0, 30.0), recorded)
    assert rng.random() == np.random.default_rng(3).random()
    plain = synthesize([clip(recorded)], views_per_clip=2, noise="detector", seed=5)
    same = synthesize([clip(recorded)], views_per_clip=2, noise="detector", seed=5,
                      augmentation=MotionAugmentation(limb_rotation=0.0))
    turned = synthesize([clip(recorded)], views_per_clip=2, noise="detector", seed=5,
                        augmentation=MotionAugmentation(limb_rotation=15.0))
    for x, y, z in zip(plain, same, turned, strict=True):
        np.testing.assert_array_equal(x.keypoints_2d, y.keypoints_2d)
        assert np.abs(z.poses_3d[:, 16] - x.poses_3d[:, 16]).max() > 0.05


# ------------------------------------------------------------------------------------------ borrowed arms


def _turned(joints: np.ndarray, yaw_degrees: float) -> np.ndarray:
    c, s = np.cos(np.radians(yaw_degrees)), np.sin(np.radians(yaw_degrees))
    return joints @ np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]]).T


def test_ping_pong_plays_a_short_recording_back_and_forth_without_jumps():
    np.testing.assert_array_equal(ping_pong(4, 10, start=2), [2, 3, 2, 1, 0, 1, 2, 3, 2, 1])
    np.testing.assert_array_equal(ping_pong(1, 3), [0, 0, 0])


def test_borrowed_arms_follow_the_donors_chest_not_its_place_or_heading():
    """A donor with this very pose, turned and moved elsewhere, changes nothing; a donor with raised forearms
    raises them on this body, with this body's bone lengths; nothing but elbows and wrists moves."""
    body = np.repeat(STANDING[None], 5, axis=0)
    rng = np.random.default_rng(0)
    elsewhere = _turned(body, 90.0) + np.array([3.0, 0.0, -2.0])
    np.testing.assert_allclose(borrow_arms(body, elsewhere, rng), body, atol=1e-6)

    raised = STANDING.copy()
    raised[13] = raised[12] + [0.0, 0.24, 0.0]  # left forearm straight up
    raised[16] = raised[15] + [0.0, 0.0, 0.24]  # right forearm pointing forward
    donor = _turned(np.repeat(raised[None], 7, axis=0), -40.0) * 1.2  # a bigger person, facing elsewhere
    out = borrow_arms(body, donor, rng)
    np.testing.assert_allclose(out[:, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15]],
                               body[:, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15]], atol=1e-6)
    np.testing.assert_allclose(bone_lengths(out), bone_lengths(body), atol=1e-6)
    left, right = out[0, 13] - out[0, 12], out[0, 16] - out[0, 15]
    np.testing.assert_allclose(left / np.linalg.norm(left), [0.0, 1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(right / np.linalg.norm(right), [0.0, 0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(chest_frames(out), chest_frames(body), atol=1e-9)


def test_arm_swap_gives_some_pieces_other_arms_and_is_off_by_default():
    """With a share of 1 every piece's wrists move differently from its own recording while its legs do not;
    with 0 the data are exactly as without the option."""
    walker = clip(walk(seconds=4.0))
    waver = walk(seconds=3.0)
    waver[:, 13] = waver[:, 12] + [0.0, 0.24, 0.0]
    clips = [walker, clip(waver)]
    plain = synthesize(clips, views_per_clip=1, noise="none", seed=2)
    same = synthesize(clips, views_per_clip=1, noise="none", seed=2, augmentation=MotionAugmentation(arm_swap=0.0))
    for x, y in zip(plain, same, strict=True):
        np.testing.assert_array_equal(x.keypoints_2d, y.keypoints_2d)
    swapped = synthesize(clips, views_per_clip=1, noise="none", seed=2,
                         augmentation=MotionAugmentation(proportions=False, arm_swap=1.0))
    unswapped = synthesize(clips, views_per_clip=1, noise="none", seed=2,
                           augmentation=MotionAugmentation(proportions=False))
    assert len(swapped) == len(unswapped) == 2

    def distances(pose: np.ndarray, joints: list[int]) -> np.ndarray:  # camera-independent
        return np.linalg.norm(pose[:, joints, None] - pose[:, None, joints], axis=-1)

    for x, y in zip(swapped, unswapped, strict=True):
        legs_and_chest = [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 14]
        np.testing.assert_allclose(distances(x.poses_3d, legs_and_chest), distances(y.poses_3d, legs_and_chest),
                                   atol=1e-5)
        assert np.abs(distances(x.poses_3d, [0, 13]) - distances(y.poses_3d, [0, 13])).max() > 0.1


# -------------------------------------------------------------------------------------------- proportions


def test_proportion_augmentation_is_symmetric_keeps_directions_and_sets_height():
    joints = walk()
    for seed in range(5):
        new = augment_proportions(joints, np.random.default_rng(seed))
        assert 1.5 <= stature(new) <= 1.95
        lengths, before = bone_lengths(new), bone_lengths(joints)
        for bones in BONE_GROUPS.values():
            ratios = [lengths[c] / before[c] for _, c in bones]
            assert max(ratios) == pytest.approx(min(ratios), rel=1e-5)  # left and right scaled alike
        for parent, child in H36M17.bones():
            a, b = joints[:, child] - joints[:, parent], new[:, child] - new[:, parent]
            cosine = np.sum(a * b, axis=-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
            assert cosine.min() > 1 - 1e-5
            ratio = np.linalg.norm(b, axis=-1) / np.linalg.norm(a, axis=-1)
            assert np.ptp(ratio) < 1e-4  # one factor per bone for the whole clip
    heights = [stature(augment_proportions(joints, np.random.default_rng(s))) for s in range(40)]
    assert np.ptp(heights) > 0.25  # varied


def test_proportion_augmentation_can_keep_the_bodys_own_size():
    joints = walk()
    own = stature(joints)
    heights = [stature(augment_proportions(joints, np.random.default_rng(s), None)) for s in range(40)]
    assert 0.85 * own < min(heights) and max(heights) < 1.15 * own  # only the bone factors vary it
    assert np.ptp(heights) > 0.02 * own
    narrow = [stature(augment_proportions(joints, np.random.default_rng(s), (1.6, 1.7))) for s in range(10)]
    assert all(1.6 - 1e-6 <= h <= 1.7 + 1e-6 for h in narrow)


def test_proportion_augmentation_keeps_feet_near_the_floor():
    joints = walk()
    for seed in range(5):
        new = augment_proportions(joints, np.random.default_rng(seed))
        ankles = new[:, [3, 6], 1]
        assert 0.0 < ankles.min() < 0.2


# ------------------------------------------------------------------------------------------------ cameras


def test_random_cameras_see_the_whole_8m_walk():
    walking = walk(metres=8.0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        camera = random_camera(walking, rng)
        assert 0.5 <= camera.position[1] <= 2.2
        assert 39.9 <= camera.horizontal_fov <= 90.1
        assert (camera.width, camera.height) in IMAGE_SIZES
    for seq in synthesize([clip(walking)], views_per_clip=12, seed=3):
        check_in_view(seq)
        assert -1 <= seq.keypoints_2d[..., 0].min() and seq.keypoints_2d[..., 0].max() <= 1


def test_camera_inside_the_path_is_impossible():
    # A 20 m walk whose centre is where a careless camera (placed by the mean position) would stand.
    walking = walk(metres=20.0, seconds=12.0)
    for seq in synthesize([clip(walking)], views_per_clip=8, seed=1):
        check_in_view(seq)
        assert np.abs(seq.poses_3d).max() < 100


def test_synthesis_is_deterministic_by_seed():
    clips = [clip(walk(seconds=3.0)), clip(walk(seconds=2.0), name="dataset-1_run_sad_002")]
    a = synthesize(clips, views_per_clip=2, noise="detector", seed=7)
    b = synthesize(clips, views_per_clip=2, noise="detector", seed=7)
    c = synthesize(clips, views_per_clip=2, noise="detector", seed=8)
    assert len(a) == len(b) == 4
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.keypoints_2d, y.keypoints_2d)
        np.testing.assert_array_equal(x.poses_3d, y.poses_3d)
        np.testing.assert_array_equal(x.confidence, y.confidence)
    assert not np.array_equal(a[0].keypoints_2d, c[0].keypoints_2d)
    # A clip's data does not depend on the clips before it.
    alone = synthesize(clips[:1], views_per_clip=2, noise="detector", seed=7)
    np.testing.assert_array_equal(alone[1].keypoints_2d, a[1].keypoints_2d)


def test_sequence_fields():
    seq = synthesize([clip(walk(seconds=2.0))], views_per_clip=1, noise="none")[0]
    seq.validate()
    assert seq.keypoints_2d.dtype == np.float32 and seq.poses_3d.dtype == np.float32
    assert seq.confidence.shape == (60, 17) and np.all(seq.confidence == 1)
    assert (seq.subject, seq.action, seq.camera) == ("dataset-1", "dataset-1_walk_normal_001", "random-0")
    assert {"focal", "centre", "width", "height", "R", "t"} <= set(seq.camera_params)


def test_h36m_cameras_keep_visible_runs_only():
    seqs = synthesize([clip(walk(metres=8.0))], cameras="h36m", views_per_clip=4, fps=50.0, seed=0, min_frames=10)
    assert seqs and all(s.fps == 50.0 for s in seqs)
    assert {s.camera.split("-", 1)[1] for s in seqs} <= {"54138969", "55011271", "58860488", "60457274"}
    for seq in seqs:
        assert seq.num_frames >= 10 and seq.poses_3d[..., 2].min() >= 1.0
        assert 3.0 < np.median(seq.poses_3d[:, 0, 2]) < 10.0  # the room's scale, not a far-away camera
        y = seq.keypoints_2d[..., 1]  # image y grows downwards: head above pelvis above ankles
        assert np.all(y[:, 10] < y[:, 0]) and np.all(y[:, 0] < y[:, 3])


def test_bad_arguments_are_input_errors():
    with pytest.raises(InputError, match="noise level"):
        synthesize([clip(walk(seconds=1.0))], noise="loud")
    with pytest.raises(InputError, match="cameras must be"):
        synthesize([clip(walk(seconds=1.0))], cameras="drone")


def test_bandai_long_walks_stay_in_view(shared_dir):
    folder = shared_dir / "data/mocap/bandai-namco/dataset-2"
    clips = load_mocap(sorted(folder.glob("dataset-2_walk_*_00[1-3].bvh")))
    travel = max(np.ptp(c.joints_3d[:, 0, [0, 2]], axis=0).max() for c in clips)
    assert travel > 6.0  # these walks cross the capture area
    for seq in synthesize(clips, views_per_clip=4, seed=0):
        check_in_view(seq)


# ------------------------------------------------------------------------------------------------- noise


def test_bursts_and_fill_missing():
    mask = bursts(np.random.default_rng(0), (20000, 17), rate=0.05, mean_length=4.0)
    assert 0.035 < mask.mean() < 0.065
    runs = np.diff(np.concatenate([np.zeros((1, 17)), mask, np.zeros((1, 17))]).astype(int), axis=0)
    assert 3.0 < mask.sum() / (runs == 1).sum() < 5.5  # mean run length
    values = np.arange(6, dtype=np.float64).reshape(6, 1, 1) * np.ones((1, 2, 2))
    missing = np.zeros((6, 2), dtype=bool)
    missing[1:3, 0] = True  # interior gap
    missing[4:, 1] = True  # gap at the end
    filled = fill_missing(values * 10, missing)
    np.testing.assert_allclose(filled[:, 0, 0], [0, 10, 20, 30, 40, 50])
    np.testing.assert_allclose(filled[:, 1, 0], [0, 10, 20, 30, 30, 30])
    held = fill_missing(values * 10, missing, hold=True)
    np.testing.assert_allclose(held[:, 0, 0], [0, 0, 0, 30, 40, 50])


@pytest.mark.parametrize("name", ["light", "detector", "heavy"])
def test_noise_statistics_follow_the_documented_levels(name):
    level = NOISE_LEVELS[name]
    frames = 6000
    clean = np.repeat((STANDING[:, :2] * [1, -1] * 300 + [500, 800])[None], frames, axis=0)  # ~500 px tall
    size = np.ptp(clean[0], axis=0).max()
    noisy, confidence = add_detector_noise(clean, 30.0, name, np.random.default_rng(0))
    assert noisy.shape == clean.shape and confidence.shape == (frames, 17)
    dropped = confidence == 0
    assert abs(dropped.mean() - level.drop_rate) < 0.5 * level.drop_rate + 0.002
    low = (confidence > 0) & (confidence < 0.55)
    assert abs(low.mean() - level.low_rate) < 0.5 * level.low_rate + 0.003
    # Error of confident centre-line joints (never swapped), per axis, relative to person size and joint.
    centre = [0, 7, 8, 9, 10]
    error = (noisy - clean)[:, centre, 0] / size / JOINT_NOISE_SCALE[centre]
    measured = np.std(error[confidence[:, centre] >= 0.75])
    expected = np.hypot(level.jitter, level.drift)
    assert 0.75 * expected < measured < 1.3 * expected
    # Left/right swaps: a left ankle sitting where the right ankle is.
    swapped = np.linalg.norm(noisy[:, 6] - clean[:, 3], axis=-1) < np.linalg.norm(noisy[:, 6] - clean[:, 6], axis=-1)
    assert abs(swapped.mean() - level.swap_rate * 2 / 3) < 0.5 * level.swap_rate + 0.003


def test_no_noise_is_exact():
    clean = np.random.default_rng(0).uniform(0, 1000, (50, 17, 2))
    noisy, confidence = add_detector_noise(clean, 30.0, "none", np.random.default_rng(0))
    np.testing.assert_allclose(noisy, clean, rtol=1e-6)
    assert np.all(confidence == 1)


def _is_clean(seq: PoseSequence) -> bool:
    camera = camera_of(seq)
    pixels = project(seq.poses_3d.astype(np.float64), camera)
    return bool(np.allclose(image_coordinates(seq.keypoints_2d, camera.width, camera.height), pixels, atol=0.5))


def test_a_noise_mix_gives_each_view_one_of_its_levels():
    seqs = synthesize([clip(walk(seconds=2.0))], views_per_clip=16, noise=("none", "detector"), seed=3)
    clean = [_is_clean(s) for s in seqs]
    assert 3 <= sum(clean) <= 13  # both kinds, about half each
    # One level in a tuple is that level, draw for draw.
    single = synthesize([clip(walk(seconds=2.0))], views_per_clip=3, noise=("detector",), seed=3)
    plain = synthesize([clip(walk(seconds=2.0))], views_per_clip=3, noise="detector", seed=3)
    for x, y in zip(single, plain, strict=True):
        np.testing.assert_array_equal(x.keypoints_2d, y.keypoints_2d)
    with pytest.raises(InputError, match="noise level"):
        synthesize([clip(walk(seconds=1.0))], noise=("none", "loud"))
