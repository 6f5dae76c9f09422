"""The product catalogue and the benefit engine: exact won amounts on hand-made cards and spending
(실적 tiers, per-benefit caps, cap groups, the shared cap, base rate, fees), eligibility, and the
validation errors that name the table, line and column. Also the committed catalogue loads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fipro import products
from fipro.products import CATEGORIES, BenefitEngine, CatalogueError, load_catalogue

CAT = {c: j for j, c in enumerate(CATEGORIES)}

CARDS = [
    # card_id, type, fee, base_rate, min_age, max_age, grades
    ("X1", "credit", 12000, 0.0, 20, 85, "21|22|23|24|25"),
    ("X2", "check", 0, 0.01, 20, 85, "21|22|23|24|25"),
    ("X3", "credit", 120000, 0.0, 30, 60, "21|22"),
]
TIERS = [("X1", 0, 0, 0), ("X1", 1, 300000, 10000), ("X1", 2, 500000, 20000),
         ("X2", 0, 0, ""),
         ("X3", 0, 0, 0), ("X3", 1, 500000, 50000)]
BENEFITS = [
    # card, id, category, method, value, cap, group, needs_tier, min_spend
    ("X1", "B1", "RESTRNT_AM", "rate", 0.10, 8000, "", 1, 0),
    ("X1", "B2", "GROCERY_AM", "rate", 0.05, "", "생활", 1, 0),
    ("X1", "B3", "DISTBP_AM", "rate", 0.05, "", "생활", 1, 0),
    ("X1", "B4", "FUEL_AM", "per_litre", 100, "", "", 1, 0),
    ("X3", "B5", "TRVL_AM", "rate", 0.10, "", "", 1, 0),
    ("X3", "B6", "HOTEL_AM", "fixed", 20000, "", "", 0, 100000),
]
GROUPS = [("X1", "생활", 5000)]


def write_catalogue(directory: Path, **override) -> Path:
    tables = {
        "cards.csv": pd.DataFrame([dict(card_id=c, name_ko=f"카드{c}", issuer_ko="가상카드", card_type=t, annual_fee_won=f,
                                        base_rate=b, min_age=lo, max_age=hi, grades=g, description_ko="설명")
                                   for c, t, f, b, lo, hi, g in CARDS]),
        "tiers.csv": pd.DataFrame(TIERS, columns=["card_id", "tier", "min_monthly_spend_won", "shared_cap_won"]),
        "benefits.csv": pd.DataFrame([dict(card_id=c, benefit_id=i, category=k, method=m, value=v, cap_won=cap,
                                           cap_group=g, needs_tier=n, min_spend_won=s, description_ko="혜택")
                                      for c, i, k, m, v, cap, g, n, s in BENEFITS]),
        "cap_groups.csv": pd.DataFrame(GROUPS, columns=["card_id", "cap_group", "cap_won"]),
        "performance_exclusions.csv": pd.DataFrame([("INSU_AM", "보험료")], columns=["category", "reason_ko"]),
        "products.csv": pd.DataFrame([dict(product_id="P1", name_ko="청년적금", issuer_ko="가상은행", kind="savings",
                                           life_stages="NEW_JOB|UNI", min_age=20, max_age=30, health_tiers="ALL",
                                           description_ko="적금", reason_ko="목돈 마련")]),
    }
    tables.update(override)
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(directory / name, index=False)
    return directory


@pytest.fixture()
def engine(tmp_path) -> BenefitEngine:
    return BenefitEngine(load_catalogue(write_catalogue(tmp_path / "cat")), litre_price_won=2000)


def spend(**won) -> np.ndarray:
    row = np.zeros(len(CATEGORIES))
    for k, v in won.items():
        row[CAT[k]] = v
    return row


def test_below_the_floor_only_tier_free_benefits_pay(engine):
    r = engine.evaluate(spend(RESTRNT_AM=200000)[None])
    assert r.tier[0].tolist() == [0, 0, 0]
    assert r.gross[0, 0] == 0  # X1 needs 30만원
    assert r.gross[0, 1] == pytest.approx(2000)  # X2: 1% base on everything
    assert r.net[0, 0] == pytest.approx(-1000)  # the fee's twelfth
    assert r.eligible[0] == 200000


def test_rate_per_benefit_cap_group_cap_and_shared_cap(engine):
    # 40만원 eligible: X1 tier 1 (shared cap 1만원)
    r = engine.evaluate(spend(RESTRNT_AM=100000, GROCERY_AM=100000, DISTBP_AM=100000, FUEL_AM=100000)[None])
    assert r.tier[0, 0] == 1
    # restaurant 10% = 10,000 → per-benefit cap 8,000; grocery + mart 5% = 5,000 + 5,000 → group cap 5,000;
    # fuel 100,000 / 2,000 원/L × 100 = 5,000; sum 18,000 → shared cap 10,000
    assert r.by_benefit[0, :4].tolist() == [8000, 5000, 5000, 5000]
    assert r.gross[0, 0] == pytest.approx(10000)
    assert r.net[0, 0] == pytest.approx(9000)
    assert r.picking_rate[0, 0] == pytest.approx(9000 / 400000)


def test_a_higher_tier_raises_the_shared_cap(engine):
    r = engine.evaluate(spend(RESTRNT_AM=100000, GROCERY_AM=200000, DISTBP_AM=100000, FUEL_AM=200000)[None])
    assert r.tier[0, 0] == 2
    # 8,000 + 5,000 (group) + 10,000 (fuel) = 23,000 → shared cap 20,000 at tier 2
    assert r.gross[0, 0] == pytest.approx(20000)


def test_excluded_spend_does_not_count_toward_the_floor_nor_the_base_rate(engine):
    r = engine.evaluate(spend(INSU_AM=1000000, GROCERY_AM=100000)[None])
    assert r.eligible[0] == 100000 and r.tier[0, 0] == 0
    assert r.gross[0, 1] == pytest.approx(1000)  # 1% of the 10만원 grocery only


def test_base_rate_skips_categories_the_card_rewards_and_fixed_needs_its_minimum(engine):
    r = engine.evaluate(np.vstack([spend(HOTEL_AM=100000, TRVL_AM=500000), spend(HOTEL_AM=99999, TRVL_AM=500000)]))
    # X3 at tier 1 (60만원): travel 10% = 50,000 + hotel fixed 20,000 → shared cap 50,000
    assert r.gross[0, 2] == pytest.approx(50000)
    assert r.by_benefit[1, 5] == 0  # the fixed benefit needs 10만원 of hotel spend
    assert r.net[0, 2] == pytest.approx(50000 - 10000)


def test_benefit_never_falls_when_spend_rises(engine):
    grid = np.linspace(0, 2_000_000, 81)
    rows = np.vstack([spend(RESTRNT_AM=x, GROCERY_AM=x / 2, FUEL_AM=x / 4, TRVL_AM=x / 3) for x in grid])
    gross = engine.evaluate(rows).gross
    assert (np.diff(gross, axis=0) >= -1e-9).all()


def test_eligibility_by_age_band_and_grade(engine):
    ok = engine.eligible_cards(np.array(["25", "35", "35", "기타"]), np.array(["24", "22", "24", "21"]))
    assert ok.tolist() == [[True, True, False], [True, True, True], [True, True, False], [True, True, False]]


def test_monthly_won_follows_the_contract_unit_and_period(monkeypatch):
    assert products.monthly_won(np.array([12.0]))[0] == pytest.approx(12000)
    monkeypatch.setattr(products.contract, "AMOUNT_PERIOD", "quarter_total")
    assert products.monthly_won(np.array([12.0]))[0] == pytest.approx(4000)


@pytest.mark.parametrize("table, change, where", [
    ("benefits.csv", lambda f: f.assign(category=f["category"].where(f.index != 2, "CAFE_AM")), ("benefits.csv 4행", "category")),
    ("benefits.csv", lambda f: f.assign(value=f["value"].where(f.index != 0, -0.1)), ("benefits.csv 2행", "value")),
    ("tiers.csv", lambda f: f.assign(min_monthly_spend_won=f["min_monthly_spend_won"].where(f.index != 2, 200000)),
     ("tiers.csv 4행", "min_monthly_spend_won")),
    ("tiers.csv", lambda f: f.assign(min_monthly_spend_won=f["min_monthly_spend_won"].where(f.index != 0, 1000)),
     ("tiers.csv 2행", "min_monthly_spend_won")),
    ("cards.csv", lambda f: f.assign(annual_fee_won=f["annual_fee_won"].astype(object).where(f.index != 1, "")),
     ("cards.csv 3행", "annual_fee_won")),
    ("cap_groups.csv", lambda f: f.iloc[0:0], ("benefits.csv 3행", "cap_group")),
    ("tiers.csv", lambda f: f.assign(card_id=f["card_id"].where(f.index != 3, "ZZ")), ("tiers.csv 5행", "card_id")),
])
def test_validation_names_the_table_line_and_column(tmp_path, table, change, where):
    base = write_catalogue(tmp_path / "ok")
    frame = pd.read_csv(base / table, dtype=str, keep_default_na=False)
    bad = write_catalogue(tmp_path / "bad", **{table: change(frame)})
    with pytest.raises(CatalogueError) as err:
        load_catalogue(bad)
    text = str(err.value)
    assert where[0] in text and f"'{where[1]}'" in text


def test_a_missing_file_is_named(tmp_path):
    directory = write_catalogue(tmp_path / "cat")
    (directory / "cap_groups.csv").unlink()
    with pytest.raises(CatalogueError, match="cap_groups.csv"):
        load_catalogue(directory)


def test_the_committed_catalogue_loads_and_meets_the_issue():
    cat = load_catalogue()
    assert len(cat.cards) >= 30 and set(cat.cards["card_type"]) == {"credit", "check"}
    assert len(cat.products) >= 8 and set(cat.products["kind"]) == set(products.PRODUCT_KINDS)
    assert (cat.tiers.groupby("card_id")["min_monthly_spend_won"].min() == 0).all()
    assert set(cat.benefits["method"]) == set(products.METHODS)
    engine = BenefitEngine(cat)
    rng = np.random.default_rng(0)
    profiles = rng.gamma(0.5, 40000, size=(500, len(CATEGORIES)))
    net = engine.evaluate(profiles).net
    assert len(np.unique(net.argmax(1))) >= 5  # different spending, different best cards
