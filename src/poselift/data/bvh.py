"""BVH motion capture files: a tolerant reader, and forward kinematics of a file's motion.

BVH conventions honoured here:
- each joint's CHANNELS line gives its own channel order; rotation channels compose in the order listed
  as intrinsic rotations, R = R_ch1 @ R_ch2 @ R_ch3 (angles in degrees);
- position channels, on the root or any other joint, REPLACE that joint's OFFSET (Bandai-Namco files
  repeat the offset in them on every joint; adding them would double the skeleton);
- an End Site becomes an extra joint named `<parent>_End` with no channels;
- world position of a joint = parent position + parent world rotation @ local translation; world
  rotation = parent world rotation @ local rotation.
CRLF/CR line endings, tabs, blank lines and any layout of tokens over lines are accepted; malformed files
raise InputError naming the file and the line. The Euler and kinematics maths are `poselift.geometry`'s.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poselift.errors import InputError
from poselift.geometry import kinematics
from poselift.geometry.euler import euler_to_matrix

_CHANNEL_NAMES = {
    name.lower(): name
    for name in ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
}
_MOTION_RE = re.compile(r"^[ \t]*MOTION[ \t]*$", re.MULTILINE)
MIN_FRAME_TIME = 1e-4
"""Shortest Frame Time accepted, seconds (10,000 fps)."""
MAX_FRAME_TIME = 1.0
"""Longest Frame Time accepted, seconds (1 fps): longer ones would inflate when resampled to a model's rate."""
MAX_DEPTH = 256
"""Deepest joint nesting accepted (real skeletons stay under 30 levels)."""


@dataclass
class BvhMotion:
    """A parsed BVH file.

    joint_names: J names, end sites included as `<parent>_End`; parents: (J,) int, -1 for roots, parents
    always come before their children; offsets: (J, 3) file units; channels: per joint the channel names in
    file order (empty for end sites); motion: (T, C) float64 raw channel values (degrees, file units);
    frame_time: seconds per frame.
    """

    joint_names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    channels: list[list[str]]
    motion: np.ndarray
    frame_time: float
    source: str | None = None

    @property
    def num_frames(self) -> int:
        """The number of frames T."""
        return int(self.motion.shape[0])

    @property
    def num_joints(self) -> int:
        """The number of joints J, end sites included."""
        return len(self.joint_names)

    @property
    def fps(self) -> float:
        """Frames per second (1 / frame_time)."""
        return 1.0 / self.frame_time

    @property
    def channel_starts(self) -> np.ndarray:
        """(J,) int: the column in `motion` of each joint's first channel."""
        counts = np.array([len(c) for c in self.channels], dtype=np.int64)
        return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)

    def index(self, joint_name: str) -> int:
        """The index of a joint by name (InputError if absent)."""
        try:
            return self.joint_names.index(joint_name)
        except ValueError:
            raise InputError(self.source, f"no joint named {joint_name!r}") from None


# ------------------------------------------------------------------------------------------------ parsing


class _Tokens:
    """A stream of (token, line number) pairs from the HIERARCHY part of a file."""

    def __init__(self, lines: list[str], source: str | None):
        self.items = [(tok, n) for n, line in enumerate(lines, 1) for tok in line.split()]
        self.pos = 0
        self.source = source
        self.last_line = len(lines)

    def error(self, problem: str, line: int | None = None) -> InputError:
        if line is None:
            line = self.items[self.pos - 1][1] if 0 < self.pos <= len(self.items) else self.last_line
        return InputError(self.source, f"line {line}: {problem}")

    def peek(self) -> str | None:
        return self.items[self.pos][0] if self.pos < len(self.items) else None

    def next(self, what: str) -> str:
        if self.pos >= len(self.items):
            raise self.error(f"unexpected end of HIERARCHY, expected {what}", self.last_line)
        tok = self.items[self.pos][0]
        self.pos += 1
        return tok

    def name(self, what: str) -> str:
        """A joint name: the rest of the current line (names may contain spaces), minus a trailing '{'."""
        first = self.next(what)
        if first == "{":
            raise self.error(f"expected {what}, found '{{'")
        line = self.items[self.pos - 1][1]
        parts = [first]
        while self.pos < len(self.items) and self.items[self.pos][1] == line and self.items[self.pos][0] != "{":
            parts.append(self.items[self.pos][0])
            self.pos += 1
        return " ".join(parts)

    def expect(self, word: str) -> None:
        tok = self.next(repr(word))
        if tok.upper() != word.upper():
            raise self.error(f"expected {word!r}, found {tok!r}")

    def number(self, what: str) -> float:
        tok = self.next(what)
        try:
            return float(tok)
        except ValueError:
            raise self.error(f"expected a number for {what}, found {tok!r}") from None


