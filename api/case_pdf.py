"""The case summary as PDF, rendered from the same HTML by WeasyPrint, only where it can render
Chinese: WeasyPrint importable and a Chinese font known to fontconfig (Debian: fonts-wqy-microhei).
Otherwise no PDF, and the case file says why (the HTML prints from any browser).

WeasyPrint's time grows faster than linearly with the text (25 k characters 4.4 s, 100 k 33.8 s), and
a running layout cannot be interrupted: the PDF is rendered in a child process that is killed at its
deadline, and only from a summary of at most ``PDF_TEXT_MAX`` characters of text
(``python -m api.case_pdf`` reads the HTML on stdin and writes the PDF on stdout)."""

from __future__ import annotations

import functools
import logging
import re
import shutil
import subprocess
import sys

from rxaudit.bounds import PDF_DEADLINE_S, PDF_TEXT_MAX

log = logging.getLogger(__name__)
NOT_INSTALLED = 3  # the child's exit status when WeasyPrint (or pango) cannot be imported
_TAG = re.compile(r"<[^>]*>")


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


def text_length(html: str) -> int:
    """Characters of ``html`` outside its tags (what the PDF has to lay out; images excluded)."""
    return len(_TAG.sub("", html))


def render_pdf(html: str, timeout_s: float = PDF_DEADLINE_S) -> tuple[bytes | None, str | None]:
    """(the PDF, None), or (None, why there is none). Never takes much more than ``timeout_s``."""
    if (length := text_length(html)) > PDF_TEXT_MAX:
        return None, (f"summary too long for a PDF ({length:,} characters of text, at most {PDF_TEXT_MAX:,}); "
                      "print summary.html instead")
    if chinese_font() is None:
        return None, "no Chinese font installed (fonts-wqy-microhei); print summary.html instead"
    try:
        done = subprocess.run([sys.executable, "-m", "api.case_pdf"], input=html.encode(), capture_output=True,
                              timeout=max(timeout_s, 0.1), check=False)
    except subprocess.TimeoutExpired:  # the child is killed by now
        return None, f"PDF rendering took longer than {timeout_s:.0f} s; print summary.html instead"
    except OSError as exc:
        return None, f"PDF rendering failed ({type(exc).__name__}); print summary.html instead"
    if done.returncode == NOT_INSTALLED:
        return None, "PDF renderer (WeasyPrint) not installed; print summary.html instead"
    if done.returncode != 0 or not done.stdout.startswith(b"%PDF-"):
        log.error("case summary PDF failed: %s", done.stderr.decode(errors="replace")[-2000:])
        failure = (done.stderr.decode(errors="replace").strip().splitlines() or ["exit status"])[-1]
        return None, f"PDF rendering failed ({failure.split(':')[0][:80]}); print summary.html instead"
    return done.stdout, None


def main() -> int:
    """The child: HTML on stdin, PDF on stdout; exit status NOT_INSTALLED without WeasyPrint."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError):  # OSError: the package is there but pango is not
        return NOT_INSTALLED
    logging.getLogger("weasyprint").setLevel(logging.ERROR)  # unsupported-CSS notes are not news
    sys.stdout.buffer.write(HTML(string=sys.stdin.buffer.read().decode()).write_pdf())
    return 0


if __name__ == "__main__":
    sys.exit(main())
