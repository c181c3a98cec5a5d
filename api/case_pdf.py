"""The case summary as PDF, rendered from the same HTML by WeasyPrint, only where it can render
Chinese: WeasyPrint importable and a Chinese font known to fontconfig (Debian: fonts-wqy-microhei).
Otherwise no PDF, and the case file says why (the HTML prints from any browser)."""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess

log = logging.getLogger(__name__)


@functools.cache
def chinese_font() -> str | None:
    """The family of a Chinese font fontconfig knows, or None."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        out = subprocess.run([fc_list, ":lang=zh-cn", "family"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    families = [line.split(",")[0].strip() for line in out.splitlines() if line.strip()]
    return sorted(families)[0] if families else None


def render_pdf(html: str) -> tuple[bytes | None, str | None]:
    """(the PDF, None), or (None, why there is none)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError):  # OSError: the package is there but pango is not
        return None, "PDF renderer (WeasyPrint) not installed; print summary.html instead"
    if chinese_font() is None:
        return None, "no Chinese font installed (fonts-wqy-microhei); print summary.html instead"
    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # unsupported-CSS notes are not news
    try:
        return HTML(string=html).write_pdf(), None
    except Exception as exc:  # noqa: BLE001 - a failed PDF must not lose the case file
        log.exception("case summary PDF failed")
        return None, f"PDF rendering failed ({type(exc).__name__}); print summary.html instead"
