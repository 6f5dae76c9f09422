"""The rule table: every row-level decision, declared once.

From :data:`RULES` come (1) the SQL of the main DuckDB pass (is the row rejected?,
:func:`fipro.ingest.sql.reject_sql`), (2) the SQL ``CASE`` that names the reason of a
rejected line when the line-by-line pass re-reads it (:func:`fipro.ingest.rejects.recheck`),
and (3) the pure-Python check of one line (:func:`check_line`). The ingest compares (2)
and (3) on every rejected line and stops if they disagree, and a test breaks every rule
once through both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from fipro import contract


# --- SQL literals (the rules write SQL, so they own the quoting) -------------------------

def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def in_list(values) -> str:
    return "(" + ", ".join(quote(v) for v in values) + ")"


_QUARTER_PATTERN = r"[0-9]{4}q[1-4]"
_YYYYMM_PATTERN = r"[0-9]{4}(0[1-9]|1[0-2])"
# Amounts are read as DECIMAL(18,3) where a fraction may occur: DuckDB rounds the fourth
# decimal half up and refuses more than 15 integer digits; the line check does the same.
_AMOUNT_SCALE = Decimal("0.001")
_AMOUNT_LIMIT = Decimal(10) ** 15


@dataclass(frozen=True)
class Rule:
    """One row-level rejection rule.

    Parameters
    ----------
    reason : str
        Stable English key stored in ``rejects.reason`` (``"blank code"``).
    reason_ko : str
        The same in Korean, for people (``rejects.csv``, notebook 00).
    column : str
        The column the rule looks at (the offending cell).
    kind : str
        What is checked: ``"fields"`` (field count), ``"encoding"``, ``"number"``
        (an amount that is not a number) — these three are decided by DuckDB's CSV
        reader — then ``"pattern"``, ``"blank"``, ``"code"``, ``"optional_pattern"``,
        ``"missing"``, ``"negative"``, ``"fraction"``, ``"above"``.
    arg : object
        The kind's argument: a regular expression, the code table, the column compared
        with (``"above"``), ``-1``/``+1`` (too few / too many fields).
    """

    reason: str
    reason_ko: str
    column: str
    kind: str
    arg: object = None

    @property
    def by_reader(self) -> bool:
        """Decided by DuckDB's CSV reader (``store_rejects``), not by a SQL predicate."""
        return self.kind in ("fields", "encoding", "number")

    @property
    def sql(self) -> str:
        """SQL that is true when a normalised row breaks the rule (never NULL)."""
        c = self.column
        if self.kind == "pattern":
            return f"NOT regexp_full_match(coalesce({c}, ''), {quote(self.arg)})"
        if self.kind == "blank":
            return f"coalesce(CAST({c} AS VARCHAR), '') = ''"
        if self.kind == "code":
            return f"coalesce({c} <> '' AND {c} NOT IN {in_list(self.arg)}, false)"
        if self.kind == "optional_pattern":
            return f"coalesce({c} IS NOT NULL AND NOT regexp_full_match({c}, {quote(self.arg)}), false)"
        if self.kind == "missing":
            return f"{c} IS NULL"
        if self.kind == "negative":
            return f"coalesce({c} < 0, false)"
        if self.kind == "fraction":
            return f"coalesce({c} <> trunc({c}), false)"
        if self.kind == "above":
            return f"coalesce({c} > {self.arg}, false)"
        raise ValueError(f"rule {self.reason!r} is decided by the CSV reader, not by SQL")

    def fails(self, row: dict) -> bool:
        """The Python twin of :attr:`sql` on one normalised row (see :func:`check_line`)."""
        v = row.get(self.column)
        if self.kind == "pattern":
            return re.fullmatch(self.arg, v or "") is None
        if self.kind == "blank":
            return not v
        if self.kind == "code":
            return bool(v) and v not in self.arg
        if self.kind == "optional_pattern":
            return v is not None and re.fullmatch(self.arg, v) is None
        if self.kind == "missing":
            return v is None
        if self.kind == "negative":
            return v is not None and v < 0
        if self.kind == "fraction":
            return v is not None and v != v.to_integral_value(rounding=ROUND_DOWN)
        if self.kind == "above":
            other = row.get(self.arg)
            return v is not None and other is not None and v > other
        raise ValueError(f"rule {self.reason!r} is decided by the CSV reader, not on a normalised row")


