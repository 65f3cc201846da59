"""Scenes of 1-3 people driven by motion, seen by a static phone- or webcam-like camera, rendered to an MP4
with a ground-truth npz.

A scene is plain data (`Scene`): the people (motion already placed in the scene's world frame, Y up, floor
y = 0, and a body shape each), the camera, the light, the room's look and the picture's noise. `random_scene`
draws one; `render_scene` writes it. The camera is a typical placement (0.8-2 m high, 2-8 m away, tilted
towards the people, 50-90 degree field of view on the long side, 16:9 or 9:16), optionally framing people
from the hips up; people walk their own paths, cross, occlude each other, enter and leave the picture.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from poselift.atomic import atomic_path, save_npz_atomic
from poselift.camera import Camera, look_at
from poselift.scenes.body import Body, BodyShape, make_body, random_shape
from poselift.scenes.posing import PosedBody, pose_body
from poselift.scenes.raster import rasterize
from poselift.scenes.segments import SEGMENTS

SKIN_TONES = ((236, 200, 170), (210, 160, 120), (170, 120, 85), (120, 80, 55), (90, 60, 40))
HAIR = ((30, 25, 20), (70, 45, 25), (140, 100, 60), (200, 170, 110), (100, 100, 100))
CLOTH = ((200, 40, 40), (40, 70, 160), (35, 35, 40), (230, 230, 225), (60, 120, 60), (220, 170, 40),
         (120, 60, 140), (90, 90, 95), (30, 110, 140), (170, 110, 70))
FLOORS = ("tiles", "planks", "checker", "plain")


@dataclass
class Outfit:
    """Colours (RGB 0-255) of skin, hair, shirt, trousers and shoes, and how far sleeves and legs reach."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    shirt: tuple[int, int, int]
    trousers: tuple[int, int, int]
    shoes: tuple[int, int, int]
    long_sleeves: bool = True
    long_trousers: bool = True


@dataclass
class ScenePerson:
    """One person: Human3.6M joints (T, 17, 3) of the motion in the scene's world frame (metres, Y up,
    floor y = 0), the body's shape and outfit, and where the motion came from."""

    motion: np.ndarray
    shape: BodyShape
    outfit: Outfit
    source: str = ""
    start: int = 0
    """The scene frame of the motion's first frame; the person is absent before it and after its end."""

    def active(self, t: int) -> bool:
        """Whether the person is in the scene at frame t."""
        return self.start <= t < self.start + len(self.motion)


@dataclass
class Scene:
    """Everything that decides the pictures: people, camera, light, room and picture quality."""

    people: list[ScenePerson]
    camera: Camera
    fps: float = 30.0
    light: tuple[float, float, float] = (0.4, -1.0, 0.3)
    """Direction the light travels (towards the floor), world frame."""
    ambient: float = 0.45
    floor: str = "tiles"
    floor_colours: tuple[tuple[int, int, int], tuple[int, int, int]] = ((170, 160, 145), (140, 130, 118))
    wall_colour: tuple[int, int, int] = (200, 195, 185)
    wall_distance: float = 4.0
    """Metres behind the scene's centre."""
    noise: float = 2.0
    """Standard deviation of per-pixel noise, grey levels."""
    crf: int = 23
    """H.264 quality of the MP4 (lower is better)."""
    centre: tuple[float, float, float] = (0.0, 0.0, 0.0)
    framing: str = "full"
    seed: int = 0

    @property
    def num_frames(self) -> int:
        """Frames from the first person's start to the last person's end (all start at 0 by default)."""
        return max(p.start + len(p.motion) for p in self.people)


# ------------------------------------------------------------------------------------------ random scenes


def random_outfit(rng: np.random.Generator) -> Outfit:
    """Clothes of random colours (shirt and trousers differ), skin and hair tones, sleeve and leg lengths."""
    shirt, trousers = rng.choice(len(CLOTH), 2, replace=False)
    return Outfit(SKIN_TONES[rng.integers(len(SKIN_TONES))], HAIR[rng.integers(len(HAIR))], CLOTH[shirt],
                  CLOTH[trousers], CLOTH[rng.choice([2, 3, 7])], bool(rng.random() < 0.7),
                  bool(rng.random() < 0.8))


