"""Atomic file writes: the one writer every file of structnet goes through (images, JSON, NPZ, checkpoints,
weights, logs). Imports nothing from structnet, so every layer can use it."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Tuple, Union

__all__ = ["atomic_write"]

PathLike = Union[str, os.PathLike]


def _mkstemp(path: Path) -> Tuple[int, str]:
    """A temp file next to ``path`` with the permissions a plain ``open`` would give (mkstemp uses 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    _default_mode(tmp)
    return fd, tmp


def _default_mode(path) -> None:
    """Give ``path`` the mode a plain ``open`` would (0666 minus the umask)."""
    mask = os.umask(0)
    os.umask(mask)
    try:
        os.chmod(path, 0o666 & ~mask)
    except OSError:
        pass


def atomic_write(path: PathLike, write) -> Path:
    """Calls ``write(binary_file)`` on a temp file next to ``path``, fsyncs it and renames it onto ``path``.

    The one atomic writer of structnet (images, JSON, NPZ, checkpoints, weights): a kill leaves the old file or the
    new one, never half of one, and the file gets the mode a plain ``open`` would give (0666 minus the umask), not
    ``mkstemp``'s 0600."""
    path = Path(path)
    fd, tmp = _mkstemp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable (POSIX); harmless to skip elsewhere
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass
    return path
