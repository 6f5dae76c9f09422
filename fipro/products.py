"""The product catalogue and the card-benefit engine.

The catalogue is a set of small committed tables under ``data/reference/products/``
(documented column by column in its ``README.md``; every issuer and product is fictional):

==========================  ===================================================================
``cards.csv``               card type, annual fee, base rate, eligibility (age bands, grades)
``tiers.csv``               전월실적 ladder per card: monthly spend floor, shared cap (통합할인한도)
``benefits.csv``            card × category: rate / won per litre / fixed, per-benefit cap, cap group
``cap_groups.csv``          the monthly cap of each card's benefit groups
``performance_exclusions``  categories whose spend does not count toward 전월실적
``products.csv``            non-card products (savings, insurance, pension, loans) by life stage
==========================  ===================================================================

:func:`load_catalogue` validates everything on load and names the table, row (the file's
line number) and column of the first problem. :class:`BenefitEngine` computes, for every
customer × card, the monthly benefit of the customer's spending put on that card: the
실적 tier from the eligible spend, rate × spend with each benefit's cap, its cap group's
cap and the tier's shared cap, plus the base rate on the rest, minus a twelfth of the
annual fee. Vectorised over customers (callers pass chunks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from fipro import config, contract

CATALOGUE_DIR = config.REFERENCE_DIR / "products"
LITRE_PRICE_WON = 1_700.0  # won per litre of fuel: turns per-litre discounts into won (a parameter)
METHODS = ("rate", "per_litre", "fixed")
CARD_TYPES = ("credit", "check")
PRODUCT_KINDS = ("savings", "insurance", "pension", "loan")
TIER_NAMES = ("취약", "보통", "건강")
ADULT_BANDS = (20, 85)  # the first and last age bands of the contract
CATEGORIES: tuple[str, ...] = contract.DETAIL_COLUMNS

_FILES = {"cards": "cards.csv", "tiers": "tiers.csv", "benefits": "benefits.csv", "cap_groups": "cap_groups.csv",
          "exclusions": "performance_exclusions.csv", "products": "products.csv"}
_REQUIRED = {
    "cards": ("card_id", "name_ko", "issuer_ko", "card_type", "annual_fee_won", "base_rate", "min_age", "max_age",
              "grades", "description_ko"),
    "tiers": ("card_id", "tier", "min_monthly_spend_won", "shared_cap_won"),
    "benefits": ("card_id", "benefit_id", "category", "method", "value", "cap_won", "cap_group", "needs_tier",
                 "min_spend_won", "description_ko"),
    "cap_groups": ("card_id", "cap_group", "cap_won"),
    "exclusions": ("category", "reason_ko"),
    "products": ("product_id", "name_ko", "issuer_ko", "kind", "life_stages", "min_age", "max_age", "health_tiers",
                 "description_ko", "reason_ko"),
}
# columns that may be empty (meaning "none"); every other required column must be filled
_OPTIONAL = {("tiers", "shared_cap_won"), ("benefits", "cap_won"), ("benefits", "cap_group")}


class CatalogueError(ValueError):
    """A catalogue table breaks a rule: names the file, the line (header = line 1) and the column."""

    def __init__(self, table: str, row: Optional[int], column: Optional[str], problem: str):
        self.table, self.row, self.column = table, row, column
        where = _FILES.get(table, table) + (f" {row + 2}행" if row is not None else "") + (f" '{column}' 열" if column else "")
        super().__init__(f"상품 카탈로그 {where}: {problem}")


@dataclass(frozen=True)
class Catalogue:
    cards: pd.DataFrame
    tiers: pd.DataFrame
    benefits: pd.DataFrame
    cap_groups: pd.DataFrame
    exclusions: pd.DataFrame
    products: pd.DataFrame

    @property
    def card_ids(self) -> list[str]:
        return list(self.cards["card_id"])

    def card_name(self, card_id: str) -> str:
        row = self.cards.set_index("card_id").loc[card_id]
        return f"{row['issuer_ko']} {row['name_ko']}"


def _read(directory: Path, table: str) -> pd.DataFrame:
    path = directory / _FILES[table]
    if not path.is_file():
        raise CatalogueError(table, None, None, f"파일이 없습니다 ({path})")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in _REQUIRED[table] if c not in frame.columns]
    if missing:
        raise CatalogueError(table, None, missing[0], "필수 열이 없습니다")
    for column in _REQUIRED[table]:
        if (table, column) in _OPTIONAL:
            continue
        blank = frame[column].str.strip() == ""
        if blank.any():
            raise CatalogueError(table, int(np.flatnonzero(blank)[0]), column, "값이 비어 있습니다")
    return frame


def _numbers(frame: pd.DataFrame, table: str, column: str, *, integer: bool = False, minimum: Optional[float] = 0.0,
             optional: bool = False) -> pd.Series:
    text = frame[column].str.strip()
    values = pd.to_numeric(text.where(text != ""), errors="coerce")
    bad = values.isna() & (text != "") if optional else values.isna()
    if bad.any():
        raise CatalogueError(table, int(np.flatnonzero(bad)[0]), column, f"숫자가 아닙니다: {text[bad].iloc[0]!r}")
    if integer and (values.dropna() % 1 != 0).any():
        row = int(np.flatnonzero((values % 1 != 0) & values.notna())[0])
        raise CatalogueError(table, row, column, f"정수여야 합니다: {text.iloc[row]!r}")
    if minimum is not None and (values.dropna() < minimum).any():
        row = int(np.flatnonzero((values < minimum) & values.notna())[0])
        raise CatalogueError(table, row, column, f"{minimum:g} 이상이어야 합니다: {text.iloc[row]!r}")
    return values


def _known(frame: pd.DataFrame, table: str, column: str, allowed, what: str) -> None:
    bad = ~frame[column].isin(list(allowed))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise CatalogueError(table, row, column, f"알 수 없는 {what}: {frame[column].iloc[row]!r}")


def _unique(frame: pd.DataFrame, table: str, columns: list[str]) -> None:
    dup = frame.duplicated(columns, keep="first")
    if dup.any():
        raise CatalogueError(table, int(np.flatnonzero(dup)[0]), columns[-1], "중복된 값입니다")


def _codes(frame: pd.DataFrame, table: str, column: str, allowed, what: str, everyone: Optional[str] = None) -> None:
    for i, text in enumerate(frame[column]):
        parts = [p.strip() for p in text.split("|")]
        if everyone is not None and parts == [everyone]:
            continue
        unknown = [p for p in parts if p not in allowed]
        if unknown:
            raise CatalogueError(table, i, column, f"알 수 없는 {what}: {unknown[0]!r}")


def _age_bands(frame: pd.DataFrame, table: str) -> tuple[pd.Series, pd.Series]:
    lo = _numbers(frame, table, "min_age", integer=True)
    hi = _numbers(frame, table, "max_age", integer=True)
    bad = lo > hi
    if bad.any():
        raise CatalogueError(table, int(np.flatnonzero(bad)[0]), "max_age", "min_age보다 작습니다")
    return lo.astype(int), hi.astype(int)


def load_catalogue(directory: Optional[Path] = None) -> Catalogue:
    """Read and validate the catalogue (typed columns; money in won per month unless named otherwise)."""
    directory = Path(directory) if directory is not None else CATALOGUE_DIR
    t = {name: _read(directory, name) for name in _FILES}

    cards = t["cards"].copy()
    _unique(cards, "cards", ["card_id"])
    _known(cards, "cards", "card_type", CARD_TYPES, "카드 종류")
    cards["annual_fee_won"] = _numbers(cards, "cards", "annual_fee_won", integer=True).astype(np.int64)
    cards["base_rate"] = _numbers(cards, "cards", "base_rate")
    if (cards["base_rate"] >= 1).any():
        raise CatalogueError("cards", int(np.flatnonzero(cards["base_rate"] >= 1)[0]), "base_rate", "비율은 1보다 작아야 합니다")
    cards["min_age"], cards["max_age"] = _age_bands(cards, "cards")
    _codes(cards, "cards", "grades", contract.MBR_RK_CODES, "등급 코드")
    ids = set(cards["card_id"])

    tiers = t["tiers"].copy()
    _known(tiers, "tiers", "card_id", ids, "card_id")
    tiers["tier"] = _numbers(tiers, "tiers", "tier", integer=True).astype(int)
    tiers["min_monthly_spend_won"] = _numbers(tiers, "tiers", "min_monthly_spend_won", integer=True)
    tiers["shared_cap_won"] = _numbers(tiers, "tiers", "shared_cap_won", optional=True)
    _unique(tiers, "tiers", ["card_id", "tier"])
    for card_id, ladder in tiers.groupby("card_id", sort=False):
        order = ladder.sort_values("tier")
        first = order.index[0]
        if order["tier"].tolist() != list(range(len(order))):
            raise CatalogueError("tiers", int(first), "tier", f"{card_id}의 구간은 0부터 1씩 이어져야 합니다")
        if order["min_monthly_spend_won"].iloc[0] != 0:
            raise CatalogueError("tiers", int(first), "min_monthly_spend_won", f"{card_id}의 0구간은 0원에서 시작해야 합니다")
        floors = order["min_monthly_spend_won"].to_numpy()
        if (np.diff(floors) <= 0).any():
            row = int(order.index[1 + int(np.flatnonzero(np.diff(floors) <= 0)[0])])
            raise CatalogueError("tiers", row, "min_monthly_spend_won", f"{card_id}의 실적 구간이 커지지 않습니다")
        caps = order["shared_cap_won"].fillna(np.inf).to_numpy()
        if (np.diff(caps) < 0).any():
            row = int(order.index[1 + int(np.flatnonzero(np.diff(caps) < 0)[0])])
            raise CatalogueError("tiers", row, "shared_cap_won", f"{card_id}의 통합할인한도가 구간이 오르며 줄어듭니다")
    without = sorted(ids - set(tiers["card_id"]))
    if without:
        raise CatalogueError("tiers", None, "card_id", f"구간이 없는 카드: {without[0]}")

    benefits = t["benefits"].copy()
    _unique(benefits, "benefits", ["benefit_id"])
    _known(benefits, "benefits", "card_id", ids, "card_id")
    _known(benefits, "benefits", "category", CATEGORIES, "업종")
    _known(benefits, "benefits", "method", METHODS, "방식")
    benefits["value"] = _numbers(benefits, "benefits", "value")
    rate = benefits["method"] == "rate"
    if (benefits.loc[rate, "value"] >= 1).any():
        raise CatalogueError("benefits", int(np.flatnonzero(rate & (benefits["value"] >= 1))[0]), "value",
                             "할인율은 1보다 작아야 합니다")
    benefits["cap_won"] = _numbers(benefits, "benefits", "cap_won", optional=True)
    _known(benefits, "benefits", "needs_tier", ("0", "1"), "값(0 또는 1)")
    benefits["needs_tier"] = benefits["needs_tier"] == "1"
    benefits["min_spend_won"] = _numbers(benefits, "benefits", "min_spend_won")
    benefits["cap_group"] = benefits["cap_group"].str.strip()

    groups = t["cap_groups"].copy()
    _known(groups, "cap_groups", "card_id", ids, "card_id")
    groups["cap_won"] = _numbers(groups, "cap_groups", "cap_won")
    _unique(groups, "cap_groups", ["card_id", "cap_group"])
    used = benefits.loc[benefits["cap_group"] != "", ["card_id", "cap_group"]]
    known_groups = set(zip(groups["card_id"], groups["cap_group"]))
    for i, key in zip(used.index, zip(used["card_id"], used["cap_group"])):
        if key not in known_groups:
            raise CatalogueError("benefits", int(i), "cap_group", f"cap_groups.csv에 한도가 없는 묶음: {key[0]} {key[1]!r}")

    exclusions = t["exclusions"].copy()
    _known(exclusions, "exclusions", "category", CATEGORIES, "업종")
    _unique(exclusions, "exclusions", ["category"])

    products = t["products"].copy()
    _unique(products, "products", ["product_id"])
    _known(products, "products", "kind", PRODUCT_KINDS, "상품 종류")
    products["min_age"], products["max_age"] = _age_bands(products, "products")
    _codes(products, "products", "life_stages", contract.LIFE_STAGE_CODES, "라이프스테이지", everyone="ALL")
    _codes(products, "products", "health_tiers", TIER_NAMES, "건강 등급", everyone="ALL")
    clash = set(products["product_id"]) & ids
    if clash:
        raise CatalogueError("products", None, "product_id", f"카드와 같은 id: {sorted(clash)[0]}")
    return Catalogue(cards=cards, tiers=tiers, benefits=benefits, cap_groups=groups, exclusions=exclusions,
                     products=products)


def monthly_won(amounts: np.ndarray) -> np.ndarray:
    """Contract amounts (``AMOUNT_UNIT_WON`` units, ``AMOUNT_PERIOD``) as won per month."""
    months = 3.0 if contract.AMOUNT_PERIOD == "quarter_total" else 1.0
    won = np.array(amounts, dtype=np.float64)  # a copy, scaled in place
    np.clip(won, 0, None, out=won)
    won *= contract.AMOUNT_UNIT_WON / months
    return won


def age_value(codes) -> np.ndarray:
    """Age band codes as numbers (unknown → -1)."""
    return np.array([contract.AGE_BAND_VALUE.get(str(c)) if contract.AGE_BAND_VALUE.get(str(c)) is not None else -1
                     for c in codes], dtype=np.int64)


@dataclass
class Benefits:
    """Monthly won per customer × card (``cards`` order): ``gross``, ``net`` (gross − fee / 12),
    ``tier`` reached, and per customer the 실적-eligible spend ``eligible``; ``by_benefit``
    (customers × benefits, in the engine's ``benefit_ids`` order) holds each benefit after its
    own cap, for reasons."""

    gross: np.ndarray
    net: np.ndarray
    tier: np.ndarray
    eligible: np.ndarray
    by_benefit: np.ndarray

    @property
    def picking_rate(self) -> np.ndarray:
        """피킹률: net benefit ÷ eligible spend (NaN without eligible spend)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.eligible[:, None] > 0, self.net / self.eligible[:, None], np.nan)


