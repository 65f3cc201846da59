"""VMC protocol sender: drive a VRM/Unity humanoid avatar over OSC/UDP ("Performer" -> "Marionette").

Per frame one OSC bundle (time tag 'immediately') holding, in order:
- /VMC/Ext/OK (int)1                                   model loaded, data valid;
- /VMC/Ext/T (float)seconds                            sender's time since the stream started;
- /VMC/Ext/Root/Pos (string)"root" p.x p.y p.z q.x q.y q.z q.w   the avatar root: origin, no rotation;
- /VMC/Ext/Bone/Pos (string)name p.x p.y p.z q.x q.y q.z q.w     per bone, its LOCAL position and rotation
  (relative to its parent), name from Unity's HumanBodyBones (Hips, Spine, Chest, Neck, Head, LeftShoulder,
  LeftUpperArm, LeftLowerArm, LeftHand, LeftUpperLeg, LeftLowerLeg, LeftFoot and the Right ones).
Rotations are relative to the T-pose, as for a VRM-normalised avatar whose bones all have identity rest
rotations; Hips carries the body position above the floor (metres), other bones their rest offsets.

Coordinates: poselift's world is right-handed, Y up, the character facing +Z (its left is +X). Unity is
left-handed, Y up, characters facing +Z (their right is +X). The conversion mirrors X:
position (x, y, z) -> (-x, y, z); rotation quaternion (w, x, y, z) -> (w, x, -y, -z), sent as
(q.x, q.y, q.z, q.w) = (x, -y, -z, w). Marionettes commonly listen on UDP port 39539.
"""

from __future__ import annotations

import socket
import time

import numpy as np

from poselift.errors import InputError
from poselift.export import osc
from poselift.export.rig import JOINTS, Rig
from poselift.geometry import quaternions as quat

DEFAULT_PORT = 39539
"""The port VMC Marionettes (EVMC4U, VSeeFace's receiver, VMC4B, ...) listen on by default."""

VMC_BONES: tuple[int, ...] = tuple(j for j, spec in enumerate(JOINTS) if spec.humanoid != "HeadTop_End")
"""Rig joints sent as VMC bones (every humanoid joint but the head-top helper)."""

MIRROR_X = np.array([-1.0, 1.0, 1.0])


def to_unity_position(p: np.ndarray) -> np.ndarray:
    """Positions (..., 3) from poselift's right-handed world to Unity's left-handed frame (mirror X)."""
    return np.asarray(p, dtype=np.float64) * MIRROR_X


def to_unity_quaternion(q: np.ndarray) -> np.ndarray:
    """Rotations (..., 4) (w, x, y, z) in poselift's world -> Unity (..., 4) ordered (x, y, z, w), mirrored X."""
    q = np.asarray(q, dtype=np.float64)
    return np.stack([q[..., 1], -q[..., 2], -q[..., 3], q[..., 0]], axis=-1)


def from_unity_quaternion(q_xyzw: np.ndarray) -> np.ndarray:
    """The inverse of to_unity_quaternion: Unity (x, y, z, w) -> poselift (w, x, y, z)."""
    q = np.asarray(q_xyzw, dtype=np.float64)
    return np.stack([q[..., 3], q[..., 0], -q[..., 1], -q[..., 2]], axis=-1)


def frame_bundle(rig: Rig, hips_position: np.ndarray, local_rotations: np.ndarray, seconds: float) -> osc.Bundle:
    """One frame as a VMC OSC bundle. hips_position: (3,) metres, poselift world (Y up, floor at 0);
    local_rotations: (J, 3, 3) the rig joints' local rotations (rotations.solve_rotations)."""
    if rig.naming != "humanoid":
        raise InputError(None, "VMC needs the humanoid naming (Unity HumanBodyBones)")
    q = quat.from_matrix(local_rotations[list(VMC_BONES)])
    q_unity = to_unity_quaternion(q)
    positions = to_unity_position(rig.offsets[list(VMC_BONES)])
    positions[0] = to_unity_position(hips_position)
    elements: list = [
        osc.Message("/VMC/Ext/OK", [1], "i"),
        osc.Message("/VMC/Ext/T", [float(seconds)], "f"),
        osc.Message("/VMC/Ext/Root/Pos", ["root", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], "sfffffff"),
    ]
    names = rig.names
    for k, j in enumerate(VMC_BONES):
        values = [float(v) for v in positions[k]] + [float(v) for v in q_unity[k]]
        elements.append(osc.Message("/VMC/Ext/Bone/Pos", [names[j], *values], "sfffffff"))
    return osc.Bundle(elements, osc.IMMEDIATELY)


def absent_bundle(seconds: float) -> osc.Bundle:
    """A VMC bundle saying nobody is tracked: /VMC/Ext/OK 0 and the time, no bones."""
    return osc.Bundle([osc.Message("/VMC/Ext/OK", [0], "i"), osc.Message("/VMC/Ext/T", [float(seconds)], "f")],
                      osc.IMMEDIATELY)


def decode_frame(packet: osc.Message | osc.Bundle) -> dict:
    """Read a VMC packet back: {"time": float | None, "ok": int | None, "root": (pos, q_xyzw),
    "bones": {name: (pos (3,), q_xyzw (4,))}} in Unity coordinates, as received."""
    out: dict = {"time": None, "ok": None, "root": None, "bones": {}}
    for message in osc.messages(packet):
        if message.address == "/VMC/Ext/Bone/Pos":
            out["bones"][message.args[0]] = (np.array(message.args[1:4]), np.array(message.args[4:8]))
        elif message.address == "/VMC/Ext/Root/Pos":
            out["root"] = (np.array(message.args[1:4]), np.array(message.args[4:8]))
        elif message.address == "/VMC/Ext/T":
            out["time"] = float(message.args[0])
        elif message.address == "/VMC/Ext/OK":
            out["ok"] = int(message.args[0])
    return out


def parse_address(text: str, default_port: int = DEFAULT_PORT, allow_zero: bool = False) -> tuple[str, int]:
    """'HOST:PORT' (or 'HOST', or ':PORT') -> (host, port); InputError when malformed. allow_zero: port 0
    (a server asking the system for a free port)."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = text, str(default_port)
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise InputError(None, f"expected HOST:PORT, found {text!r}") from None
    if not (0 if allow_zero else 1) <= port < 65536:
        raise InputError(None, f"port must be 1-65535, found {port}")
    return host, port


class VmcSender:
    """Send frames to a VMC Marionette over UDP: `send(rig, hips_position, local_rotations)`."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT):
        self.address = (host, port)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_DGRAM)
        self.start = time.monotonic()
        self.frames_sent = 0

    def send(self, rig: Rig, hips_position: np.ndarray, local_rotations: np.ndarray) -> int:
        """Send one frame; returns the datagram size in bytes."""
        self.frames_sent += 1
        return self._send(frame_bundle(rig, hips_position, local_rotations, time.monotonic() - self.start))

    def send_absent(self) -> int:
        """Say that nobody is tracked now (/VMC/Ext/OK 0, no bones); returns the datagram size in bytes."""
        return self._send(absent_bundle(time.monotonic() - self.start))

    def _send(self, bundle: osc.Bundle) -> int:
        data = osc.encode(bundle)
        try:
            self.socket.sendto(data, self.address)
        except OSError:
            pass  # UDP: nobody listening (ICMP port unreachable) is not an error for a live stream
        return len(data)

    def close(self) -> None:
        self.socket.close()

    def __enter__(self) -> VmcSender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
