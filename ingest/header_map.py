"""Column names of real exports -> rxaudit's column names.

Chinese insurance and pharmacy systems export their logs with Chinese headers (结算流水号, 定点机构编码,
…). Every tabular input is read through one flat map ``header as exported -> column``; the built-in
map covers the common names and a YAML file (setting ``column_map``) adds or overrides entries:

    社会保障卡号: card_id
    商品条码: item_code
"""

from __future__ import annotations

from pathlib import Path

import yaml

from rxaudit.errors import ConfigError

BUILTIN: dict[str, tuple[str, ...]] = {
    # settlements.csv
    "settlement_id": ("结算流水号", "结算单号", "流水号", "结算ID"),
    "pharmacy_id": ("定点机构编码", "定点医药机构编码", "机构编码", "药店编码"),
    "counter_id": ("收费窗口", "收银台", "窗口号"),
    "settled_at": ("结算时间", "交易时间"),
    "card_id": ("社保卡号", "人员编号", "医保卡号", "卡号"),
    "amount": ("结算金额", "交易金额"),
    "operator": ("操作员", "收款员"),
    # settlement_items.csv, item_catalogue.csv
    "item_code": ("药品编码", "商品编码", "项目编码"),
    "item_name": ("药品名称", "商品名称", "项目名称"),
    "quantity": ("数量", "进货数量", "盘点数量", "库存数量"),
    "unit_price": ("单价",),
    "trace_codes": ("追溯码", "药品追溯码"),
    "category": ("类别", "医保类别"),
    # purchases.csv, stock.csv
    "received_at": ("进货日期", "进货时间", "入库时间", "到货时间"),
    "supplier": ("供应商", "供货单位"),
    "invoice_no": ("发票号", "发票号码"),
    "counted_at": ("盘点时间", "盘点日期"),
    # pharmacies.csv
    "name": ("机构名称", "药店名称"),
    "district": ("所属区县", "区县"),
    "lat": ("纬度",),
    "lon": ("经度",),
    "licensee": ("经营者", "企业负责人", "法定代表人"),
    "address": ("地址", "经营地址", "注册地址"),
}
COLUMNS = frozenset(BUILTIN)


def builtin_aliases() -> dict[str, str]:
    return {alias: column for column, aliases in BUILTIN.items() for alias in aliases}


def load_aliases(extra: Path | None = None) -> dict[str, str]:
    """The built-in map, extended (and overridden) by the YAML file ``extra`` when given."""
    aliases = builtin_aliases()
    if extra is None:
        return aliases
    try:
        loaded = yaml.safe_load(Path(extra).read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"column_map: cannot read {extra}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"column_map: {extra} must be a mapping of exported header: column")
    for header, column in loaded.items():
        if not isinstance(header, str) or not isinstance(column, str) or not header.strip():
            raise ConfigError(f"column_map: {extra}: entry {header!r}: {column!r} is not header: column")
        if column not in COLUMNS:
            raise ConfigError(f"column_map: {extra}: {header!r} maps to unknown column {column!r} "
                              f"(known: {', '.join(sorted(COLUMNS))})")
        aliases[header.strip()] = column
    return aliases
