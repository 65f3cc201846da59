"""process_video end to end on synthetic clips, with a stand-in lifter that knows the true 3D poses."""

from __future__ import annotations

import json
from functools import partial

import numpy as np
import pytest

from poselift.body_size import stature
from poselift.cli import main
from poselift.errors import InputError
from poselift.video.keypoint_files import read_keypoints
from poselift.video.pipeline import process_video as _process_video
from poselift.video.synthetic import synthesize_walk, write_stick_video

# These tests use stand-in lifters whose size is exact: keep it (the pipeline's default gives an adult's height).
process_video = partial(_process_video, person_height=None)

OUTPUTS = {"poses_3d.npz", "poses_3d.json", "keypoints_2d.npz", "render.mp4", "viewer.html"}


class OracleLifter:
    """Returns the clip's true root-relative poses, resampled to whatever frame count it is given."""

    def __init__(self, clip, fps=30.0):
        self.clip, self.fps, self.calls = clip, fps, []

    def lift(self, keypoints):
        self.calls.append(keypoints.shape)
        relative = self.clip.poses_camera - self.clip.poses_camera[:, :1]
        index = np.round(np.linspace(0, len(relative) - 1, len(keypoints))).astype(int)
        return relative[index].astype(np.float32)


@pytest.fixture(scope="module")
def clip():
    return synthesize_walk(seconds=2.0, width=320, height=180)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, clip):
    folder = tmp_path_factory.mktemp("inputs")
    write_stick_video(folder / "walk.mp4", clip)
    np.savez(folder / "walk.npz", keypoints_2d=clip.keypoints_2d, confidence=np.ones(clip.keypoints_2d.shape[:2]),
             image_size=np.array([clip.width, clip.height]))
    return folder


def test_video_with_keypoints_gives_every_output(tmp_path, clip, inputs):
    out = tmp_path / "out"
    result = process_video(inputs / "walk.mp4", out, keypoints=inputs / "walk.npz", focal=clip.focal,
                           lifter=OracleLifter(clip), progress=False)
    assert {p.name for p in out.iterdir()} == OUTPUTS
    count = len(clip.times)
    with np.load(out / "poses_3d.npz") as data:
        assert data["poses_3d"].shape == data["poses_world"].shape == (count, 17, 3)
        assert data["trajectory"].shape == (count, 3) and data["confidence"].shape == (count, 17)
        assert data["valid"].all() and float(data["fps"]) == pytest.approx(30, rel=0.01)
        np.testing.assert_allclose(data["poses_3d"][:, 0], 0, atol=1e-6)
        root_error = np.linalg.norm(data["trajectory"] - clip.poses_camera[:, 0], axis=1)
        assert root_error.mean() < 0.03
        np.testing.assert_allclose(data["poses_world"][..., 1], clip.poses_world[..., 1], atol=0.03)
        world = data["world_from_camera"]
        absolute = data["poses_3d"] + data["trajectory"][:, None]
        np.testing.assert_allclose(absolute @ world[:3, :3].T + world[:3, 3], data["poses_world"], atol=1e-4)
    document = json.loads((out / "poses_3d.json").read_text())
    assert document["units"] == "metres" and document["joint_names"][10] == "head"
    assert "y up" in document["coordinate_frames"]["world"] and len(document["frames"]) == count
    assert len(document["frames"][0]["confidence"]) == 17
    again = read_keypoints(out / "keypoints_2d.npz")  # our own 2D output reads back in
    np.testing.assert_allclose(again.frames[10][0].keypoints, clip.keypoints_2d[10], atol=1e-3)
    assert result.speeds["render"] > 0 and set(result.stage_seconds) >= {"2d", "track", "lift", "render"}
    assert "frames: 60" in result.summary()


