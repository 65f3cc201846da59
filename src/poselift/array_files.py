"""Reading .npz / .npy files from users safely: sizes checked against the file before anything is allocated.

numpy trusts a file's headers: a 1 KB .npy may declare a terabyte array, a 100 KB compressed .npz may
inflate to gigabytes, and a text file gets numpy's advice to load it with allow_pickle. Here every member's
declared size must fit the bytes actually stored, the inflated total must stay within a bound that follows
from the file's size, object arrays (pickles) are refused, and every failure is a one-line InputError.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from poselift.errors import InputError

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"

MIN_INFLATED_BUDGET = 64 * 2**20
"""Bytes an .npz may always inflate to (a long recording's keypoints compress well, NaN gaps even better)."""
INFLATION_FACTOR = 50
"""Beyond MIN_INFLATED_BUDGET, an .npz may inflate to this many times its size on disk."""


def inflated_budget(file_size: int) -> int:
    """The most bytes an .npz of `file_size` bytes may hold once decompressed."""
    return max(MIN_INFLATED_BUDGET, INFLATION_FACTOR * file_size)


def _check_header(source: Path, name: str, handle, stored: int, allow_objects: bool = False) -> None:
    """Refuse an .npy header declaring object dtype, or more data than its `stored` bytes (header included) hold."""
    try:
        version = np.lib.format.read_magic(handle)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = reader(handle)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as error:
        raise InputError(source, f"{name}: not a valid .npy array ({str(error).splitlines()[0][:120]})") from None
    if dtype.hasobject:
        if allow_objects:
            return
        raise InputError(source, f"{name}: holds Python objects (a pickle), which poselift does not load")
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    stored -= handle.tell()  # the data follows the header
    if declared > stored:
        raise InputError(source, f"{name}: header declares {declared:,} bytes of data ({shape} {dtype}), "
                                 f"the file holds {stored:,} (truncated or forged)")


def check_zip_inflation(path: str | Path) -> None:
    """For a zip archive (an .npz, a torch checkpoint): refuse one that would inflate beyond inflated_budget()."""
    path = Path(path)
    size = path.stat().st_size
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as error:
        raise InputError(path, f"not a readable zip archive ({str(error).splitlines()[0][:120]})") from None
    if total > inflated_budget(size):
        raise InputError(path, f"inflates to {total:,} bytes from {size:,} on disk (more than "
                               f"{inflated_budget(size):,} allowed): refused")


def check_array_file(path: str | Path, allow_objects: bool = False) -> str:
    """Check an .npz or .npy file's structure without loading it; return "npz" or "npy" (InputError if unsafe).

    `allow_objects` lets object (pickled) members pass, for callers that read them with a restricted unpickler.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(path, "is a folder, expected an .npz or .npy file")
    if not path.is_file():
        raise InputError(path, "not a regular file" if path.exists() else "no such file")
    size = path.stat().st_size
    if size == 0:
        raise InputError(path, "is empty (0 bytes): not an .npz or .npy file")
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
            if head.startswith(NPY_MAGIC):
                handle.seek(0)
                _check_header(path, "array", handle, size, allow_objects)
                return "npy"
    except OSError as error:
        raise InputError(path, f"cannot read: {error.strerror or error}") from None
    if not (head.startswith(ZIP_MAGIC) or head.startswith(EMPTY_ZIP_MAGIC)):
        raise InputError(path, f"not an .npz or .npy file (it starts with {head[:8]!r})")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            total = sum(info.file_size for info in members)
            if total > inflated_budget(size):
                raise InputError(path, f"inflates to {total:,} bytes from {size:,} on disk (more than "
                                       f"{inflated_budget(size):,} allowed): refused")
            for info in members:
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as handle:
                    _check_header(path, info.filename[:-4], handle, info.file_size, allow_objects)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as error:
        raise InputError(path, f"not a readable .npz file ({str(error).splitlines()[0][:120]})") from None
    return "npz"


def load_arrays(path: str | Path, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Every array (or only `keys`, those present) of a checked .npz; an .npy file gives {"array": its array}."""
    path = Path(path)
    kind = check_array_file(path)
    try:
        if kind == "npy":
            return {"array": np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as data:
            names = data.files if keys is None else [k for k in keys if k in data.files]
            return {name: data[name] for name in names}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, NotImplementedError) as error:
        detail = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise InputError(path, f"not a readable .{kind} file ({detail})") from None


def array_keys(path: str | Path) -> set[str]:
    """The array names of a checked .npz without loading them ({"array"} for an .npy)."""
    path = Path(path)
    if check_array_file(path, allow_objects=True) == "npy":
        return {"array"}
    with zipfile.ZipFile(path) as archive:
        return {name[:-4] for name in archive.namelist() if name.endswith(".npy")}
