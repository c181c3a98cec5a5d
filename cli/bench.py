"""``rxaudit bench``: the audit against a naive baseline (CPU-s, settlements/s, peak RSS); the other
benchmark commands register themselves from the benchmarks room."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cli.common import common, settings_from_args


def cmd_bench(args: argparse.Namespace) -> int:
    from benchmarks.audit import run_bench

    settings_from_args(args).require_card_key()
    scales = tuple(int(x) for x in args.scale.split(","))
    result = run_bench(settlements_file=args.settlements, videos=args.videos,
                       cameras_file=args.cameras, scales=scales)
    for name in ("rxaudit", "naive"):
        r = result[name]
        print(f"{name:<8} {r['cpu_s_per_settlement']:>8.3f} CPU-s/settlement {r['settlements_per_s']:>8.2f} "
              f"settlements/s  peak RSS {r['peak_rss_mb']:.0f} MB")
    print(f"ratio (naive / rxaudit CPU-s): {result['ratio']}x; same flags: {result['same_flags']}")
    for name in ("rxaudit", "naive"):
        stages = result["details"][name]["cpu_split_per_settlement"]
        print(f"CPU-s/settlement by stage ({name}): " + ", ".join(f"{k} {v:.3f}" for k, v in stages.items()))
    for name in ("rxaudit", "naive"):
        print(f"flags ({name}): " + ", ".join(f"{sid}:{kind}" for sid, kind in result["flags"][name]))
    for scale, m in result.get("memory", {}).items():
        print(f"memory {scale}: {m['settlements']} settlements, peak RSS {m['peak_rss_mb']:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


def register(sub) -> None:
    p = sub.add_parser("bench", help="rxaudit vs a naive baseline: CPU-s, settlements/s, peak RSS")
    p.add_argument("--settlements", type=Path, required=True)
    p.add_argument("--videos", required=True)
    p.add_argument("--cameras", type=Path)
    p.add_argument("--scale", default="1", help="e.g. 1,10: peak memory for 1x and 10x the log")
    p.add_argument("--json", type=Path)
    common(p)
    p.set_defaults(func=cmd_bench)
