"""The table over all areas of a batch: ``areas.csv`` (column names) and ``areas.xlsx`` (Chinese headers)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pandas as pd

__all__ = ["table_headers", "write_table"]

# ------------------------------------------------------------ table
_ZH = {
    "area": "区域",
    "status": "状态",
    "message": "说明",
    "recomputed": "本次计算",
    "total_weight": "需求总量",
    "population": "人口",
    "unreachable_population": "不可达人口",
    "runtime_s": "耗时（秒）",
    "key": "输入哈希",
    "standard": "标准",
}


def table_headers(columns, lang: str = "zh") -> list[str]:
    """Headers of the XLSX table: Chinese (default) or the column names."""
    if lang != "zh":
        return list(columns)
    from ..standards import KindRegistry

    reg = KindRegistry()
    out = []
    for c in columns:
        if c in _ZH:
            out.append(_ZH[c])
        elif c.startswith("covered_"):
            kind, tier = c[len("covered_") :].rsplit("_", 1)
            label = "任一设施" if kind == "any" else (reg[kind].label_zh if kind in reg else kind)
            out.append(f"{label} {tier}米覆盖率")
        elif c.startswith("complete_"):
            out.append(f"{c[len('complete_') :]} 完整生活圈占比")
        else:
            out.append(c)
    return out


def write_table(table: pd.DataFrame, out_dir: str | os.PathLike, *, lang: str = "zh") -> tuple[Path, Path]:
    """Write ``areas.csv`` (column names) and ``areas.xlsx`` (Chinese headers by default), atomically."""
    out = Path(out_dir)
    csv = out / "areas.csv"
    xlsx = out / "areas.xlsx"
    tmp = out / f".areas.{uuid.uuid4().hex[:8]}.csv"
    table.to_csv(tmp, index=False, encoding="utf-8")
    os.replace(tmp, csv)
    tmpx = out / f".areas.{uuid.uuid4().hex[:8]}.xlsx"
    shown = table.copy()
    shown.columns = table_headers(table.columns, lang)
    shown.to_excel(tmpx, index=False, sheet_name="areas")
    os.replace(tmpx, xlsx)
    return csv, xlsx
