"""``rxaudit serve``, ``user``, ``apikey`` and ``pharmacies``: the review UI and who may use it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli import cases
from cli.common import ENCODING_HELP, common, db_session, settings_from_args
from rxaudit.errors import InputError


def cmd_serve(args: argparse.Namespace) -> int:
    from api.app import create_app
    from api.server import serve

    settings = settings_from_args(args)
    print(f"rxaudit review UI: http://{args.host}:{args.port}/login  "
          "(API: /api/v1, its OpenAPI document: /api/v1/openapi.json)")
    serve(create_app(settings), host=args.host, port=args.port)
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    import getpass
    import secrets

    from database.accounts import add_user
    from rxaudit.security import Role, check_name

    if sys.stdin.isatty() and not args.generate:
        password = getpass.getpass("password (empty: generate one): ")
    elif not args.generate:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = ""
    generated = not password
    password = password or secrets.token_urlsafe(12)
    try:
        for value, what in [(args.name, "name"), *((d, "--district") for d in args.district or [])]:
            check_name(value, what)
        with db_session(args) as session:
            add_user(session, name=args.name, role=Role(args.role), password=password,
                     districts=args.district or [])
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    print(f"user {args.name} ({args.role}) added" + (f"; password: {password}" if generated else ""))
    return 0


def cmd_apikey_create(args: argparse.Namespace) -> int:
    from database.accounts import create_api_key
    from rxaudit.security import check_name

    try:
        for value, what in [(args.name, "--name"), *((d, "--district") for d in args.district or [])]:
            check_name(value, what)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    with db_session(args) as session:
        row, key = create_api_key(session, name=args.name, districts=args.district or [], scope=args.scope)
        key_id = row.id
    where = ", ".join(args.district) if args.district else "all districts"
    what = "ingest: may only post settlements" if args.scope == "ingest" else "read-only"
    print(f"API key {key_id} '{args.name}' ({what}; {where}); shown once, store it now:\n{key}")
    return 0


def cmd_apikey_revoke(args: argparse.Namespace) -> int:
    from database.accounts import revoke_api_key

    with db_session(args) as session:
        revoke_api_key(session, key_id=args.id)
    print(f"API key {args.id} revoked")
    return 0


def cmd_pharmacies_load(args: argparse.Namespace) -> int:
    from database.accounts import load_pharmacies

    encoding = settings_from_args(args).input_encoding
    with db_session(args) as session:
        loaded, problems = load_pharmacies(session, path=args.file, encoding=encoding)
    for problem in problems:
        print(f"{args.file}: {problem}", file=sys.stderr)
    print(f"{loaded} pharmacies loaded, {len(problems)} rows rejected")
    return 0


def register(sub) -> None:
    p = sub.add_parser("serve", help="the review UI and the wall API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    common(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("user", help="manage users").add_subparsers(dest="user_cmd", required=True)
    q = p.add_parser("add", help="add a user (password from stdin, or generated and printed)")
    q.add_argument("name")
    q.add_argument("--role", choices=["inspector", "supervisor", "admin"], required=True)
    q.add_argument("--district", action="append")
    q.add_argument("--generate", action="store_true", help="generate the password, print it")
    common(q)
    q.set_defaults(func=cmd_user_add)
    cases.register_user(p)  # rxaudit user identity (a reviewer's name and badge number, for case files)

    p = sub.add_parser("apikey", help="manage API keys").add_subparsers(dest="key_cmd", required=True)
    q = p.add_parser("create", help="create a key (printed once): read-only, or --scope ingest")
    q.add_argument("--name", required=True)
    q.add_argument("--district", action="append", help="only these districts' pharmacies (repeatable)")
    q.add_argument("--scope", choices=["read", "ingest"], default="read",
                   help="read (default): the wall and the API's reads; ingest: may only POST "
                   "/api/v1/settlements (reads nothing)")
    common(q)
    q.set_defaults(func=cmd_apikey_create)
    q = p.add_parser("revoke", help="revoke a key by id")
    q.add_argument("id", type=int)
    common(q)
    q.set_defaults(func=cmd_apikey_revoke)

    p = sub.add_parser("pharmacies", help="pharmacy registry").add_subparsers(dest="ph_cmd", required=True)
    q = p.add_parser("load", help="load pharmacies.csv (pharmacy_id, name, district)")
    q.add_argument("file", type=Path)
    q.add_argument("--encoding", help=ENCODING_HELP)
    common(q)
    q.set_defaults(func=cmd_pharmacies_load)
