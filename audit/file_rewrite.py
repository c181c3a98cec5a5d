"""Rewriting a small file a person keeps (``cameras.yaml``) in place, safely:

- through a symbolic link: the link is kept and the file it points to is rewritten, keeping its mode;
- atomically: the new bytes go to a fresh file beside the target (created exclusively, never through
  a link), then ``os.replace`` onto the target's real path;
- with a byte-exact backup ``<target>.bak`` beside the target, written the same way; a ``.bak`` that
  is a symbolic link (or anything but a regular file) is refused before anything is written, never
  followed or replaced.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from rxaudit.errors import ConfigError


def real_target(path: Path) -> Path:
    """The file ``path`` names, links followed (``path`` itself where it is no link). A link to
    nothing is refused: the file it would create is not where anyone looks."""
    path = Path(path)
    real = Path(os.path.realpath(path))
    if path.is_symlink() and not real.exists():
        raise ConfigError(f"{path}: a symbolic link to a missing file; nothing written")
    return real


def backup_path(real: Path) -> Path:
    """Where :func:`rewrite` keeps the previous bytes; refused where that is a link or no regular file."""
    bak = real.with_name(real.name + ".bak")
    try:
        mode = os.lstat(bak).st_mode
    except FileNotFoundError:
        return bak
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{bak}: the backup path is a symbolic link or not a regular file; nothing "
                          "written (move it away and run again)")
    return bak


def _replace(target: Path, data: bytes, mode: int | None) -> None:
    """``data`` into a fresh file beside ``target``, then renamed onto it. ``mode``: the new file's
    permissions (None: the process's default for a new file)."""
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def rewrite(path: Path, data: bytes) -> Path | None:
    """Replace the file ``path`` names (through links) by ``data``, keeping its mode and its previous
    bytes as ``<target>.bak``. Returns the backup's path (None where there was no file)."""
    real = real_target(path)
    if not real.exists():
        _replace(real, data, None)
        return None
    bak = backup_path(real)
    mode = stat.S_IMODE(os.stat(real).st_mode)
    _replace(bak, real.read_bytes(), mode)
    _replace(real, data, mode)
    return bak
