"""A deliberately messy raw file for the loader tests (``from messy import write_messy``).

Only the tests write one, so it lives beside them rather than in :mod:`fipro.synth`:
the clean rows come from :func:`fipro.synth.generate_frame`, then each declared defect
is planted on its own lines and recorded in a manifest the tests check ingest against.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fipro import config, contract
from fipro.synth import generate_frame

MESSY_DEFECTS = ("upper_q", "padded_codes", "blank_amount", "non_numeric_amount", "negative_amount",
                 "duplicate_key", "unknown_code", "short_line")
_UNKNOWN_CODES = (("AGE", "15"), ("SEX_CD", "3"), ("MBR_RK", "26"), ("HOUS_SIDO_NM", "평양"), ("LIFE_STAGE", "STUDENT"))


def write_messy(path, n_customers: int = 200, seed: int = config.RANDOM_SEED, defects=MESSY_DEFECTS,
                encoding: str = "cp949", bom: bool = False, line_end: str = "\n") -> dict:
    """Write a deliberately messy raw file and return the manifest of its defects.

    Parameters
    ----------
    path : path-like
        File to write (e.g. ``EDU_DATA_F.dat``); the manifest is also written to
        ``<path>.manifest.json``.
    n_customers, seed : int
        Size and seed of the underlying clean sample.
    defects : iterable of str or dict
        Defect names from ``MESSY_DEFECTS`` (two lines each), or ``{name: count}``.
    encoding : str
        ``"cp949"`` (EUC-KR) or ``"utf-8"``.
    bom : bool
        Start with a UTF-8 byte-order mark (only with a UTF-8 encoding).
    line_end : {"\\n", "\\r\\n"}

    Returns
    -------
    dict
        ``defects``: name -> sorted 1-based physical line numbers (header = line 1);
        ``lines``: line -> {defect, column, value}; ``duplicate_of``: duplicate line ->
        line it repeats; plus the file-level settings and line counts. Each defective
        line carries exactly one defect.
    """
    counts = dict(defects) if isinstance(defects, dict) else {d: 2 for d in defects}
    unknown = sorted(set(counts) - set(MESSY_DEFECTS))
    if unknown:
        raise ValueError(f"unknown defects {unknown}; choose from {MESSY_DEFECTS}")
    if bom and encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise ValueError("a byte-order mark needs a UTF-8 encoding")
    if line_end not in ("\n", "\r\n"):
        raise ValueError("line_end must be '\\n' or '\\r\\n'")
    raw, _ = generate_frame(n_customers, seed)
    fields = raw.astype(str).to_numpy().tolist()
    cols = list(contract.COLUMN_NAMES)
    rng = np.random.default_rng([seed, 7])
    needed = sum(counts.values())
    if needed > len(fields) // 2:
        raise ValueError("too many defects for this sample size")
    targets = iter(rng.choice(len(fields), needed, replace=False).tolist())
    notes: dict[int, dict] = {}  # data row index -> note
    dup_sources = []
    for name in MESSY_DEFECTS:
        for _ in range(counts.get(name, 0)):
            i = next(targets)
            row = fields[i]
            col, value = None, None
            if name == "upper_q":
                col, value = "BAS_YH", row[0].upper()
            elif name == "padded_codes":
                col = str(rng.choice(["AGE", "HOUS_SIDO_NM", "LIFE_STAGE", "MBR_RK"]))
                value = f" {row[cols.index(col)]}  "
            elif name in ("blank_amount", "non_numeric_amount", "negative_amount"):
                col = str(rng.choice(list(contract.AMOUNT_COLUMNS)))
                old = row[cols.index(col)]
                value = {"blank_amount": "", "non_numeric_amount": str(rng.choice(["N/A", "12a", "abc"])),
                         "negative_amount": f"-{old if old != '0' else rng.integers(1, 500)}"}[name]
            elif name == "unknown_code":
                col, value = _UNKNOWN_CODES[int(rng.integers(len(_UNKNOWN_CODES)))]
            elif name == "short_line":
                keep = int(rng.integers(5, len(cols) - 5))
                fields[i] = row[:keep]
                value = f"{keep} of {len(cols)} fields"
            elif name == "duplicate_key":
                dup_sources.append(i)
                notes[i] = {"defect": None}
                continue
            if col is not None:
                row[cols.index(col)] = value
            notes[i] = {"defect": name, "column": col, "value": value}
    # duplicates: an exact copy of a clean line, inserted a few lines later
    lines = [(",".join(f), i) for i, f in enumerate(fields)]
    for src in dup_sources:
        pos = next(k for k, (_, j) in enumerate(lines) if j == src)
        lines.insert(min(len(lines), pos + 1 + int(rng.integers(0, 5))), (lines[pos][0], ("dup", src)))
    manifest = {"path": str(path), "encoding": encoding, "bom": bom, "line_end": line_end,
                "defects": {d: [] for d in counts}, "lines": {}, "duplicate_of": {}}
    where = {}
    for k, (_, j) in enumerate(lines):
        if not isinstance(j, tuple):
            where[j] = k + 2
    for k, (_, j) in enumerate(lines):
        ln = k + 2  # header is line 1
        if isinstance(j, tuple):
            manifest["defects"]["duplicate_key"].append(ln)
            manifest["lines"][ln] = {"defect": "duplicate_key", "column": "BAS_YH,SEQ", "value": None}
            manifest["duplicate_of"][ln] = where[j[1]]
        elif j in notes and notes[j]["defect"]:
            manifest["defects"][notes[j]["defect"]].append(ln)
            manifest["lines"][ln] = notes[j]
    manifest["n_lines"] = len(lines) + 1
    manifest["n_data_lines"] = len(lines)
    text = line_end.join([",".join(cols)] + [t for t, _ in lines]) + line_end
    data = text.encode(encoding)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    path.with_name(path.name + ".manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return manifest
