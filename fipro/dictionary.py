"""The data dictionary, written from the contract, and a check against the owner's spreadsheet.

``python -m fipro dictionary`` writes ``data/reference/data_dictionary.xlsx`` (one
sheet of columns, one sheet per code table, Korean labels, frozen header) and a CSV
twin. If the owner's definition spreadsheet (any ``*.xlsx`` in ``data/raw/``) is
present, its column names are compared with the contract and the differences are
reported in plain words.
"""

from __future__ import annotations

import argparse
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from openpyxl import load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from fipro import config, contract
from fipro.export import atomic_path
from fipro.text_ko import COLUMN_NAME_KO, YN_SHEET_KO

GROUP_KO = {
    "key": "키",
    "demographic": "고객 속성",
    "total": "총액",
    "upper": "업종 대분류",
    "detail": "업종 중분류",
}
DTYPE_KO = {"str": "문자", "int": "정수(천원)", "yn": "Y/N"}
# one sheet per code table, in this order; the Y/N columns share one sheet
CODE_SHEET_TITLES = {c: (YN_SHEET_KO if c == "DIGT_CHNL_REG_YN" else COLUMN_NAME_KO[c])
                     for c in ("AGE", "SEX_CD", "MBR_RK", "HOUS_SIDO_NM", "DIGT_CHNL_REG_YN", "LIFE_STAGE")}


def columns_table() -> pd.DataFrame:
    """One row per raw column, in file order, with Korean labels and the hierarchy."""
    rows = []
    for i, col in enumerate(contract.COLUMNS, start=1):
        rows.append(
            {
                "순번": i,
                "컬럼명": col.name,
                "한글명": col.label_ko,
                "구분": GROUP_KO[col.group],
                "자료형": DTYPE_KO[col.dtype],
                "상위분류": col.parent or "",
                "상위분류 한글명": contract.label(col.parent) if col.parent else "",
                "코드표": CODE_SHEET_TITLES.get(col.name, YN_SHEET_KO if col.dtype == "yn" else ""),
                "비고": col.note,
            }
        )
    return pd.DataFrame(rows)


def code_tables() -> dict[str, pd.DataFrame]:
    """Code tables as frames keyed by sheet title (the two Y/N columns share one)."""
    tables = {}
    for column, title in CODE_SHEET_TITLES.items():
        codes = contract.CODE_TABLES[column]
        tables[title] = pd.DataFrame({"코드": list(codes), "의미": list(codes.values())})
    return tables


def write_dictionary(out_dir: Path | None = None) -> tuple[Path, Path]:
    """Write the formatted xlsx and its CSV twin (each atomically); return both paths."""
    out_dir = Path(out_dir or config.REFERENCE_DIR)
    xlsx, csv = out_dir / "data_dictionary.xlsx", out_dir / "data_dictionary.csv"
    columns = columns_table()
    with atomic_path(csv) as tmp:
        # utf-8-sig so Excel opens the Korean CSV correctly
        columns.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\n")

    sheets = {"컬럼 정의": columns, **code_tables()}
    header_fill = PatternFill("solid", fgColor="1F4E79")
    workbook = io.BytesIO()
    with pd.ExcelWriter(workbook, engine="openpyxl") as writer:
        for title, frame in sheets.items():
            frame.to_excel(writer, sheet_name=title, index=False)
            ws = writer.sheets[title]
            ws.freeze_panes = "A2"
            for cell in ws[1]:
                cell.font = Font(bold=True, color="FFFFFF")
                cell.fill = header_fill
                cell.alignment = Alignment(horizontal="center")
            for j, name in enumerate(frame.columns, start=1):
                width = max([len(str(name))] + [len(str(v)) for v in frame[name]]) * 1.6 + 2
                ws.column_dimensions[get_column_letter(j)].width = min(max(width, 8), 50)
            ws.auto_filter.ref = ws.dimensions
    with atomic_path(xlsx) as tmp:
        _write_pinned_xlsx(workbook, tmp)
    return xlsx, csv


