"""OSC 1.0 encoding/decoding, and the VMC sender received by a real UDP server on 127.0.0.1."""

from __future__ import annotations

import socket
import struct
import threading

import numpy as np
import pytest

from poselift.errors import InputError
from poselift.export import osc
from poselift.export.rig import JOINTS, STANDARD_LENGTHS, build_rig, retarget
from poselift.export.rotations import solve_rotations
from poselift.export.vmc import (
    VMC_BONES,
    VmcSender,
    decode_frame,
    from_unity_quaternion,
    parse_address,
    to_unity_position,
    to_unity_quaternion,
)
from poselift.geometry import quaternions as quat


def test_message_bytes_follow_the_spec():
    data = osc.encode(osc.Message("/a", [1, 2.5, "hi"]))
    expected = b"/a\0\0" + b",ifs\0\0\0\0" + struct.pack(">i", 1) + struct.pack(">f", 2.5) + b"hi\0\0"
    assert data == expected
    assert len(osc.encode(osc.Message("/abc", ["abcd"]))) % 4 == 0
    # A string of exactly 4 bytes still gets a terminating NUL, padded to 8.
    assert osc.encode(osc.Message("/abc", ["abcd"])).endswith(b"abcd\0\0\0\0")


def test_messages_round_trip_every_type():
    message = osc.Message("/VMC/Ext/Bone/Pos", ["Hips", 0.5, -1.25, 3, b"\x01\x02\x03", True, False, None,
                                               2**40, "é"])
    decoded = osc.decode(osc.encode(message))
    assert decoded.address == "/VMC/Ext/Bone/Pos"
    assert decoded.types == "sffibTFNhs"
    assert decoded.args == ["Hips", 0.5, -1.25, 3, b"\x01\x02\x03", True, False, None, 2**40, "é"]
    doubles = osc.decode(osc.encode(osc.Message("/d", [0.1], "d")))
    assert doubles.args == [0.1]  # float64 keeps every digit, float32 would not


def test_bundles_nest_and_keep_their_time_tags():
    inner = osc.Bundle([osc.Message("/b", [2])], osc.timetag_from_unix(1000.5))
    packet = osc.Bundle([osc.Message("/a", [1]), inner])
    data = osc.encode(packet)
    assert data.startswith(b"#bundle\0") and struct.unpack(">Q", data[8:16])[0] == osc.IMMEDIATELY
    decoded = osc.decode(data)
    assert isinstance(decoded, osc.Bundle) and isinstance(decoded.elements[1], osc.Bundle)
    assert osc.timetag_to_unix(decoded.elements[1].timetag) == pytest.approx(1000.5, abs=1e-6)
    assert [(m.address, m.args) for m in osc.messages(decoded)] == [("/a", [1]), ("/b", [2])]


@pytest.mark.parametrize("data", [b"/a\0\0,i\0\0\0\0", b"/a\0\0,i", b"#bundle\0\0\0", b"noslash\0",
                                  b"#bundle\0" + bytes(8) + struct.pack(">i", 400) + b"/a\0\0"])
def test_malformed_packets_raise(data):
    with pytest.raises(osc.OscError):
        osc.decode(data)


def test_encoder_rejects_bad_messages():
    with pytest.raises(osc.OscError):
        osc.encode(osc.Message("no-slash", []))
    with pytest.raises(osc.OscError):
        osc.encode(osc.Message("/a", [object()]))
    with pytest.raises(osc.OscError):
        osc.encode(osc.Message("/a", [1, 2], "i"))


def test_unity_conversion_mirrors_x(rng):
    q = quat.normalize(rng.normal(size=(20, 4)))
    mirror = np.diag([-1.0, 1.0, 1.0])
    unity = to_unity_quaternion(q)  # (x, y, z, w)
    as_wxyz = np.concatenate([unity[:, 3:], unity[:, :3]], axis=1)
    np.testing.assert_allclose(quat.to_matrix(as_wxyz), mirror @ quat.to_matrix(q) @ mirror, atol=1e-12)
    np.testing.assert_allclose(from_unity_quaternion(unity), q)
    np.testing.assert_allclose(to_unity_position([0.2, 1.0, 0.3]), [-0.2, 1.0, 0.3])


def test_parse_address():
    assert parse_address("127.0.0.1:39540") == ("127.0.0.1", 39540)
    assert parse_address("localhost") == ("localhost", 39539)
    assert parse_address("[::1]:9000") == ("::1", 9000)
    with pytest.raises(InputError):
        parse_address("host:port")
    with pytest.raises(InputError):
        parse_address("host:0")


def scripted_motion(frames: int = 10) -> np.ndarray:
    rig = build_rig(STANDARD_LENGTHS)
    rng = np.random.default_rng(3)
    return retarget(rig.rest + rng.normal(scale=0.05, size=(frames, 17, 3)), STANDARD_LENGTHS)


def test_vmc_over_udp_every_bone_of_every_frame():
    rig = build_rig(STANDARD_LENGTHS)
    joints = scripted_motion(10)
    joints[..., 1] += 1.0
    _, local = solve_rotations(rig, joints)

    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(5.0)
    received: list = []

    def listen():
        try:
            while len(received) < 10:
                data, _ = server.recvfrom(65536)
                received.append(decode_frame(osc.decode(data)))
        except OSError:
            pass

    thread = threading.Thread(target=listen)
    thread.start()
    with VmcSender("127.0.0.1", server.getsockname()[1]) as sender:
        for t in range(10):
            size = sender.send(rig, joints[t, 0], local[t])
            assert size < 8192  # one datagram per frame
    thread.join(timeout=10)
    server.close()

    assert len(received) == 10
    names = rig.names
    previous_time = -1.0
    for t, frame in enumerate(received):
        assert frame["ok"] == 1 and frame["time"] >= previous_time
        previous_time = frame["time"]
        np.testing.assert_allclose(frame["root"][0], 0.0)
        np.testing.assert_allclose(frame["root"][1], [0, 0, 0, 1])
        assert set(frame["bones"]) == {names[j] for j in VMC_BONES}
        assert "HeadTop_End" not in frame["bones"]
        for j in VMC_BONES:
            position, q_xyzw = frame["bones"][names[j]]
            sent = quat.to_matrix(from_unity_quaternion(q_xyzw))
            np.testing.assert_allclose(sent, local[t, j], atol=1e-5)  # float32 on the wire
            expected = joints[t, 0] if j == 0 else rig.offsets[j]
            np.testing.assert_allclose(position, to_unity_position(expected), atol=1e-6)


def test_vmc_needs_humanoid_names():
    rig = build_rig(STANDARD_LENGTHS, "h36m")
    with VmcSender("127.0.0.1", 9) as sender, pytest.raises(InputError, match="humanoid"):
        sender.send(rig, np.zeros(3), np.broadcast_to(np.eye(3), (len(JOINTS), 3, 3)))
