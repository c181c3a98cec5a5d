"""``POST /api/v1/settlements``: the platform pushes settlements as they happen (the live audit).

Only ingest keys (``rxaudit apikey create --scope ingest``) may post; read keys and signed-in users
are refused (403), and an ingest key reads nothing (``api.deps.optional_viewer``). The body is a JSON
array of settlement objects (``ingest.live_records``), optionally ``Content-Encoding: gzip``; the
body and its JSON after decompression are bounded by ``ingest_max_bytes``, the records by
``ingest_max_records`` (over either: 413, nothing stored; a gzip bomb is stopped at the bound).

A key with districts may post only pharmacies of its districts (``pharmacies`` registry); a pharmacy
the registry does not hold is accepted only from a key without districts (a district-bound key gets
the same error for it as for another district's pharmacy, so it learns nothing of the registry).

Each record is read on its own: a bad one gets an error naming its index and field, the others go to
the inbox (``database.inbox.accept``: idempotent on ``settlement_id``; a different record under a
known id is a conflict, kept aside). The answer comes after the commit: 202 with what became of each
record, or 422 (same body) when not one record could be used.
"""

from __future__ import annotations

import zlib
from typing import Annotated, Any

import orjson
from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from api.deps import IngestKey, SessionDep
from database.accounts import districts_of
from database.inbox import Outcome, accept
from ingest.fields import IngestOptions
from ingest.live_records import RecordError, read_records
from rxaudit.domain import Settlement
from rxaudit.errors import InputError, TooLarge
from rxaudit.security import Principal

router = APIRouter(prefix="/api/v1", tags=["ingest"])
OUT_OF_SCOPE = "pharmacy_id is not a pharmacy of this key's districts"


def gunzip(data: bytes, limit: int) -> bytes:
    """``data`` (one gzip member) decompressed, stopping at ``limit`` bytes of output (TooLarge)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise InputError("body is not valid gzip") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"body is larger than {limit} bytes once decompressed (setting ingest_max_bytes)")
    if not inflater.eof or inflater.unused_data:
        raise InputError("body is not one complete gzip stream")
    return out


async def request_body(request: Request) -> bytes:
    """The body, read up to ``ingest_max_bytes`` (TooLarge beyond), gunzipped when so encoded."""
    limit = request.app.state.settings.ingest_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body is larger than {limit} bytes (setting ingest_max_bytes)")
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body is larger than {limit} bytes (setting ingest_max_bytes)")
        parts.append(chunk)
    body = b"".join(parts)
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding == "gzip":
        return await to_thread.run_sync(gunzip, body, limit)
    if encoding not in ("", "identity"):
        raise InputError("Content-Encoding: only gzip (or none) is accepted")
    return body


def parse_batch(body: bytes, max_records: int) -> list[Any]:
    """The body's JSON array (InputError: not JSON, not an array; TooLarge: too many records)."""
    try:
        values = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InputError("body is not JSON (UTF-8)") from None
    if not isinstance(values, list):
        raise InputError("body must be a JSON array of settlement objects")
    if len(values) > max_records:
        raise TooLarge(f"more than {max_records} settlements in one request (setting ingest_max_records)")
    return values


def in_scope(session, who: Principal, settlements: list[Settlement]) -> tuple[list[Settlement], list[RecordError]]:
    """The settlements ``who`` may post, and an error for each other one."""
    if who.districts is None:
        return settlements, []
    district = districts_of(session, pharmacy_ids=[s.pharmacy_id for s in settlements])
    kept, refused = [], []
    for s in settlements:
        if district.get(s.pharmacy_id) in who.districts:
            kept.append(s)
        else:
            refused.append(RecordError(s.line or 0, "pharmacy_id", OUT_OF_SCOPE))
    return kept, refused


ITEM_SCHEMA = {"type": "object", "required": ["item_code", "quantity", "unit_price"], "properties": {
    "item_code": {"type": "string"}, "item_name": {"type": "string"},
    "quantity": {"type": ["number", "string"]}, "unit_price": {"type": ["number", "string"]},
    "trace_codes": {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{20}$"}}}}
BODY_SCHEMA = {"type": "array", "items": {
    "type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
    "required": ["settlement_id", "pharmacy_id", "counter_id", "settled_at", "card_id", "amount"],
    "properties": {"settlement_id": {"type": "string"}, "pharmacy_id": {"type": "string"},
                   "counter_id": {"type": "string"}, "settled_at": {"type": "string", "format": "date-time"},
                   "card_id": {"type": "string"}, "amount": {"type": ["number", "string"]},
                   "items": {"type": "array", "items": ITEM_SCHEMA}}}}


@router.post("/settlements", status_code=202, summary="Post settlements as they happen (ingest keys)",
             openapi_extra={"security": [{"apiKey": []}], "requestBody": {
                 "required": True, "description": "Content-Encoding: gzip accepted",
                 "content": {"application/json": {"schema": BODY_SCHEMA}}}},
             responses={202: {"description": "stored (committed): what became of each record"},
                        413: {"description": "body or record count over its bound; nothing stored"},
                        422: {"description": "not a JSON array, or not one record usable"}})
def post_settlements(request: Request, session: SessionDep, who: IngestKey,
                     body: Annotated[bytes, Depends(request_body)]) -> JSONResponse:
    settings = request.app.state.settings
    values = parse_batch(body, settings.ingest_max_records)
    settlements, errors = read_records(values, settings.require_card_key(), _options(request))
    settlements, refused = in_scope(session, who, settlements)
    errors += refused
    accepted = accept(session, settlements=settlements, source="api", settings=settings,
                      origin=f"POST /api/v1/settlements (key {who.name})")
    session.commit()  # durably stored before the answer says so
    conflicts = [{"index": c.line, "settlement_id": c.settlement_id, "fields": list(c.fields)}
                 for c in accepted.conflicts]
    answer = {"received": len(values), "stored": accepted.count(Outcome.STORED),
              "duplicates": accepted.count(Outcome.DUPLICATE), "conflicts": conflicts,
              "errors": [e.to_json() for e in sorted(errors, key=lambda e: e.index)]}
    return JSONResponse(answer, status_code=202 if settlements or not values else 422)


def _options(request: Request) -> IngestOptions:
    """The settings' ingest options, made once per app (the column map file is read once)."""
    state = request.app.state
    if getattr(state, "ingest_options", None) is None:
        state.ingest_options = IngestOptions.from_settings(state.settings)
    return state.ingest_options