def _write_pinned_xlsx(workbook: io.BytesIO, path: Path) -> None:
    """Copy an xlsx into ``path`` with fixed timestamps.

    openpyxl stamps the current time into docProps and the zip entries: pinning them
    makes reruns byte-stable.
    """
    fixed = "2022-01-01T00:00:00Z"
    workbook.seek(0)
    with zipfile.ZipFile(workbook) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" + fixed.encode(), data)
            info = zipfile.ZipInfo(item.filename, date_time=(2022, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, data)


# --- the owner's definition spreadsheet -------------------------------------------------

_COLUMN_NAME = re.compile(r"^[A-Z][A-Z0-9_]*[A-Z0-9]$")


@dataclass
class SpecComparison:
    """Differences between the owner's spreadsheet and the contract."""

    path: Path
    found: list[str]
    missing_in_spec: list[str] = field(default_factory=list)
    unknown_in_spec: list[str] = field(default_factory=list)
    order_differs: bool = False

    @property
    def matches(self) -> bool:
        return not (self.missing_in_spec or self.unknown_in_spec or self.order_differs)

    def summary_ko(self) -> str:
        name = self.path.name
        if self.matches:
            return f"'{name}'의 컬럼 {len(self.found)}개가 데이터 계약과 이름·순서 모두 일치합니다."
        parts = [f"'{name}'과(와) 데이터 계약을 비교했습니다 (명세서 컬럼 {len(self.found)}개, 계약 {len(contract.COLUMN_NAMES)}개)."]
        if self.missing_in_spec:
            parts.append("명세서에 없는 계약 컬럼: " + ", ".join(self.missing_in_spec) + ".")
        if self.unknown_in_spec:
            parts.append("계약에 없는 명세서 컬럼: " + ", ".join(self.unknown_in_spec) + ".")
        if self.order_differs:
            parts.append("공통 컬럼의 순서가 계약과 다릅니다.")
        return " ".join(parts)


def spec_column_names(path: Path) -> list[str]:
    """Column names found in a definition spreadsheet, in sheet order.

    The layout of the owner's spreadsheet is not published, so every cell of every
    sheet is scanned for values shaped like a column name (``TOT_USE_AM``) and
    de-duplicated in order of appearance.
    """
    wb = load_workbook(path, read_only=True, data_only=True)
    seen: dict[str, None] = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            for value in row:
                if isinstance(value, str):
                    text = value.strip().upper()
                    if _COLUMN_NAME.match(text) and ("_" in text or text in contract.COLUMN_NAMES):
                        seen.setdefault(text, None)
    wb.close()
    return list(seen)


def compare_with_spec(path: Path) -> SpecComparison:
    """Compare the spreadsheet's column names with the contract's."""
    found = spec_column_names(path)
    expected = list(contract.COLUMN_NAMES)
    common_spec = [c for c in found if c in expected]
    common_contract = [c for c in expected if c in found]
    return SpecComparison(
        path=Path(path),
        found=found,
        missing_in_spec=[c for c in expected if c not in found],
        unknown_in_spec=[c for c in found if c not in expected],
        order_differs=common_spec != common_contract,
    )


def check_owner_spec(raw_dir: Path | None = None) -> list[SpecComparison]:
    """Compare every ``*.xlsx`` in the raw folder with the contract."""
    raw_dir = Path(raw_dir or config.RAW_DIR)
    return [compare_with_spec(p) for p in sorted(raw_dir.glob("*.xlsx")) if not p.name.startswith("~$")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fipro dictionary", description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=None, help="default: data/reference")
    args = parser.parse_args(argv)
    xlsx, csv = write_dictionary(args.out_dir)
    print(f"데이터 사전: {xlsx} , {csv}")
    for comparison in check_owner_spec():
        print(comparison.summary_ko())
    return 0