def test_keypoints_are_lifted_at_the_model_frame_rate(tmp_path, clip, inputs):
    slow = synthesize_walk(seconds=2.0, fps=15.0, width=320, height=180)
    np.savez(tmp_path / "slow.npz", keypoints_2d=slow.keypoints_2d, image_size=np.array([320, 180]),
             fps=np.float64(15))
    lifter = OracleLifter(slow, fps=30.0)
    result = process_video(tmp_path / "slow.npz", tmp_path / "out", lifter=lifter, render=False, viewer=False,
                           progress=False)
    assert lifter.calls == [(59, 17, 2)]  # 30 frames at 15 fps span 29/15 s: 59 frames at 30 fps
    assert result.person.poses_3d.shape == (30, 17, 3)
    assert not (tmp_path / "out" / "render.mp4").exists()


def test_a_known_height_scales_the_person_and_their_distance(tmp_path, clip, inputs):
    """A lifter whose people are 20 % too small: with the true height the skeleton and the trajectory are right."""
    small = OracleLifter(clip)
    small.lift = lambda keypoints: OracleLifter.lift(small, keypoints) * 0.8
    truth = stature(clip.poses_world)
    shrunk = process_video(None, tmp_path / "a", keypoints=inputs / "walk.npz", focal=clip.focal, lifter=small,
                           render=False, viewer=False, progress=False)
    told = process_video(None, tmp_path / "b", keypoints=inputs / "walk.npz", focal=clip.focal, lifter=small,
                         render=False, viewer=False, progress=False, person_height=truth)
    assert stature(shrunk.person.poses_3d) == pytest.approx(0.8 * truth, rel=1e-3)
    assert stature(told.person.poses_3d) == pytest.approx(truth, rel=1e-3)
    depth_error = [np.abs(r.person.trajectory[:, 2] - clip.poses_camera[:, 0, 2]).mean() for r in (shrunk, told)]
    assert depth_error[1] < 0.03 < depth_error[0]  # the smaller body was placed closer to the camera
    with pytest.raises(InputError, match="give metres"):
        process_video(None, tmp_path / "c", keypoints=inputs / "walk.npz", lifter=small, person_height=175.0)
    assert not (tmp_path / "c").exists()
    from poselift.body_size import ADULT_HEIGHT

    untold = _process_video(None, tmp_path / "d", keypoints=inputs / "walk.npz", focal=clip.focal, lifter=small,
                            render=False, viewer=False, progress=False)  # the pipeline's own default
    assert stature(untold.person.poses_3d) == pytest.approx(ADULT_HEIGHT, rel=1e-3)


def test_nobody_in_the_clip_is_one_error_and_no_output(tmp_path, clip, inputs):
    empty = tmp_path / "nobody.npz"
    np.savez(empty, keypoints_2d=clip.keypoints_2d, image_size=np.array([320, 180]),
             valid=np.zeros(len(clip.times), bool))
    out = tmp_path / "out"
    with pytest.raises(InputError, match="no person found in any of the 60 frames"):
        process_video(inputs / "walk.mp4", out, keypoints=empty, lifter=OracleLifter(clip), progress=False)
    assert not out.exists()


def test_choose_a_person_or_lift_everybody(tmp_path, clip, inputs):
    entries = []
    for t in range(len(clip.times)):
        for shift, scale in ((0.0, 1.0), (150.0, 0.6)):  # a second, smaller person to the right
            points = (clip.keypoints_2d[t] - clip.keypoints_2d[t, 0]) * scale + clip.keypoints_2d[t, 0] + [shift, 0]
            flat = np.concatenate([points, np.ones((17, 1))], axis=1).ravel().tolist()
            entries.append({"image_id": t, "category_id": 1, "keypoints": flat})
    coco_like = tmp_path / "two.json"  # H36M-layout points in a COCO-style list: the layout is given below
    coco_like.write_text(json.dumps(entries))
    lifter = OracleLifter(clip)
    result = process_video(inputs / "walk.mp4", tmp_path / "all", keypoints=coco_like, layout="h36m17",
                           all_people=True, lifter=lifter, render=False, progress=False)
    assert len(result.track_ids) == 2 and len(result.people) == 2
    main_id = result.person.id
    with np.load(tmp_path / "all" / "poses_3d.npz") as data:
        assert data["people_poses_world"].shape == (2, len(clip.times), 17, 3)
        assert int(data["people_ids"][0]) == main_id == int(data["person_id"])
    other = [i for i in result.track_ids if i != main_id][0]
    chosen = process_video(inputs / "walk.mp4", tmp_path / "one", keypoints=coco_like, layout="h36m17",
                           person=other, lifter=lifter, render=False, viewer=False, progress=False)
    assert chosen.person.id == other and len(chosen.people) == 1
    # The smaller person is further away for the same 3D size.
    assert np.nanmean(chosen.person.trajectory[:, 2]) > np.nanmean(result.person.trajectory[:, 2]) * 1.4
    with pytest.raises(InputError, match="ids found"):
        process_video(inputs / "walk.mp4", tmp_path / "bad", keypoints=coco_like, layout="h36m17", person=99,
                      lifter=lifter, progress=False)