def place_motion(motion: np.ndarray, yaw: float, target: np.ndarray) -> np.ndarray:
    """Turn a motion (T, 17, 3) about the vertical by `yaw` radians and move its mean pelvis over `target`
    (x, z on the floor); heights are kept."""
    c, s = np.cos(yaw), np.sin(yaw)
    rotation = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    turned = motion @ rotation.T
    shift = np.array([target[0], 0.0, target[-1]]) - turned[:, 0].mean(axis=0) * [1.0, 0.0, 1.0]
    return turned + shift


def random_camera(rng: np.random.Generator, centre: np.ndarray, portrait: bool = False, framing: str = "full",
                  long_side: int = 640, body_height: float = 1.75) -> Camera:
    """A phone/webcam placement looking at `centre` (on the floor), 50-90 degrees across the long side, 16:9
    or 9:16: for "full" framing 0.8-2 m high and 2-8 m away, where a standing person fills 35-80 % of the
    picture's height (as a user frames someone); for
    "upper" a webcam 1-1.5 m high and 1-3 m away that frames people from the hips up."""
    short_side = int(round(long_side * 9 / 16)) // 2 * 2
    width, height = (short_side, long_side) if portrait else (long_side, short_side)
    fov = np.radians(rng.uniform(50.0, 90.0))
    focal = (long_side / 2) / np.tan(fov / 2)
    vertical_half = np.arctan((height / 2) / focal)
    cam_height = rng.uniform(0.8, 2.0)
    if framing == "upper":
        # A webcam on a desk: the picture's lower edge near the hips (about 0.75 m below the aim point).
        cam_height = rng.uniform(1.0, 1.5)
        aim = 1.25
        distance = float(np.clip(0.5 / np.tan(vertical_half) * rng.uniform(0.9, 1.2), 1.0, 3.0))
    else:
        # As a user frames someone: a standing person fills 35-80 % of the picture's height, at 2-8 m.
        fill = rng.uniform(0.35, 0.8)
        distance = float(np.clip(body_height * focal / (fill * height), 2.0, 8.0))
        aim = 0.9
    heading = rng.uniform(-np.pi, np.pi)
    position = np.asarray(centre) + distance * np.array([np.sin(heading), 0.0, np.cos(heading)])
    position[1] = cam_height
    rotation = look_at(position, np.asarray(centre) + [0.0, aim, 0.0])
    return Camera(rotation, -rotation @ position, (focal, focal), (width / 2, height / 2), width, height,
                  name="scene")


def random_scene(motions: list[tuple[np.ndarray, str]], rng: np.random.Generator, fps: float = 30.0,
                 portrait: bool | None = None, framing: str | None = None, enter_exit: bool | None = None,
                 long_side: int = 640) -> Scene:
    """A scene with one person per motion (T, 17, 3) world metres Y up: random bodies, outfits, paths
    around the centre (side by side, crossing; with enter_exit the first, if it travels more than 1.5 m,
    walks into or out of view),
    camera, light, room and noise."""
    portrait = bool(rng.random() < 0.25) if portrait is None else portrait
    framing = ("upper" if rng.random() < 0.15 else "full") if framing is None else framing
    enter_exit = bool(rng.random() < 0.2) if enter_exit is None else enter_exit
    centre = np.zeros(3)
    camera = random_camera(rng, centre, portrait, framing, long_side)
    cam_pos = camera.position
    to_camera = (cam_pos - centre) * [1.0, 0.0, 1.0]
    to_camera /= np.linalg.norm(to_camera)
    side = np.cross([0.0, 1.0, 0.0], to_camera)
    people = []
    count = len(motions)
    for k, (motion, source) in enumerate(motions):
        lateral = (k - (count - 1) / 2) * rng.uniform(0.6, 1.2)
        depth = rng.uniform(-0.8, 0.8) if count > 1 else rng.uniform(-0.3, 0.3)
        target = centre + lateral * side - depth * to_camera
        yaw = rng.uniform(-np.pi, np.pi)
        placed = place_motion(motion, yaw, target)
        placed = _keep_away(placed, cam_pos, yaw, target, motion)
        travel = np.linalg.norm((placed[-1, 0] - placed[0, 0]) * [1.0, 0.0, 1.0])
        if enter_exit and k == 0 and travel > 1.5:
            placed = placed + _exit_shift(placed, camera)
        people.append(ScenePerson(placed.astype(np.float64), random_shape(rng), random_outfit(rng), source))
    light = np.array([rng.uniform(-0.8, 0.8), -1.0, rng.uniform(-0.8, 0.8)])
    floor_a = np.array(CLOTH[rng.integers(len(CLOTH))]) * 0.3 + rng.uniform(90, 170) * 0.7
    floor_b = floor_a * rng.uniform(0.7, 0.92)
    wall = np.clip(rng.uniform(140, 235) + rng.normal(0, 15, 3), 0, 255)
    return Scene(people, camera, fps, tuple(light), float(rng.uniform(0.35, 0.6)),
                 FLOORS[rng.integers(len(FLOORS))], (tuple(int(c) for c in floor_a), tuple(int(c) for c in floor_b)),
                 tuple(int(c) for c in wall), float(rng.uniform(3.0, 6.0)), float(rng.uniform(0.0, 4.0)),
                 int(rng.integers(20, 29)), tuple(centre), framing, int(rng.integers(1 << 31)))