class _Hierarchy:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.known: set[str] = set()
        self.parents: list[int] = []
        self.offsets: list[tuple[float, float, float]] = []
        self.channels: list[list[str]] = []


def _parse_joint(tokens: _Tokens, tree: _Hierarchy, name: str, parent: int, end_site: bool, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise tokens.error(f"joints nested more than {MAX_DEPTH} deep (not a real skeleton)")
    index = len(tree.names)
    if name in tree.known:
        raise tokens.error(f"duplicate joint name {name!r}")
    tree.names.append(name)
    tree.known.add(name)
    tree.parents.append(parent)
    tree.offsets.append((0.0, 0.0, 0.0))
    tree.channels.append([])
    tokens.expect("{")
    seen_offset = False
    while True:
        tok = tokens.next("'}'")
        key = tok.upper()
        if key == "}":
            break
        if key == "OFFSET":
            tree.offsets[index] = tuple(tokens.number(f"OFFSET of {name}") for _ in range(3))
            seen_offset = True
        elif key == "CHANNELS":
            if end_site:
                raise tokens.error(f"End Site of {tree.names[parent]} has CHANNELS")
            count_tok = tokens.next("a channel count")
            if not count_tok.isdigit():
                raise tokens.error(f"expected a channel count for {name}, found {count_tok!r}")
            names = []
            for _ in range(int(count_tok)):
                ch = tokens.next(f"{count_tok} channel names for {name}")
                if ch.lower() not in _CHANNEL_NAMES:
                    raise tokens.error(
                        f"joint {name}: CHANNELS {count_tok} lists {ch!r}, expected one of "
                        f"Xposition Yposition Zposition Xrotation Yrotation Zrotation (wrong channel count?)"
                    )
                names.append(_CHANNEL_NAMES[ch.lower()])
            if len(set(names)) != len(names):
                raise tokens.error(f"joint {name}: repeated channel in {names}")
            tree.channels[index] = names
        elif key == "JOINT":
            if end_site:
                raise tokens.error("an End Site cannot have children")
            _parse_joint(tokens, tree, tokens.name("a joint name"), index, end_site=False, depth=depth + 1)
        elif key == "END":
            if end_site:
                raise tokens.error("an End Site cannot have children")
            tokens.expect("Site")
            end_name = f"{name}_End"
            suffix = 2
            while end_name in tree.known:
                end_name, suffix = f"{name}_End{suffix}", suffix + 1
            _parse_joint(tokens, tree, end_name, index, end_site=True, depth=depth + 1)
        else:
            raise tokens.error(f"unexpected {tok!r} in joint {name}")
    if not seen_offset:
        raise tokens.error(f"joint {name} has no OFFSET")


def _parse_hierarchy(lines: list[str], source: str | None) -> _Hierarchy:
    tokens = _Tokens(lines, source)
    tree = _Hierarchy()
    if tokens.peek() is None:
        raise InputError(source, "empty HIERARCHY (not a BVH file?)")
    if tokens.peek().upper() == "HIERARCHY":
        tokens.next("HIERARCHY")
    else:
        raise tokens.error(f"expected 'HIERARCHY', found {tokens.peek()!r} (not a BVH file?)", 1)
    while tokens.peek() is not None:
        tokens.expect("ROOT")
        _parse_joint(tokens, tree, tokens.name("a root name"), -1, end_site=False)
    if not tree.names:
        raise InputError(source, "HIERARCHY has no ROOT joint")
    return tree


def _parse_motion_header(lines: list[str], first_line: int, source: str | None) -> tuple[int, float, int]:
    """Parse `Frames:` and `Frame Time:`; return (frames, frame_time, index of the first data line)."""
    values: dict[str, str] = {}
    i = 0
    for key in ("frames", "frame time"):
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i >= len(lines):
            raise InputError(source, f"line {first_line + i}: missing '{key.title()}:' after MOTION")
        line = lines[i]
        head, sep, value = line.partition(":")
        if not sep or " ".join(head.split()).lower() != key:
            found = line.strip()
            raise InputError(source, f"line {first_line + i}: expected '{key.title()}: ...', found {found!r}")
        values[key] = value.strip()
        i += 1
    try:
        frames = int(float(values["frames"]))
    except (ValueError, OverflowError):
        raise InputError(source, f"line {first_line}: Frames is not a number: {values['frames']!r}") from None
    try:
        frame_time = float(values["frame time"])
    except ValueError:
        raise InputError(source, f"Frame Time is not a number: {values['frame time']!r}") from None
    if frames < 0:
        raise InputError(source, f"Frames must not be negative, found {frames}")
    if not MIN_FRAME_TIME <= frame_time <= MAX_FRAME_TIME:
        raise InputError(source, f"Frame Time must be {MIN_FRAME_TIME:g} to {MAX_FRAME_TIME:g} seconds, "
                                 f"found {values['frame time']!r}")
    return frames, frame_time, i


def parse_bvh(text: str, source: str | Path | None = None) -> BvhMotion:
    """Parse BVH text (the contents of a .bvh file); `source` names it in error messages."""
    src = None if source is None else str(source)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    match = _MOTION_RE.search(text)
    if match is None:
        raise InputError(src, "no MOTION section (not a BVH file, or truncated?)")
    header_lines = text[: match.start()].split("\n")
    tree = _parse_hierarchy(header_lines, src)
    motion_first_line = len(header_lines) + 1  # line number of the line after "MOTION"
    body = text[match.end() + 1:].split("\n")
    frames, frame_time, data_start = _parse_motion_header(body, motion_first_line, src)
    num_channels = sum(len(c) for c in tree.channels)

    rows = [line.split() for line in body[data_start:]]
    counts = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    nonblank = np.flatnonzero(counts)
    if nonblank.size < frames:
        raise InputError(src, f"truncated MOTION: Frames says {frames}, found {nonblank.size} rows of data")
    used = nonblank[:frames]  # rows beyond `Frames` are ignored
    wrong = used[counts[used] != num_channels]
    if wrong.size:
        row = int(wrong[0])
        raise InputError(
            src,
            f"line {motion_first_line + data_start + row}: expected {num_channels} values per frame "
            f"(the CHANNELS of the HIERARCHY), found {counts[row]}",
        )
    flat = list(itertools.chain.from_iterable(rows[r] for r in used))
    try:
        motion = np.array(flat, dtype=np.float64).reshape(frames, num_channels)
    except ValueError:
        for r in used:
            for tok in rows[r]:
                try:
                    float(tok)
                except ValueError:
                    raise InputError(
                        src, f"line {motion_first_line + data_start + int(r)}: not a number: {tok!r}"
                    ) from None
        raise
    if not np.isfinite(motion).all():
        r = int(np.flatnonzero(~np.isfinite(motion).all(axis=1))[0])
        raise InputError(src, f"line {motion_first_line + data_start + int(used[r])}: NaN or infinite value")
    return BvhMotion(
        joint_names=tree.names,
        parents=np.array(tree.parents, dtype=np.int64),
        offsets=np.array(tree.offsets, dtype=np.float64).reshape(-1, 3),
        channels=tree.channels,
        motion=motion,
        frame_time=frame_time,
        source=src,
    )


def read_bvh(path: str | Path) -> BvhMotion:
    """Read a .bvh file (any channel order, end sites, CRLF); InputError with file and line if malformed."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(path, f"cannot read: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return parse_bvh(text, source=path)


# ------------------------------------------------------------------------------------ forward kinematics


def local_transforms(
    motion: BvhMotion, frames: slice | np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint local rotations (T, J, 3, 3) and translations (T, J, 3, file units) for the given frames."""
    values = motion.motion if frames is None else motion.motion[frames]
    values = np.atleast_2d(values)
    num_frames, num_joints = values.shape[0], motion.num_joints
    rotations = np.empty((num_frames, num_joints, 3, 3))
    translations = np.empty((num_frames, num_joints, 3))
    starts = motion.channel_starts
    for j, names in enumerate(motion.channels):
        translations[:, j] = motion.offsets[j]
        rot = np.broadcast_to(np.eye(3), (num_frames, 3, 3))
        order = ""
        columns = []
        for k, name in enumerate(names):
            column = values[:, starts[j] + k]
            if name.endswith("position"):
                translations[:, j, "XYZ".index(name[0])] = column
            else:
                order += name[0]
                columns.append(column)
        if order:
            rot = euler_to_matrix(np.stack(columns, axis=-1), order)
        rotations[:, j] = rot
    return rotations, translations


def forward_kinematics(
    motion: BvhMotion, frames: slice | np.ndarray | None = None, return_rotations: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """World positions of every joint (end sites included): (T, J, 3) in the file's units.

    Vectorised over frames; `frames` selects a subset (slice or index array). With return_rotations=True
    also returns the world rotation of every joint, (T, J, 3, 3).
    """
    local_rot, local_pos = local_transforms(motion, frames)
    world_pos, world_rot = kinematics.forward_kinematics(motion.parents, local_rot, local_pos)
    if return_rotations:
        return world_pos, world_rot
    return world_pos
