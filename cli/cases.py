"""``rxaudit verify-case``, ``case-key`` and ``user identity``: sealed case files and who signs them.

``verify-case`` needs no settings, database or network: the zip and, ideally, the bureau's public key.
Exit 0 when the case file verifies, 1 with a line per problem when it does not (``api.case_texts``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

VERIFY_FAILED = 1


def _lang(args: argparse.Namespace) -> str:
    if args.lang:
        return args.lang
    env = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
    return "zh_CN" if env.lower().startswith("zh") else "en"


def cmd_verify_case(args: argparse.Namespace) -> int:
    from api.case_texts import report_lines
    from api.catalogs import gettext_for
    from rxaudit.case_seal import KEY_FILE_MAX, Problem, Verdict, load_public_key, verify_case

    gettext = gettext_for(_lang(args))
    trusted = None
    if args.public_key is not None:
        try:
            with args.public_key.open("rb") as fh:
                trusted = load_public_key(fh.read(KEY_FILE_MAX + 1))
        except (OSError, ValueError) as exc:
            detail = f"{args.public_key}: {getattr(exc, 'strerror', None) or exc}"
            verdict = Verdict([(Problem.BAD_KEY, detail)])
        else:
            verdict = verify_case(args.case, trusted)
    else:
        verdict = verify_case(args.case, trusted)
    for line in report_lines(verdict, str(args.case), gettext):
        print(line)
    return 0 if verdict.ok else VERIFY_FAILED


def cmd_case_key_generate(args: argparse.Namespace) -> int:
    from api.case_texts import KEY_WRITTEN
    from api.catalogs import gettext_for
    from rxaudit.case_seal import fingerprint, generate_key_file, public_pem

    key = generate_key_file(args.out)
    gettext = gettext_for(_lang(args))
    print(gettext(KEY_WRITTEN) % {"path": args.out})
    sys.stdout.write(public_pem(key).decode())
    print(fingerprint(key.public_key()))
    return 0


def cmd_case_key_public(args: argparse.Namespace) -> int:
    from api.case_texts import KEY_MISSING
    from api.catalogs import gettext_for
    from cli.common import settings_from_args
    from rxaudit.case_seal import fingerprint, public_pem, signing_key
    from rxaudit.errors import ConfigError

    key = signing_key(settings_from_args(args))
    if key is None:
        raise ConfigError(gettext_for(_lang(args))(KEY_MISSING))
    pem = public_pem(key)
    if args.out is not None:
        args.out.write_bytes(pem)
    sys.stdout.write(pem.decode())
    print(fingerprint(key.public_key()))
    return 0


def cmd_user_identity(args: argparse.Namespace) -> int:
    from cli.common import db_session
    from database.accounts import set_identity

    with db_session(args) as session:
        set_identity(session, name=args.name, full_name=args.full_name, badge_no=args.badge)
    print(f"user {args.name}: name and badge number recorded")
    return 0


def _lang_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lang", choices=["zh_CN", "en"], help="language of the lines printed (default: $LANG)")


def register_user(user_sub) -> None:
    """``rxaudit user identity NAME --full-name N --badge B`` (the ``user`` group is cli.review's)."""
    from cli.common import common

    q = user_sub.add_parser("identity", help="record a reviewer's full name and badge number (case files)")
    q.add_argument("name")
    q.add_argument("--full-name", dest="full_name", required=True, help="as on the warrant card")
    q.add_argument("--badge", required=True, help="badge (执法证) number")
    common(q)
    q.set_defaults(func=cmd_user_identity)


def register(sub) -> None:
    from cli.common import common

    p = sub.add_parser("verify-case", help="check a case file offline: every sha256, no extra or missing "
                       "file, the Ed25519 signature; exit 0 when it verifies")
    p.add_argument("case", type=Path, help="the case file (.zip)")
    p.add_argument("--public-key", dest="public_key", type=Path,
                   help="the bureau's public key (PEM, from `rxaudit case-key public`)")
    _lang_option(p)
    p.set_defaults(func=cmd_verify_case)

    p = sub.add_parser("case-key", help="the bureau's case-file signing key").add_subparsers(
        dest="case_key_cmd", required=True)
    q = p.add_parser("generate", help="write a new Ed25519 private key (PEM, mode 0600) and print its public key")
    q.add_argument("--out", type=Path, required=True)
    _lang_option(q)
    q.set_defaults(func=cmd_case_key_generate)
    q = p.add_parser("public", help="print the configured key's public key (PEM) and fingerprint")
    q.add_argument("--out", type=Path, help="also write the PEM here")
    _lang_option(q)
    common(q)
    q.set_defaults(func=cmd_case_key_public)