def _keep_away(placed: np.ndarray, cam_pos: np.ndarray, yaw: float, target: np.ndarray,
               motion: np.ndarray) -> np.ndarray:
    """Turn a path that would come within 1.2 m of the camera (horizontally) by 90 degrees, then shorten it."""
    def closest(p):
        return np.linalg.norm((p[:, 0] - cam_pos) * [1.0, 0.0, 1.0], axis=1).min()
    if closest(placed) >= 1.2:
        return placed
    placed = place_motion(motion, yaw + np.pi / 2, target)
    if closest(placed) >= 1.2:
        return placed
    pelvis = placed[:, :1] * [1.0, 0.0, 1.0]
    mean = pelvis.mean(axis=0)
    return placed - pelvis + mean + (pelvis - mean) * 0.3


def _exit_shift(placed: np.ndarray, camera: Camera) -> np.ndarray:
    """A sideways shift that puts the start of the person's path just outside the picture (they walk in)."""
    cam = placed[:, 0] @ np.asarray(camera.R).T + camera.t
    x_over_z = cam[:, 0] / cam[:, 2]
    half = camera.width / 2 / camera.focal[0]
    right = np.asarray(camera.R)[0] * [1.0, 0.0, 1.0]
    right /= np.linalg.norm(right)
    depth = cam[0, 2]
    margin = 0.4 / depth
    if x_over_z[-1] < x_over_z[0]:
        shift = (half + margin - x_over_z[0]) * depth
    else:
        shift = (-half - margin - x_over_z[0]) * depth
    return shift * right


# ------------------------------------------------------------------------------------------------ render


@dataclass
class Truth:
    """Ground truth of a rendered scene, per person p and frame t (all metres unless said)."""

    joints_world: np.ndarray
    """(P, T, 17, 3) world frame, Y up, floor at y = 0; NaN where the person is not in the scene."""
    joints_camera: np.ndarray
    """(P, T, 17, 3) camera frame, x right, y down, z forward."""
    joints_2d: np.ndarray
    """(P, T, 17, 2) pixels."""
    in_image: np.ndarray
    """(P, T, 17) the joint projects inside the picture, in front of the camera."""
    visible: np.ndarray
    """(P, T, 17) in the picture and not hidden behind another person."""
    heights: np.ndarray
    """(P,) standing height of each body."""
    times: np.ndarray
    meta: dict = field(default_factory=dict)

    def present(self, min_joints: int = 9) -> np.ndarray:
        """(P, T) a person counts as in view when at least `min_joints` of the 17 joints are visible."""
        return self.visible.sum(axis=-1) >= min_joints