class BenefitEngine:
    """Vectorised benefit rules of a :class:`Catalogue` (see the module docstring)."""

    def __init__(self, catalogue: Catalogue, litre_price_won: float = LITRE_PRICE_WON):
        self.catalogue = catalogue
        self.litre_price_won = float(litre_price_won)
        cards, b = catalogue.cards, catalogue.benefits
        self.card_ids = list(cards["card_id"])
        card_pos = {c: i for i, c in enumerate(self.card_ids)}
        cat_pos = {c: j for j, c in enumerate(CATEGORIES)}
        n_cards, n_ben = len(cards), len(b)
        self.excluded = np.isin(np.array(CATEGORIES), catalogue.exclusions["category"].to_numpy())
        ladders = catalogue.tiers.sort_values(["card_id", "tier"])
        depth = int(ladders.groupby("card_id").size().max())
        self.floors = np.full((n_cards, depth), np.inf)
        self.shared = np.full((n_cards, depth), np.inf)
        for card_id, ladder in ladders.groupby("card_id"):
            i = card_pos[card_id]
            self.floors[i, :len(ladder)] = ladder["min_monthly_spend_won"].to_numpy()
            self.shared[i, :len(ladder)] = ladder["shared_cap_won"].fillna(np.inf).to_numpy()
        self.fee_month = cards["annual_fee_won"].to_numpy(dtype=np.float64) / 12.0
        self.base_rate = cards["base_rate"].to_numpy(dtype=np.float64)
        # benefits ordered by card, then cap group, so that groups and cards are contiguous
        # column runs summed with np.add.reduceat (no customers × benefits × groups product)
        b = b.assign(_card=b["card_id"].map(card_pos)).sort_values("_card", kind="stable")
        keys = [(c, g) if g else ("", bid) for c, g, bid in zip(b["card_id"], b["cap_group"], b["benefit_id"])]
        group_ids = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        b = b.assign(_group=[group_ids[k] for k in keys]).sort_values(["_card", "_group"], kind="stable")
        self.benefit_ids = b["benefit_id"].to_numpy()
        self.b_card = b["_card"].to_numpy()
        self.b_cat = b["category"].map(cat_pos).to_numpy()
        self.b_method = b["method"].to_numpy()
        self.b_value = b["value"].to_numpy(dtype=np.float64)
        self.b_cap = b["cap_won"].fillna(np.inf).to_numpy(dtype=np.float64)
        self.b_needs_tier = b["needs_tier"].to_numpy(dtype=bool)
        self.b_min_spend = b["min_spend_won"].to_numpy(dtype=np.float64)
        self.b_group = b["_group"].to_numpy()
        self.b_fixed = np.flatnonzero(self.b_method == "fixed")
        self.b_coef = np.where(self.b_method == "per_litre", self.b_value / self.litre_price_won, self.b_value)
        self.b_coef[self.b_fixed] = 0.0
        caps = catalogue.cap_groups.set_index(["card_id", "cap_group"])["cap_won"].to_dict()
        self.group_cap = np.array([caps.get(k, np.inf) for k in group_ids], dtype=np.float64)
        self.group_starts = np.flatnonzero(np.r_[True, np.diff(self.b_group) != 0])
        group_card = self.b_card[self.group_starts]
        self.card_starts = np.flatnonzero(np.r_[True, np.diff(group_card) != 0])
        self.cards_with_benefits = group_card[self.card_starts]
        self.covered = np.zeros((n_cards, len(CATEGORIES)), dtype=bool)
        self.covered[self.b_card, self.b_cat] = True
        self.n_benefits = n_ben

    def evaluate(self, spend: np.ndarray) -> Benefits:
        """Benefits of ``spend`` (customers × ``CATEGORIES``, won per month) on every card."""
        spend = np.asarray(spend, dtype=np.float64)
        n = len(spend)
        counted = spend[:, ~self.excluded]
        eligible = counted.sum(1)
        # tier reached on each card: the highest floor at or below the eligible spend
        tier = (eligible[:, None, None] >= self.floors[None]).sum(-1) - 1
        s = spend[:, self.b_cat]
        amount = s * self.b_coef
        amount[:, self.b_fixed] = self.b_value[self.b_fixed] * (s[:, self.b_fixed] >= np.maximum(self.b_min_spend[self.b_fixed], 1e-9))
        amount[(tier[:, self.b_card] == 0) & self.b_needs_tier] = 0.0
        np.minimum(amount, self.b_cap, out=amount)
        per_card = np.zeros((n, len(self.card_ids)))
        if self.n_benefits:
            grouped = np.minimum(np.add.reduceat(amount, self.group_starts, axis=1), self.group_cap)
            per_card[:, self.cards_with_benefits] = np.add.reduceat(grouped, self.card_starts, axis=1)
        shared = self.shared[np.arange(len(self.card_ids))[None, :], tier]
        category = np.minimum(per_card, shared)
        # the base rate pays on eligible spend in the categories the card has no benefit for
        uncovered = counted @ (~self.covered[:, ~self.excluded]).T
        gross = category + self.base_rate * uncovered
        return Benefits(gross=gross, net=gross - self.fee_month, tier=tier, eligible=eligible, by_benefit=amount)

    def eligible_cards(self, age_codes, grades) -> np.ndarray:
        """Customers × cards: the card's age bands and grades accept the customer."""
        cards = self.catalogue.cards
        age = age_value(age_codes)
        lo, hi = cards["min_age"].to_numpy(), cards["max_age"].to_numpy()
        # an unknown age band only passes cards open to every adult band
        ok_age = np.where(age[:, None] >= 0, (age[:, None] >= lo) & (age[:, None] <= hi),
                          (lo <= ADULT_BANDS[0]) & (hi >= ADULT_BANDS[1]))
        allowed = [set(g.split("|")) for g in cards["grades"]]
        grade = np.asarray(grades).astype(str)
        ok_grade = np.column_stack([np.isin(grade, list(a)) for a in allowed])
        return ok_age & ok_grade
