"""Atomic file writes: write to a temporary file beside the target, then rename over it.

A crash or an error half-way leaves the previous file (or no file) in place, never a truncated one. The
temporary is named `.<target>.poselift-<pid>-<random><suffix>`; a process killed before it could delete it
(SIGKILL, power loss) leaves it behind, so every later write to the same target first deletes the ones whose
process is gone (or that are a day old): an interrupted write leaves nothing after the next run.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from poselift.errors import InputError

STALE_SECONDS = 24 * 3600
"""A temporary this old is deleted even when its process id is alive again (pid reuse, other machines)."""
LEGACY_STALE_SECONDS = 3600
"""Temporaries of earlier versions (`.<target>.<8 random characters><suffix>`, no pid) older than this go too."""


def _temporary_name(target: Path, suffix: str) -> str:
    return f".{target.name}.poselift-{os.getpid()}-{secrets.token_hex(4)}{suffix}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists, owned by someone else (or we cannot tell): keep its file
    return True


def remove_stale_temporaries(target: str | os.PathLike, suffix: str | None = None) -> list[Path]:
    """Delete temporaries left beside `target` by interrupted atomic writes; returns the paths deleted."""
    target = Path(target)
    suffix = target.suffix if suffix is None else suffix
    ours = re.compile(rf"\.{re.escape(target.name)}\.poselift-(\d+)-[0-9a-f]{{8}}{re.escape(suffix)}")
    legacy = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}{re.escape(suffix)}")
    removed = []
    now = time.time()
    try:
        candidates = [p for p in target.parent.iterdir() if p.name.startswith(f".{target.name}.")]
    except OSError:
        return removed
    for candidate in candidates:
        try:
            age = now - candidate.lstat().st_mtime
        except OSError:
            continue
        match = ours.fullmatch(candidate.name)
        stale = (match is not None and (not _process_alive(int(match[1])) or age > STALE_SECONDS)) or \
                (match is None and legacy.fullmatch(candidate.name) is not None and age > LEGACY_STALE_SECONDS)
        if stale and candidate.is_file() and not candidate.is_symlink():
            with contextlib.suppress(OSError):
                candidate.unlink()
                removed.append(candidate)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it to `path`, on error delete it.

    `suffix` defaults to the target's own suffix so libraries that pick a format by extension work. A target
    that is a folder, or a parent that cannot be made, is an InputError before anything is written.
    """
    target = Path(path)
    suffix = target.suffix if suffix is None else suffix
    if target.is_dir():
        raise InputError(target, "is a folder: give a file name to write")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(target, f"cannot create its folder ({error.strerror or error})") from None
    remove_stale_temporaries(target, suffix)
    tmp_path = target.parent / _temporary_name(target, suffix)
    try:
        fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for open()
    except OSError as error:
        raise InputError(target, f"cannot write ({error.strerror or error})") from None
    os.close(fd)
    try:
        yield tmp_path
        try:
            os.replace(tmp_path, target)
        except OSError as error:
            raise InputError(target, f"cannot write ({error.strerror or error})") from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 text to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_npz_atomic(path: str | os.PathLike, **arrays) -> None:
    """Save arrays to an .npz file atomically (np.savez_compressed)."""
    import numpy as np

    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
