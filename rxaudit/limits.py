"""What a stored input field may hold: the lengths of the text columns and the digits of the NUMERIC
columns that settlements, purchases, stock counts, sold trace codes and pharmacies are kept in.
``database.models`` declares its columns with these and ``ingest.fields`` checks every input row
against them (a test holds the two to each other)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

ID_LEN = 64  # ids (settlement, pharmacy, counter, item), card hashes, invoice numbers, districts
TEXT_LEN = 255  # names, suppliers
TRACE_CODE_LEN = 20  # a drug traceability code (药品追溯码)

NUMERIC_PRECISION = 12  # amounts and quantities: NUMERIC(12, 2)
NUMERIC_SCALE = 2

# column name -> the most characters an input field stored in a column of that name may hold
MAX_LENGTH: Mapping[str, int] = MappingProxyType({
    "settlement_id": ID_LEN, "pharmacy_id": ID_LEN, "counter_id": ID_LEN, "card_hash": ID_LEN,
    "item_code": ID_LEN, "supplier": TEXT_LEN, "invoice_no": ID_LEN, "code": TRACE_CODE_LEN,
    "name": TEXT_LEN, "district": ID_LEN, "operator": TEXT_LEN, "address": TEXT_LEN,
})