class Renderer:
    """Draws a scene's frames: a static background (floor, wall) computed once, then per frame the
    skinned bodies with flat shading, their shadows on the floor, and picture noise."""

    def __init__(self, scene: Scene):
        self.scene = scene
        cam = scene.camera
        self.width, self.height = int(cam.width), int(cam.height)
        self.K = np.array([[cam.focal[0], 0.0, cam.centre[0]], [0.0, cam.focal[1], cam.centre[1]], [0, 0, 1.0]])
        self.R, self.t = np.asarray(cam.R, dtype=np.float64), np.asarray(cam.t, dtype=np.float64)
        self.light = np.asarray(scene.light, dtype=np.float64) / np.linalg.norm(scene.light)
        self.bodies: list[Body] = [make_body(p.shape) for p in scene.people]
        self.posed: list[PosedBody] = [pose_body(b, p.motion) for b, p in zip(self.bodies, scene.people, strict=True)]
        self.albedo = [_albedo(b, p.outfit) for b, p in zip(self.bodies, scene.people, strict=True)]
        self.background, self.floor_mask = self._background()
        self.rng = np.random.default_rng(scene.seed)
        self._meshes: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _mesh(self, people: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Triangles (F, 3) of the given people's bodies stacked in that order, each triangle's person index
        and albedo (F, 3)."""
        if people not in self._meshes:
            offsets = np.cumsum([0] + [len(self.bodies[k].vertices) for k in people])
            faces = np.concatenate([self.bodies[k].faces + offsets[i] for i, k in enumerate(people)])
            owner = np.concatenate([np.full(len(self.bodies[k].faces), k) for k in people])
            albedo = np.concatenate([self.albedo[k] for k in people])
            self._meshes[people] = faces, owner, albedo
        return self._meshes[people]

    def project(self, world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (..., 3) -> pixels (..., 2) and camera-frame depth (...)."""
        cam = world @ self.R.T + self.t
        z = cam[..., 2]
        xy = cam[..., :2] / np.where(np.abs(z) < 1e-9, 1e-9, z)[..., None] * self.K[[0, 1], [0, 1]] + self.K[:2, 2]
        return xy, z

    def _background(self) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) float32 floor and wall as lit by the scene's light, and the (H, W) floor mask."""
        s = self.scene
        ys, xs = np.mgrid[0:self.height, 0:self.width] + 0.5
        rays_cam = np.stack([(xs - self.K[0, 2]) / self.K[0, 0], (ys - self.K[1, 2]) / self.K[1, 1],
                             np.ones_like(xs)], axis=-1)
        rays = rays_cam @ self.R
        origin = s.camera.position
        forward = self.R[2] * [1.0, 0.0, 1.0]
        forward /= np.linalg.norm(forward)
        wall_point = np.asarray(s.centre) + forward * s.wall_distance
        t_floor = np.where(rays[..., 1] < -1e-6, -origin[1] / np.minimum(rays[..., 1], -1e-6), np.inf)
        denom = rays @ forward
        t_wall = np.where(denom > 1e-6, ((wall_point - origin) @ forward) / np.maximum(denom, 1e-6), np.inf)
        floor = t_floor < t_wall
        hit = origin + rays * np.minimum(t_floor, t_wall)[..., None]
        a, b = np.array(s.floor_colours[0], np.float32), np.array(s.floor_colours[1], np.float32)
        u, v = hit[..., 0], hit[..., 2]
        if s.floor == "tiles":
            lines = (np.abs((u / 0.5) % 1 - 0.5) > 0.47) | (np.abs((v / 0.5) % 1 - 0.5) > 0.47)
            pattern = np.where(lines[..., None], b * 0.8, a)
        elif s.floor == "planks":
            plank = np.floor(u / 0.18)
            shade = 0.85 + 0.15 * np.sin(plank * 12.9898) ** 2
            grain = 0.04 * np.sin(v * 40 + plank * 3)
            pattern = a * (shade + grain)[..., None]
        elif s.floor == "checker":
            pattern = np.where(((np.floor(u / 0.6) + np.floor(v / 0.6)) % 2 == 0)[..., None], a, b)
        else:
            pattern = a * (1.0 + 0.03 * np.sin(u * 7.0) * np.sin(v * 5.0))[..., None]
        lit = s.ambient + (1 - s.ambient) * max(0.0, -self.light[1])
        wall_lit = s.ambient + (1 - s.ambient) * max(0.0, float(-(self.light @ -forward)))
        fade = 1.0 - 0.15 * np.clip(hit[..., 1] / 3.0, 0, 1)
        wall = np.array(s.wall_colour, np.float32) * wall_lit * fade[..., None]
        image = np.where(floor[..., None], pattern * lit, wall)
        return np.clip(image, 0, 255).astype(np.float32), floor

    def frame(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame t: the RGB image (H, W, 3) uint8 and the (H, W) person index seen at each pixel (-1 none)."""
        s = self.scene
        people = tuple(k for k, p in enumerate(s.people) if p.active(t))
        image = self.background.copy()
        if not people:
            if s.noise > 0:
                image += self.rng.normal(0.0, s.noise, image.shape).astype(np.float32)
            return np.clip(image, 0, 255).astype(np.uint8), np.full((self.height, self.width), -1, np.int8)
        faces, owner, albedo = self._mesh(people)
        vertices = np.concatenate([self.posed[k].vertices(t - s.people[k].start) for k in people])
        xy, z = self.project(vertices)
        fragments = rasterize(xy, z, faces, self.width, self.height)
        shadow = self._shadow(vertices, faces)
        image[shadow] *= 0.55
        tri = vertices[faces]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
        light = s.ambient + (1 - s.ambient) * np.clip(normal @ -self.light, 0.0, 1.0)
        fill = 0.15 * np.clip(normal @ (self.R[2] * -1.0), 0.0, 1.0)
        colours = albedo * (light + fill)[:, None]
        covered = fragments.face >= 0
        image[covered] = colours[fragments.face[covered]]
        if s.noise > 0:
            image += self.rng.normal(0.0, s.noise, image.shape).astype(np.float32)
        person = np.where(covered, owner[np.maximum(fragments.face, 0)], -1)
        return np.clip(image, 0, 255).astype(np.uint8), person

    def _shadow(self, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
        """(H, W) bool: floor pixels in the people's shadow (the mesh projected along the light, at half
        resolution, softened)."""
        on_floor = vertices - vertices[:, 1:2] / self.light[1] * self.light
        xy, z = self.project(on_floor)
        w2, h2 = (self.width + 1) // 2, (self.height + 1) // 2
        fragments = rasterize(xy / 2, z, faces, w2, h2, cull_back=False)
        mask = np.repeat(np.repeat(fragments.face >= 0, 2, axis=0), 2, axis=1)[: self.height, : self.width]
        return mask & self.floor_mask

    def truth(self, person_index: np.ndarray | None = None) -> Truth:
        """Ground truth of every person and frame (visibility needs the rendered person index per frame,
        (T, H, W); without it only the picture's border is taken into account)."""
        joints = np.full((len(self.posed), self.scene.num_frames, 17, 3), np.nan)
        for k, (person, posed) in enumerate(zip(self.scene.people, self.posed, strict=True)):
            joints[k, person.start:person.start + posed.num_frames] = posed.joints
        xy, z = self.project(joints)
        with np.errstate(invalid="ignore"):
            inside = (z > 0.1) & (xy[..., 0] >= 0) & (xy[..., 0] < self.width) & (xy[..., 1] >= 0) & \
                     (xy[..., 1] < self.height)
        visible = inside.copy()
        if person_index is not None:
            px = np.clip(np.nan_to_num(xy[..., 0]).astype(int), 0, self.width - 1)
            py = np.clip(np.nan_to_num(xy[..., 1]).astype(int), 0, self.height - 1)
            frames = np.arange(joints.shape[1])[None, :, None]
            seen = person_index[frames, py, px]
            own = np.arange(len(self.posed))[:, None, None]
            visible &= (seen == own) | (seen < 0)
        camera = joints @ self.R.T + self.t
        times = np.arange(joints.shape[1]) / self.scene.fps
        return Truth(joints, camera, xy, inside, visible, np.array([b.height for b in self.bodies]), times)


def _albedo(body: Body, outfit: Outfit) -> np.ndarray:
    """(F, 3) float32 colour of each triangle by body region: skin, hair, shirt, trousers, shoes."""
    seg = body.vertex_segment[body.faces[:, 0]]
    names = np.array(SEGMENTS)[seg]
    colour = np.empty((len(body.faces), 3), np.float32)
    colour[:] = outfit.shirt
    skin = np.isin(names, ["head", "neck", "hand_l", "hand_r"])
    if not outfit.long_sleeves:
        skin |= np.isin(names, ["forearm_l", "forearm_r"])
    colour[skin] = outfit.skin
    legs = np.isin(names, ["pelvis", "thigh_l", "thigh_r", "shin_l", "shin_r"])
    colour[legs] = outfit.trousers
    if not outfit.long_trousers:
        colour[np.isin(names, ["shin_l", "shin_r"])] = outfit.skin
    colour[np.isin(names, ["foot_l", "foot_r"])] = outfit.shoes
    rest = body.vertices[body.faces].mean(axis=1)
    head = body.joints[10]
    hair = (seg == SEGMENTS.index("head")) & ((rest[:, 1] > head[1] - 0.07)
                                              | ((rest[:, 2] < head[2] - 0.04) & (rest[:, 1] > head[1] - 0.17)))
    colour[hair] = outfit.hair
    if body.face_groups is not None:
        colour[body.face_groups > 0] = (245, 245, 245)
    return colour


def render_scene(scene: Scene, video_path: str | Path, truth_path: str | Path | None = None,
                 progress=None) -> Truth:
    """Render `scene` to an H.264 MP4 (atomically) and, with truth_path, write its ground-truth npz; returns
    the truth. `progress` (optional) is called with each finished frame's index."""
    from poselift.video.render import VideoWriter

    renderer = Renderer(scene)
    count = scene.num_frames
    person_index = np.empty((count, renderer.height, renderer.width), np.int8)
    start = time.perf_counter()
    with atomic_path(Path(video_path)) as tmp, VideoWriter(tmp, renderer.width, renderer.height, scene.fps,
                                                           background=True) as writer:
        if writer.codec == "libx264":
            writer.stream.options = {"preset": "veryfast", "crf": str(scene.crf)}
        for t in range(count):
            image, person_index[t] = renderer.frame(t)
            writer.write(image, t / scene.fps)
            if progress is not None:
                progress(t)
    seconds = time.perf_counter() - start
    truth = renderer.truth(person_index)
    truth.meta = scene_meta(scene, renderer, seconds)
    if truth_path is not None:
        save_truth(truth_path, truth, renderer)
    return truth


def scene_meta(scene: Scene, renderer: Renderer, seconds: float) -> dict:
    """A JSON-able description of the scene (camera, light, room, people's shapes and sources)."""
    cam = scene.camera
    return {
        "fps": scene.fps, "frames": scene.num_frames, "image_size": [renderer.width, renderer.height],
        "focal_px": float(cam.focal[0]), "camera_height_m": float(cam.position[1]),
        "camera_distance_m": float(np.linalg.norm((cam.position - np.asarray(scene.centre)) * [1, 0, 1])),
        "camera_tilt_deg": float(np.degrees(np.arcsin(np.clip(-np.asarray(cam.R)[2, 1], -1, 1)))),
        "hfov_deg": float(cam.horizontal_fov), "framing": scene.framing, "floor": scene.floor,
        "noise": scene.noise, "crf": scene.crf, "render_seconds": round(seconds, 3),
        "render_fps": round(scene.num_frames / max(seconds, 1e-9), 2),
        "people": [{"source": p.source, "shape": asdict(p.shape), "height_m": round(b.height, 4)}
                   for p, b in zip(scene.people, renderer.bodies, strict=True)],
    }


def save_truth(path: str | Path, truth: Truth, renderer: Renderer) -> None:
    """The ground-truth npz: joints per person and frame in both frames, 2D, visibility, camera."""
    save_npz_atomic(
        Path(path), joints_world=truth.joints_world.astype(np.float32),
        joints_camera=truth.joints_camera.astype(np.float32), joints_2d=truth.joints_2d.astype(np.float32),
        in_image=truth.in_image, visible=truth.visible, heights=truth.heights.astype(np.float32),
        times=truth.times, fps=np.float64(renderer.scene.fps), intrinsics=renderer.K, rotation=renderer.R,
        translation=renderer.t, camera_position=renderer.scene.camera.position,
        image_size=np.array([renderer.width, renderer.height]), meta=np.array(json.dumps(truth.meta)),
    )


def load_truth(path: str | Path) -> Truth:
    """Read a ground-truth npz written by render_scene."""
    with np.load(path) as data:
        return Truth(data["joints_world"], data["joints_camera"], data["joints_2d"], data["in_image"],
                     data["visible"], data["heights"], data["times"], json.loads(str(data["meta"])))
