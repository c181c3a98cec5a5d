"""Text encodings of input files, named once for settings and readers alike: ``auto`` (UTF-8 with or
without BOM, else GB18030, chosen by ``ingest.encodings``) or a known ASCII-compatible codec."""

from __future__ import annotations

import codecs

AUTO = "auto"


def check_encoding(name: str) -> str:
    """``name`` normalised, or ValueError: ``auto`` or a known ASCII-compatible codec."""
    name = name.strip().lower()
    if name == AUTO:
        return name
    try:
        info = codecs.lookup(name)
        compatible = ',\n"abc'.encode(info.name) == b',\n"abc'
    except (LookupError, UnicodeError):
        raise ValueError(f"unknown encoding {name!r}") from None
    if not compatible:
        raise ValueError(f"encoding {name!r} is not ASCII-compatible (save the file as UTF-8)")
    return "gb18030" if info.name in ("gbk", "gb2312") else info.name