def _declare_rules() -> tuple[Rule, ...]:
    amounts = contract.AMOUNT_COLUMNS
    rules = [
        Rule("short line", "필드 수 부족", "", "fields", -1),
        Rule("long line", "필드 수 초과", "", "fields", +1),
        Rule("invalid text encoding", "문자 인코딩 오류", "", "encoding"),
        *(Rule("non-numeric amount", "숫자가 아닌 금액", c, "number") for c in amounts),
        Rule("invalid quarter", "기준분기 형식 오류", "BAS_YH", "pattern", _QUARTER_PATTERN),
        Rule("blank key", "고객번호(SEQ) 빈 값", "SEQ", "blank"),
        *(Rule("blank code", "코드 빈 값", c, "blank") for c in contract.CODE_COLUMNS),
        *(Rule("unknown code", "코드표에 없는 코드", c, "code", tuple(contract.CODE_TABLES[c]))
          for c in contract.CODE_COLUMNS),
        Rule("invalid ATT_YM", "입회년월 형식 오류", "ATT_YM", "optional_pattern", _YYYYMM_PATTERN),
        *(Rule("blank amount", "금액 빈 값", c, "missing") for c in amounts),
        *(Rule("negative amount", "음수 금액", c, "negative") for c in amounts),
        *(Rule("fractional amount", "소수 금액", c, "fraction") for c in amounts),
        *(Rule("part above total", "부분 금액이 총이용금액보다 큼", c, "above", "TOT_USE_AM")
          for c in ("CRDSL_USE_AM", "CNF_USE_AM")),
    ]
    return tuple(rules)


# Order matters: the first failing rule names the reason of a rejected line.
RULES: tuple[Rule, ...] = _declare_rules()
SQL_RULES: tuple[Rule, ...] = tuple(r for r in RULES if not r.by_reader)
# Decisions across lines (not one line's content); they follow the row rules.
CROSS_LINE_REASONS_KO = {"duplicate key": "중복 키 (기준분기×고객번호)", "blank line": "빈 줄"}
REASONS: tuple[str, ...] = (*dict.fromkeys(r.reason for r in RULES), *CROSS_LINE_REASONS_KO)
REASON_KO: dict[str, str] = {**{r.reason: r.reason_ko for r in RULES}, **CROSS_LINE_REASONS_KO}
# DuckDB reader error types -> the rule kind that names them.
READER_REASON = {
    "MISSING COLUMNS": "short line",
    "TOO MANY COLUMNS": "long line",
    "INVALID ENCODING": "invalid text encoding",
    "INVALID UNICODE": "invalid text encoding",
    "CAST": "non-numeric amount",
}


def parse_amount(text: str) -> Decimal | None:
    """An amount cell as DuckDB's DECIMAL(18,3) reads it; ``None`` for a blank cell.

    Raises ``ValueError`` where DuckDB's reader would reject the cell.
    """
    text = text.strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(text) from exc
    if not value.is_finite() or abs(value) >= _AMOUNT_LIMIT:
        raise ValueError(text)
    return value.quantize(_AMOUNT_SCALE, rounding=ROUND_HALF_UP)


def normalised_row(fields: list[str], header: list) -> dict:
    """One line's cells normalised as :func:`normalised_select` does in SQL."""
    row = {}
    for name, text in zip(header, fields):
        if name in contract.AMOUNT_COLUMNS:
            row[name] = parse_amount(text)
        elif name == "BAS_YH":
            row[name] = text.strip().lower()
        elif name in contract.CODE_COLUMNS:
            row[name] = text.strip().upper()
        elif name == "ATT_YM":
            row[name] = text.strip() or None
        else:
            row[name] = text.strip()
    return row


def check_line(line: bytes | str, header=None) -> dict:
    """Judge one raw data line with the rule table, in pure Python.

    Parameters
    ----------
    line : bytes or str
        The line as it stands in the (UTF-8) file, without its line end.
    header : list of str, optional
        The file's column names in file order; default the contract's order.

    Returns
    -------
    dict
        ``reason`` (the first failing rule's reason, ``None`` when the line is
        accepted), ``column`` and ``value`` (the offending cell as written, ``""`` for a
        whole-line problem) and ``reasons`` (every failing rule, ``"; "``-joined).

    Examples
    --------
    >>> fields = ["2023q1", "7", "30", "2", "24", "202001", "서울", "Y", "N", "NEW_WED"] + ["0"] * 45
    >>> check_line(",".join(fields))["reason"] is None
    True
    >>> fields[3] = "3"
    >>> check_line(",".join(fields))["reason"], check_line(",".join(fields))["column"]
    ('unknown code', 'SEX_CD')
    """
    header = list(header) if header is not None else list(contract.COLUMN_NAMES)
    raw = line if isinstance(line, bytes) else line.encode("utf-8")
    n_fields = raw.count(b",") + 1

    def verdict(rule: Rule, value: str = "", failing=()) -> dict:
        reasons = "; ".join(f"{r.reason} ({r.column})" for r in failing) or rule.reason
        return {"reason": rule.reason, "column": rule.column, "value": value, "reasons": reasons}

    for rule in RULES:
        if rule.kind == "fields" and (n_fields - len(header)) * rule.arg > 0:
            return verdict(rule, f"{n_fields} of {len(header)} fields")
    try:
        fields = raw.decode("utf-8").split(",")
    except UnicodeDecodeError:
        return verdict(next(r for r in RULES if r.kind == "encoding"))
    cells = dict(zip(header, fields))
    for rule in RULES:
        if rule.kind == "number":
            try:
                parse_amount(cells[rule.column])
            except ValueError:
                return verdict(rule, cells[rule.column])
    row = normalised_row(fields, header)
    failing = [r for r in SQL_RULES if r.fails(row)]
    if not failing:
        return {"reason": None, "column": "", "value": "", "reasons": ""}
    return verdict(failing[0], cells.get(failing[0].column, ""), failing)
