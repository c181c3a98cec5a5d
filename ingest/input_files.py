"""Every input table and text file is a regular file: anything else (a folder, a device such as
``/dev/zero`` behind a symlink, a named pipe, a socket) is refused at once with an
:class:`InputError` naming the file, before a byte is read (reading ``/dev/zero`` never ends, and
opening a pipe waits for a writer)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rxaudit.errors import InputError

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
          (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"))


def require_regular_file(path: Path) -> None:
    """InputError unless ``path`` (through any symlinks) is a regular file."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from None
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a file")
    raise InputError(f"{path}: is {kind}, not a regular file; give the path of a file")
