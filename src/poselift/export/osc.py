"""Open Sound Control 1.0: encode and decode messages and bundles (our own, stdlib only).

A message is an address ("/VMC/Ext/Bone/Pos"), a type tag string (",sfffffff") and big-endian arguments:
i int32, f float32, s string, b blob, plus h int64, d float64, T/F/N (true/false/nil, no data). Strings,
blobs and the type tags are NUL-terminated/padded to a multiple of 4 bytes. A bundle is "#bundle", a
64-bit NTP time tag, then elements (messages or bundles), each preceded by its int32 size.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field

IMMEDIATELY = 1
"""The OSC time tag meaning 'now'."""

NTP_EPOCH_OFFSET = 2208988800
"""Seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)."""


class OscError(ValueError):
    """A malformed OSC packet."""


@dataclass
class Message:
    """An OSC message: address pattern and arguments (int, float, str, bytes, bool, None)."""

    address: str
    args: list = field(default_factory=list)
    types: str | None = None
    """Explicit type tags without the comma (e.g. "sfff"); None infers them from the arguments."""


@dataclass
class Bundle:
    """An OSC bundle: a time tag (64-bit NTP) and elements (messages or bundles)."""

    elements: list = field(default_factory=list)
    timetag: int = IMMEDIATELY


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _string(text: str) -> bytes:
    return _pad(text.encode("utf-8") + b"\0")


def _infer(arg) -> str:
    if arg is True:
        return "T"
    if arg is False:
        return "F"
    if arg is None:
        return "N"
    if isinstance(arg, int):
        return "i" if -(2**31) <= arg < 2**31 else "h"
    if isinstance(arg, float):
        return "f"
    if isinstance(arg, str):
        return "s"
    if isinstance(arg, bytes | bytearray):
        return "b"
    try:  # numpy scalars
        import numpy as np

        if isinstance(arg, np.integer):
            return _infer(int(arg))
        if isinstance(arg, np.floating):
            return "f"
    except ImportError:  # pragma: no cover
        pass
    raise OscError(f"cannot encode {type(arg).__name__} as an OSC argument")


def encode_message(message: Message) -> bytes:
    """The bytes of one OSC message."""
    if not message.address.startswith("/"):
        raise OscError(f"OSC address must start with '/', found {message.address!r}")
    types = message.types if message.types is not None else "".join(_infer(a) for a in message.args)
    if len(types) != len(message.args):
        raise OscError(f"{message.address}: {len(types)} type tags for {len(message.args)} arguments")
    parts = [_string(message.address), _string("," + types)]
    args = iter(message.args)
    for tag in types:
        arg = next(args, None)  # every tag has an argument; T, F and N carry no data
        if tag in "TFN":
            continue
        if tag == "i":
            parts.append(struct.pack(">i", int(arg)))
        elif tag == "f":
            parts.append(struct.pack(">f", float(arg)))
        elif tag == "s":
            parts.append(_string(str(arg)))
        elif tag == "b":
            parts.append(struct.pack(">i", len(arg)) + _pad(bytes(arg)))
        elif tag == "h":
            parts.append(struct.pack(">q", int(arg)))
        elif tag == "d":
            parts.append(struct.pack(">d", float(arg)))
        else:
            raise OscError(f"unsupported OSC type tag {tag!r}")
    return b"".join(parts)


def encode_bundle(bundle: Bundle) -> bytes:
    """The bytes of an OSC bundle (elements may be messages or nested bundles)."""
    parts = [_string("#bundle"), struct.pack(">Q", bundle.timetag)]
    for element in bundle.elements:
        data = encode(element)
        parts.append(struct.pack(">i", len(data)) + data)
    return b"".join(parts)


def encode(packet: Message | Bundle) -> bytes:
    """The bytes of an OSC packet (a message or a bundle)."""
    return encode_bundle(packet) if isinstance(packet, Bundle) else encode_message(packet)


def _read_string(data: bytes, pos: int) -> tuple[str, int]:
    end = data.find(b"\0", pos)
    if end < 0:
        raise OscError(f"unterminated OSC string at byte {pos}")
    text = data[pos:end].decode("utf-8")
    return text, end + 1 + (-(end + 1 - pos) % 4)


def decode_message(data: bytes) -> Message:
    """Parse one OSC message from bytes."""
    address, pos = _read_string(data, 0)
    if not address.startswith("/"):
        raise OscError(f"not an OSC message (address {address!r})")
    if pos >= len(data):
        return Message(address, [], "")  # OSC 1.0 allows a missing type tag string
    tags, pos = _read_string(data, pos)
    if not tags.startswith(","):
        raise OscError(f"OSC type tags must start with ',', found {tags!r}")
    args: list = []
    try:
        for tag in tags[1:]:
            if tag == "i":
                args.append(struct.unpack_from(">i", data, pos)[0])
                pos += 4
            elif tag == "f":
                args.append(struct.unpack_from(">f", data, pos)[0])
                pos += 4
            elif tag == "s":
                text, pos = _read_string(data, pos)
                args.append(text)
            elif tag == "b":
                size = struct.unpack_from(">i", data, pos)[0]
                args.append(bytes(data[pos + 4 : pos + 4 + size]))
                pos += 4 + size + (-size % 4)
            elif tag == "h":
                args.append(struct.unpack_from(">q", data, pos)[0])
                pos += 8
            elif tag == "d":
                args.append(struct.unpack_from(">d", data, pos)[0])
                pos += 8
            elif tag in "TFN":
                args.append({"T": True, "F": False, "N": None}[tag])
            else:
                raise OscError(f"unsupported OSC type tag {tag!r} in {address}")
    except struct.error:
        raise OscError(f"truncated OSC message {address}") from None
    if pos > len(data):
        raise OscError(f"truncated OSC message {address}")
    return Message(address, args, tags[1:])


def decode(data: bytes) -> Message | Bundle:
    """Parse an OSC packet: a message, or a bundle with its elements parsed recursively."""
    if data.startswith(b"#bundle\0"):
        if len(data) < 16:
            raise OscError("truncated OSC bundle header")
        timetag = struct.unpack_from(">Q", data, 8)[0]
        pos, elements = 16, []
        while pos < len(data):
            if pos + 4 > len(data):
                raise OscError("truncated OSC bundle element size")
            size = struct.unpack_from(">i", data, pos)[0]
            if size < 0 or pos + 4 + size > len(data) or size % 4:
                raise OscError(f"bad OSC bundle element size {size} at byte {pos}")
            elements.append(decode(data[pos + 4 : pos + 4 + size]))
            pos += 4 + size
        return Bundle(elements, timetag)
    return decode_message(data)


def messages(packet: Message | Bundle) -> list[Message]:
    """All messages in a packet, bundles flattened in order."""
    if isinstance(packet, Message):
        return [packet]
    out: list[Message] = []
    for element in packet.elements:
        out.extend(messages(element))
    return out


def timetag_from_unix(seconds: float | None = None) -> int:
    """A 64-bit NTP time tag for Unix time `seconds` (now when None)."""
    seconds = time.time() if seconds is None else seconds
    ntp = seconds + NTP_EPOCH_OFFSET
    whole = int(ntp)
    return (whole << 32) | int((ntp - whole) * (1 << 32))


def timetag_to_unix(timetag: int) -> float:
    """Unix time in seconds of a 64-bit NTP time tag."""
    return (timetag >> 32) - NTP_EPOCH_OFFSET + (timetag & 0xFFFFFFFF) / (1 << 32)
