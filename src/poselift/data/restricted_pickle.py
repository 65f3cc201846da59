"""Safe reading of the community .npz files whose entries are pickled Python dicts.

VideoPose3D's files (`data_3d_h36m.npz`, `data_2d_h36m_*.npz`, custom detections) store nested dicts and
lists of arrays as 0-d object arrays, i.e. pickles. `np.load(..., allow_pickle=True)` would run whatever a
pickle asks for; here a restricted unpickler accepts only the handful of globals numpy needs to rebuild
arrays and scalars, so a hostile file can at worst fail to load.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from poselift.errors import InputError

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]


def _codecs_encode(text: str, encoding: str = "utf-8") -> bytes:
    """What `_codecs.encode` does for protocol-2 pickles of bytes (no other codec behaviour)."""
    if encoding not in ("latin1", "latin-1", "utf-8", "utf8", "ascii"):
        raise pickle.UnpicklingError(f"codec {encoding!r} is not allowed")
    return text.encode(encoding)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy._core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy.core.multiarray", "scalar"): _multiarray.scalar,
    ("_codecs", "encode"): _codecs_encode,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "dict"): dict,
    ("builtins", "list"): list,
    ("builtins", "tuple"): tuple,
    ("builtins", "str"): str,
    ("__builtin__", "dict"): dict,
    ("__builtin__", "list"): list,
}
"""The only globals a pickle may reference: numpy array/dtype/scalar reconstruction and plain containers."""


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that refuses every global outside `_ALLOWED` (so no code can be run by loading)."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to unpickle {module}.{name}: only dicts, lists, strings, numbers and numpy arrays "
                "are allowed"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed")


def restricted_loads(data: bytes) -> Any:
    """Unpickle bytes with the restricted unpickler (latin1 for strings written by Python 2)."""
    return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()


def _read_npy(data: bytes, path: Path, key: str) -> Any:
    """One .npy member: plain arrays without pickle; object arrays through the restricted unpickler."""
    fmt = np.lib.format
    stream = io.BytesIO(data)
    try:
        version = fmt.read_magic(stream)
        if version == (1, 0):
            _, _, dtype = fmt.read_array_header_1_0(stream)
        elif version == (2, 0):
            _, _, dtype = fmt.read_array_header_2_0(stream)
        else:
            _, _, dtype = fmt._read_array_header(stream, version)  # v3 header: no public reader
    except (ValueError, SyntaxError) as error:
        raise InputError(path, f"entry {key!r} is not a valid .npy array ({error})") from None
    if not dtype.hasobject:
        try:
            return fmt.read_array(io.BytesIO(data), allow_pickle=False)
        except ValueError as error:
            raise InputError(path, f"entry {key!r} is corrupt ({error})") from None
    try:
        array = restricted_loads(stream.read())
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
        problem = str(error).splitlines()[0] if str(error) else "corrupt pickle"
        raise InputError(path, f"entry {key!r}: {problem}") from None
    if not isinstance(array, np.ndarray):
        raise InputError(path, f"entry {key!r} does not hold an array")
    return array.item() if array.shape == () else array


def load_npz(
    path: str | Path, keys: Iterable[str] | None = None, required: Iterable[str] = ()
) -> dict[str, Any]:
    """Read entries of an .npz file safely: {key: array, or the dict/list a 0-d object array holds}.

    `keys` limits which entries are read (default all); a missing `required` key is an InputError.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    if not zipfile.is_zipfile(path):
        raise InputError(path, "not an .npz file (not a zip archive)")
    from poselift.array_files import check_array_file

    check_array_file(path, allow_objects=True)  # sizes against the file, before anything is inflated
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise InputError(path, f"not a readable .npz file ({error})") from None
    with archive:
        members = {name[:-4]: name for name in archive.namelist() if name.endswith(".npy")}
        missing = [key for key in required if key not in members]
        if missing:
            found = ", ".join(sorted(members)) or "nothing"
            raise InputError(path, f"missing key {missing[0]!r} (found: {found})")
        wanted = list(members) if keys is None else [k for k in keys if k in members]
        out: dict[str, Any] = {}
        for key in wanted:
            try:
                data = archive.read(members[key])
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as error:
                raise InputError(path, f"entry {key!r} is corrupt ({error})") from None
            out[key] = _read_npy(data, path, key)
        return out