def test_cli_video_runs_and_reports_errors_in_one_line(tmp_path, clip, capsys):
    short = tmp_path / "short.npz"
    np.savez(short, keypoints_2d=clip.keypoints_2d[:8], image_size=np.array([320, 180]))
    out = tmp_path / "cli"
    status = main(["video", str(short), "-o", str(out), "--no-render", "--quiet"])
    assert status == 0
    assert {p.name for p in out.iterdir()} == OUTPUTS - {"render.mp4"}
    assert "frames: 8" in capsys.readouterr().out
    status = main(["video", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "x")])
    error = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and error == [f"poselift: error: {tmp_path / 'missing.mp4'}: no such file"]


def test_video_bvh_output_reproduces_the_world_poses(tmp_path, clip, inputs):
    from poselift.data.bvh import forward_kinematics, read_bvh

    out = tmp_path / "out"
    process_video(None, out, keypoints=inputs / "walk.npz", focal=clip.focal, lifter=OracleLifter(clip),
                  render=False, viewer=False, progress=False, bvh="h36m", fps=30.0)
    motion = read_bvh(out / "animation.bvh")
    assert motion.num_frames == len(clip.times) and abs(motion.fps - 30) < 0.1
    with np.load(out / "poses_3d.npz") as data:
        world = data["poses_world"]
    positions = forward_kinematics(motion) / 100  # centimetres -> metres
    pelvis = positions[:, motion.index("pelvis")]
    # The rig fixes bone lengths, so compare the root path (which the BVH root carries exactly).
    np.testing.assert_allclose(pelvis, world[:, 0], atol=0.01)


def _coco_entries(points_by_frame: dict[int, list[np.ndarray]]) -> list[dict]:
    entries = []
    for t, people in points_by_frame.items():
        for points in people:
            flat = np.concatenate([points, np.ones((17, 1))], axis=1).ravel().tolist()
            entries.append({"image_id": t, "category_id": 1, "keypoints": flat})
    return entries


