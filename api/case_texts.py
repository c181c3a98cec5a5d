"""The words of ``rxaudit verify-case`` (and of the case file's seal), through the gettext catalogs:
one line per problem :func:`rxaudit.case_seal.verify_case` finds, the verdict line, the key's fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable

from api.catalogs import N_
from rxaudit.case_seal import Problem, Verdict

PROBLEMS = {
    Problem.UNREADABLE: N_("FAILED: the file cannot be read (%(detail)s)"),
    Problem.LAYOUT: N_("FAILED: the zip is not a sealed case file as written: %(detail)s"),
    Problem.NO_SUMS: N_("FAILED: SHA256SUMS is missing"),
    Problem.BAD_SUMS: N_("FAILED: SHA256SUMS is malformed (%(detail)s)"),
    Problem.NOT_SIGNED: N_("FAILED: the case file is not signed (no SHA256SUMS.sig)"),
    Problem.NO_KEY: N_("FAILED: no public key to check the signature with (give --public-key)"),
    Problem.BAD_KEY: N_("FAILED: the public key cannot be read (%(detail)s)"),
    Problem.OTHER_KEY: N_("FAILED: the case file was signed with another key (fingerprint %(detail)s), "
                          "not the one given"),
    Problem.BAD_SIGNATURE: N_("FAILED: the signature over SHA256SUMS does not verify"),
    Problem.MISSING: N_("FAILED: missing file: %(detail)s"),
    Problem.EXTRA: N_("FAILED: extra file not listed in SHA256SUMS: %(detail)s"),
    Problem.MISMATCH: N_("FAILED: content changed (sha256 differs): %(detail)s"),
    Problem.ORDER: N_("FAILED: the files are not in the order SHA256SUMS lists them"),
}
VERIFIED = N_("OK: %(path)s verifies: %(count)d files, every sha256 and the Ed25519 signature")
TRUSTED = N_("signed with the key given, fingerprint %(fingerprint)s")
ENCLOSED = N_("signed with the key inside the case file, fingerprint %(fingerprint)s: compare it with "
              "the bureau's published fingerprint, or check with --public-key")
NOT_VERIFIED = N_("NOT VERIFIED: %(path)s (%(count)d problem(s))")
KEY_MISSING = N_("no signing key configured: set case_signing_key_file (or RXAUDIT_CASE_SIGNING_KEY)")
KEY_WRITTEN = N_("private key written to %(path)s (mode 0600; keep it off the case files)")


def report_lines(verdict: Verdict, path: str, gettext: Callable[[str], str]) -> list[str]:
    """What ``rxaudit verify-case`` prints: a line per problem then the verdict, or the verdict and key."""
    if verdict.ok:
        key = TRUSTED if verdict.trusted_key else ENCLOSED
        return [gettext(VERIFIED) % {"path": path, "count": verdict.members},
                gettext(key) % {"fingerprint": verdict.fingerprint}]
    lines = [gettext(PROBLEMS[problem]) % {"detail": detail} for problem, detail in verdict.failures]
    return [*lines, gettext(NOT_VERIFIED) % {"path": path, "count": len(verdict.failures)}]
