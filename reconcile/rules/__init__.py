"""One module per rule. Per-settlement rules: ``check(settlement, ctx, seen) -> Flag | None``.
Batch rules (looking across settlements): ``check(settlements, ctx) -> list[Flag]``."""