def test_every_person_is_lifted_over_their_own_span_and_a_phantom_is_not(tmp_path, clip, inputs):
    """A walks in frames 0-39, B in 25-59 (to the right, smaller), and a 'person' seen in 4 frames only."""
    from poselift.data.bvh import read_bvh

    frames: dict[int, list[np.ndarray]] = {t: [] for t in range(60)}
    for t in range(40):
        frames[t].append(clip.keypoints_2d[t])
    for t in range(25, 60):
        centre = clip.keypoints_2d[t, 0]
        frames[t].append((clip.keypoints_2d[t] - centre) * 0.6 + centre + [100, 0])
    for t in range(10, 14):
        frames[t].append(clip.keypoints_2d[0] * 0.3 + [250, 100])
    (tmp_path / "people.json").write_text(json.dumps(_coco_entries(frames)))
    lifter = OracleLifter(clip)
    out = tmp_path / "out"
    result = process_video(inputs / "walk.mp4", out, keypoints=tmp_path / "people.json", layout="h36m17",
                           focal=clip.focal, lifter=lifter, progress=False, bvh="h36m")
    assert len(result.track_ids) == 3 and len(result.people) == 2  # the 4-frame track is not lifted
    assert sorted(shape[0] for shape in lifter.calls) == [35, 40]  # each person over their own span only
    assert any("not lifted" in note for note in result.notes)
    with np.load(out / "poses_3d.npz") as data:
        valid, world = data["people_valid"], data["people_poses_world"]
        assert valid.shape == (2, 60) and world.shape == (2, 60, 17, 3)
        spans = sorted((int(np.nonzero(v)[0][0]), int(np.nonzero(v)[0][-1])) for v in valid)
        assert spans == [(0, 39), (25, 59)]
        assert np.isnan(world[~valid]).all() and np.isfinite(world[valid]).all()  # nothing where not valid
        assert np.isnan(data["poses_world"][~data["valid"]]).all()
    document = json.loads((out / "poses_3d.json").read_text())
    listed = {p["id"]: p for p in document["people"]}
    assert set(listed) == {q.id for q in result.people}
    for q in result.people:
        entry = listed[q.id]
        assert len(entry["frames"]) == entry["valid_frames"] == int(q.valid.sum())
        motion = read_bvh(out / entry["bvh"])
        assert motion.num_frames == entry["last_frame"] - entry["first_frame"] + 1
    assert (out / "animation.bvh").exists()
    page = (out / "viewer.html").read_text()
    assert str(tmp_path) not in page and '"source":"walk.mp4"' in page  # a file name, no local path
    rendered = [f.image for f in __import__("poselift.video.decode", fromlist=["iter_frames"]).iter_frames(
        out / "render.mp4")]
    from poselift.video.render import PALETTES

    second = np.abs(rendered[50].astype(int) - PALETTES[1][0]).sum(-1) < 60
    first_only = np.abs(rendered[5].astype(int) - PALETTES[1][0]).sum(-1) < 60
    assert second.sum() > 20 and first_only.sum() < 5  # the second colour appears only with the second person


def test_check_person_rejects_short_jittery_and_jumping_tracks(clip):
    from poselift.video.plausibility import check_person

    count = len(clip.times)
    ones, present = np.ones((count, 17)), np.ones(count, bool)
    walker = check_person(clip.keypoints_2d, ones, present, clip.fps)
    assert walker.is_person and walker.reasons == [] and walker.speed < 1.5
    short = present & (np.arange(count) < 10)
    assert not check_person(clip.keypoints_2d, ones, short, clip.fps).is_person
    stray = present & (np.arange(count) % 15 == 0)  # seen once every half second: a long span, few frames
    assert (np.arange(count)[stray][-1] / clip.fps >= 1.0
            and "frames" in check_person(clip.keypoints_2d, ones, stray, clip.fps).reasons[0])
    every_other = present & (np.arange(count) % 2 == 0)  # detector dropouts are not a phantom
    assert check_person(clip.keypoints_2d, ones, every_other, clip.fps).is_person
    unsure = check_person(clip.keypoints_2d, ones * 0.35, present, clip.fps)
    assert not unsure.is_person and "confidence" in unsure.reasons[0]
    rng = np.random.default_rng(1)
    jitter = clip.keypoints_2d + rng.normal(0, 25, clip.keypoints_2d.shape)  # a skeleton that keeps changing
    assert any("bone" in r for r in check_person(jitter, ones, present, clip.fps).reasons)
    # A person turning round: shoulders and hips shrink to nothing in the picture and come back, smoothly.
    centre = clip.keypoints_2d.mean(axis=1, keepdims=True)
    squeeze = np.abs(np.cos(np.linspace(0, 2 * np.pi, count)))[:, None, None] * [1.0, 0.0] + [0.0, 1.0]
    turning = centre + (clip.keypoints_2d - centre) * squeeze
    assert check_person(turning, ones, present, clip.fps).is_person
    jumping = clip.keypoints_2d + np.where(np.arange(count) % 2, 300.0, 0.0)[:, None, None]
    assert any("moves" in r for r in check_person(jumping, ones, present, clip.fps).reasons)
