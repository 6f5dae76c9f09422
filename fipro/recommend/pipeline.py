"""One quarter end to end: the function notebook 07 calls and ``make benchmark`` times.

data (profiles and history) → rule and segment rankings of every eligible card → blend →
non-card products by life stage, age band and health tier → reasons → measurement on the
next quarter's spending (when there is one) → artifacts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import ClassVar, Optional

import numpy as np
import pandas as pd

from fipro import config, contract, datasets, history, split
from fipro.evaluation.intervals import merge_fields
from fipro.health.artifacts import SCORES_FILE, model_dir
from fipro.modelrun import ModelRun
from fipro.privacy import pseudonym
from fipro.products import BenefitEngine, Catalogue, load_catalogue
from fipro.recommend import evaluation as ev
from fipro.recommend.artifacts import headline_of, log_path, save_artifacts, version_of
from fipro.recommend.data import MODEL_NAME, RecommendInputs, benefit_arrays, load_inputs, previous_quarter
from fipro.recommend.estimator import (N_PRODUCTS, TOP_K, BenefitHistory, CardRanker, Ranking, blend, product_fit,
                                       segment_profiles, settled, spending_spread, tier_likelihood_benefit, top_products)
from fipro.recommend.reasons import card_reasons, product_reason
from fipro.text_ko import korean_numeral
from fipro.timing import Laps


COMPARE_CUSTOMERS = 100_000  # measured customers in the comparison of expected-benefit matrices

@dataclass(kw_only=True)
class RecommendRun(ModelRun):
    """Everything one quarter's run produced (what notebook 07 shows)."""

    model_name: ClassVar[str] = MODEL_NAME

    inputs: RecommendInputs
    catalogue: Catalogue
    ranker: CardRanker
    ranking: Ranking
    used: np.ndarray          # "rule" or "segment" per customer
    eligible: np.ndarray
    products: np.ndarray      # customers × N_PRODUCTS product positions
    table: pd.DataFrame
    measurement: Optional[dict]
    profile_comparison: Optional[pd.DataFrame] = None


def health_tiers(quarter: str, seq: np.ndarray) -> Optional[np.ndarray]:
    """Each customer's health tier from notebook 06's saved scores, or ``None`` before it ran."""
    path = model_dir(quarter) / SCORES_FILE
    if not path.exists():
        return None
    saved = pd.read_parquet(path, columns=["SEQ", "tier"])
    return pd.Series(saved["tier"].to_numpy(), index=saved["SEQ"].astype(str)).reindex(seq).fillna("").to_numpy()


def recommendation_rows(run_inputs: RecommendInputs, catalogue: Catalogue, ranking: Ranking, used: np.ndarray,
                        card_reason: list[list[str]], products: np.ndarray, fit: np.ndarray,
                        version: str, created_at: str) -> pd.DataFrame:
    """The long table: up to ``TOP_K`` card rows and ``N_PRODUCTS`` product rows per customer."""
    f = run_inputs.frame
    parts = []
    card_ids = np.array(catalogue.card_ids, dtype=object)
    types = catalogue.cards["card_type"].to_numpy()
    for r in range(ranking.top.shape[1]):
        has = ranking.top[:, r] >= 0
        card = ranking.top[has, r]
        parts.append(pd.DataFrame({"BAS_YH": f["BAS_YH"].to_numpy()[has], "SEQ": f["SEQ"].to_numpy()[has],
                                   "product_id": card_ids[card], "product_kind": types[card], "rank": r + 1,
                                   "score": ranking.score[has, r].round(1),
                                   "expected_monthly_benefit_won": ranking.score[has, r].round(0),
                                   "reason": pd.Series(card_reason[r])[has].to_numpy(),
                                   "recommender": used[has]}))
    p = catalogue.products
    for r in range(products.shape[1]):
        has = products[:, r] >= 0
        pos = products[has, r]
        # few distinct (product, life stage, age band) combinations: build each sentence once
        combos = pd.MultiIndex.from_arrays([pos, f["LIFE_STAGE"].to_numpy()[has], f["AGE"].to_numpy()[has]])
        codes, uniques = combos.factorize()
        texts = np.array([product_reason(p["name_ko"].iloc[i], p["reason_ko"].iloc[i], st, a) for i, st, a in uniques],
                         dtype=object)
        reasons = pd.array(texts, dtype="str").take(codes) if len(codes) else pd.array([], dtype="str")
        parts.append(pd.DataFrame({"BAS_YH": f["BAS_YH"].to_numpy()[has], "SEQ": f["SEQ"].to_numpy()[has],
                                   "product_id": p["product_id"].to_numpy()[pos], "product_kind": p["kind"].to_numpy()[pos],
                                   "rank": r + 1, "score": np.take_along_axis(fit[has], pos[:, None], 1)[:, 0],
                                   "expected_monthly_benefit_won": np.nan, "reason": reasons,
                                   "recommender": "life_stage_rule"}))
    # cards rank by rank, then products: no reordering copy of a 3.4M-row table at full scale
    table = pd.concat(parts, ignore_index=True)
    table["model_version"] = version
    table["created_at"] = created_at
    return table


@dataclass
class Ranked:
    """One quarter's cards ranked for every customer: what recommending and measuring share."""

    inputs: RecommendInputs
    eligible: np.ndarray
    n_active: np.ndarray
    seg_profile: np.ndarray
    segment_net: np.ndarray
    history: BenefitHistory
    ranking: Ranking
    used: np.ndarray


def rank_quarter(quarter: str, ranker: CardRanker, catalogue: Optional[Catalogue] = None) -> Ranked:
    """Rank every card for every customer of ``quarter`` from its history up to that quarter."""
    # the committed catalogue's benefit history is read from the saved states; another is folded here
    inputs = load_inputs(quarter, catalogue=catalogue)
    engine = ranker.engine
    history = BenefitHistory(inputs.benefit_sum, inputs.benefit_count, engine.fee_month)
    f = inputs.frame
    eligible = engine.eligible_cards(f["AGE"].to_numpy(), f["MBR_RK"].to_numpy())
    n_active = f["n_active"].to_numpy()
    seg_profile = segment_profiles(inputs.history, f["group"].to_numpy(), settled(n_active), inputs.history.sum(1))
    segment_net = ranker.net(seg_profile, eligible)
    expected, used = blend(history.mean(), n_active, segment_net)
    return Ranked(inputs=inputs, eligible=eligible, n_active=n_active, seg_profile=seg_profile,
                  segment_net=segment_net, history=history, ranking=ranker.rank_scores(expected, eligible), used=used)


@dataclass
class Recommended:
    """What measuring one quarter's recommendations needs: its customers (table order), their
    cards in rank order (``-1`` past the last), the cards each may hold and each customer's
    benefit history up to that quarter."""

    quarter: str
    seq: np.ndarray
    top: np.ndarray
    eligible: np.ndarray
    benefit_sum: np.ndarray
    benefit_count: np.ndarray

    @classmethod
    def of(cls, ranked: Ranked) -> "Recommended":
        i = ranked.inputs
        return cls(i.quarter, i.frame["SEQ"].to_numpy(), ranked.ranking.top, ranked.eligible, i.benefit_sum,
                   i.benefit_count)


def saved_recommended(quarter: str, ranker: CardRanker) -> Optional[Recommended]:
    """:class:`Recommended` of ``quarter`` read from the log its run saved, without ranking it
    again (at full scale that ranking took 27 s per quarter); ``None`` when there is no log.
    The saved cards are the ranking :func:`rank_quarter` gives (a test checks both ways)."""
    path = log_path(quarter)
    if not path.exists():
        return None
    src = history.source()
    table = src.table(quarter, ["SEQ", "AGE", "MBR_RK"])  # the order load_inputs reads
    seq = table["SEQ"].astype(str).to_numpy()
    log = pd.read_parquet(path, columns=["SEQ", "product_id", "rank"])
    card = pd.Index(ranker.engine.catalogue.card_ids).get_indexer(log["product_id"].to_numpy())
    row = pd.Index(seq).get_indexer(log["SEQ"].astype(str).to_numpy())
    ok = (card >= 0) & (row >= 0) & (log["rank"].to_numpy() <= ranker.k)
    top = np.full((len(seq), ranker.k), -1, dtype=np.int64)
    top[row[ok], log["rank"].to_numpy()[ok] - 1] = card[ok]
    eligible = ranker.engine.eligible_cards(table["AGE"].astype(str).to_numpy(), table["MBR_RK"].astype(str).to_numpy())
    return Recommended(quarter, seq, top, eligible, *benefit_arrays(history.aligned(src, quarter, seq, "benefit")))


def measure_recommended(quarter: str, earlier: Recommended, seq: np.ndarray, spend: np.ndarray, ranker: CardRanker, *,
                        seed: Optional[int] = None) -> dict:
    """The recommendations ``earlier`` made, measured on ``quarter``'s spending (``spend``: won
    per month of the customers ``seq``), for the customers of both quarters: against the
    per-quarter oracle, the best single card in hindsight and the baselines."""
    e = earlier
    now_rows = pd.Index(seq).get_indexer(e.seq)
    pos = np.flatnonzero(now_rows >= 0)
    return {"measured_quarter": quarter, "recommended_quarter": e.quarter,
            **ev.evaluate(ranker, e.top[pos], e.eligible[pos], spend[now_rows[pos]],
                          benefit_sum=e.benefit_sum[pos], benefit_count=e.benefit_count[pos],
                          intervals=True, seed=split.resolve_seed(seed))}


def measure_on(quarter: str, earlier: Ranked, seq: np.ndarray, spend: np.ndarray, ranker: CardRanker, *,
               compare: bool, seed: int) -> tuple[dict, Optional[pd.DataFrame]]:
    """:func:`measure_recommended` on a quarter ranked again; with ``compare``, the alternative expected
    benefits ranked and measured the same way on a seeded draw."""
    e = earlier
    measurement = measure_recommended(quarter, Recommended.of(e), seq, spend, ranker, seed=seed)
    if not compare:
        return measurement, None
    now_rows = pd.Index(seq).get_indexer(e.inputs.frame["SEQ"].to_numpy())
    pos = np.flatnonzero(now_rows >= 0)
    outcome = spend[now_rows[pos]]
    # a seeded draw of measured customers bounds the comparison's engine passes at full scale
    keep = split.sample_positions(len(pos), COMPARE_CUSTOMERS, seed)
    rows = pos[keep]
    f = e.inputs.frame
    n_active = e.n_active[rows]
    n = n_active.astype(np.float64)[:, None]
    mean = e.history.mean()[rows]
    tiers = tier_likelihood_benefit(ranker, e.inputs.history[rows],
                                    spending_spread(f["log_sd"].to_numpy()[rows], n_active), e.eligible[rows])
    own_tiers = np.where(n > 0, (n * np.nan_to_num(mean) + tiers) / (n + 1), mean)
    comparison = ev.score_comparison(ranker, {
        "이번 분기 지출의 혜택": ranker.net(e.inputs.now[rows], e.eligible[rows]),
        "지출 분기 평균 구성의 혜택": ranker.net(e.inputs.history[rows], e.eligible[rows]),
        "분기별 혜택의 평균(본인)": mean,
        "세그먼트 구성의 혜택": e.segment_net[rows],
        "추천: 본인 평균을 세그먼트 쪽으로 당김": e.ranking.net[rows],
        "실적 구간 도달 가능성을 더해 당김(한 분기 몫)": blend(own_tiers, n_active, e.segment_net[rows])[0]},
        e.eligible[rows], outcome[keep], e.inputs.benefit_sum[rows], e.inputs.benefit_count[rows])
    return measurement, comparison


def run_quarter(quarter: str, *, save: bool = True, measure: bool = True, compare: Optional[bool] = None,
                seed: Optional[int] = None, catalogue: Optional[Catalogue] = None) -> RecommendRun:
    """Recommend for every customer of ``quarter``, measure the previous quarter's
    recommendations on this quarter's spending and (``save``) record it.

    The measurement belongs to the quarter it is measured on, so a quarter never waits for
    the next delivery: the previous quarter is ranked again from its own history (the same
    ranking its notebook saved) and scored on this quarter's spending.
    ``compare``: also rank the previous quarter by the alternative expected benefits
    (default: :func:`fipro.datasets.runs_extras`, every quarter of a small data set, the
    latest quarter only at full scale).
    """
    seed = config.RANDOM_SEED if seed is None else seed
    compare = datasets.runs_extras(quarter) if compare is None else compare
    laps = Laps()
    other = catalogue  # a catalogue other than the committed one: its benefit history is folded anew
    catalogue = catalogue if catalogue is not None else load_catalogue()
    engine = BenefitEngine(catalogue)
    ranker = CardRanker(engine)
    now = rank_quarter(quarter, ranker, catalogue=other)
    inputs, eligible, ranking, used = now.inputs, now.eligible, now.ranking, now.used
    f = inputs.frame
    laps.lap("rank")
    tiers = health_tiers(quarter, f["SEQ"].to_numpy())
    fit = product_fit(catalogue.products, f["LIFE_STAGE"].to_numpy(), f["AGE"].to_numpy(), tiers)
    products = top_products(fit)
    own = now.n_active > 0
    profile = np.where(own[:, None], inputs.history, now.seg_profile)
    # Arrow-backed strings, converted chunk by chunk: 2M Python strings at full scale would
    # take over a gigabyte
    chunks = [[] for _ in range(ranking.top.shape[1])]
    for start in range(0, len(profile), ranker.chunk_rows):
        stop = start + ranker.chunk_rows
        result = engine.evaluate(profile[start:stop])  # once per chunk, for every rank
        for r in range(ranking.top.shape[1]):
            chunks[r].append(pd.array(card_reasons(engine, profile[start:stop], ranking.top[start:stop, r],
                                                   np.nan_to_num(ranking.score[start:stop, r]), ~own[start:stop],
                                                   result), dtype="str"))
    reasons = [pd.concat([pd.Series(c) for c in parts], ignore_index=True).array if parts else pd.array([], dtype="str")
               for parts in chunks]
    del chunks
    laps.lap("reasons")
    laps.since_start("recommending")
    measurement, comparison = None, None
    earlier = previous_quarter(quarter) if measure else None
    if earlier is not None:
        # the comparison (and another catalogue) need the full ranking; the headline reads the saved log
        saved = saved_recommended(earlier, ranker) if not compare and other is None else None
        if saved is not None:
            measurement = measure_recommended(quarter, saved, f["SEQ"].to_numpy(), inputs.now, ranker, seed=seed)
        else:
            before = rank_quarter(earlier, ranker, catalogue=other)
            measurement, comparison = measure_on(quarter, before, f["SEQ"].to_numpy(), inputs.now, ranker,
                                                 compare=compare, seed=seed)
            del before
        del saved
        # a share: a seeded draw of customers measures it to about ±0.003 at a seventh of the cost
        sample = split.sample_positions(len(profile), COMPARE_CUSTOMERS, seed)
        merge_fields(measurement, ev.robustness(ranker, profile[sample], eligible[sample], seed))
    laps.lap("evaluate")
    # the big intermediates go before the log is built (its peak is the run's peak at full scale)
    del profile
    created_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run = RecommendRun(quarter=quarter, inputs=inputs, catalogue=catalogue, ranker=ranker, ranking=ranking, used=used,
                       eligible=eligible, products=products, table=pd.DataFrame(), measurement=measurement,
                       headline={}, profile_comparison=comparison)
    del now
    run.headline = headline_of(run)
    run.table = recommendation_rows(inputs, catalogue, ranking, used, reasons, products, fit, version_of(run), created_at)
    return run.finish(laps, save_artifacts if save else None)


def amount_period_table(run: RecommendRun, max_customers: int = COMPARE_CUSTOMERS, seed: Optional[int] = None) -> pd.DataFrame:
    """How much the first card depends on the contract's amount period (a row's amounts are a
    monthly average): on a seeded draw of at most ``max_customers`` customers with spending, the
    first card and its expected net benefit on the mean profile read as a monthly average (as
    the contract says) and as a quarter's total (a third of it each month). Korean, one row per
    reading, and the share of customers whose first card changes."""
    seed = config.RANDOM_SEED if seed is None else seed
    spent = np.flatnonzero(run.inputs.history.sum(1) > 0)
    rows = spent[split.sample_positions(len(spent), max_customers, seed)]
    monthly = run.inputs.history[rows]
    out, firsts = {}, {}
    for name, profile in (("월평균(계약)", monthly), ("분기 합계(월 = 1/3)", monthly / 3)):
        ranking = run.ranker.rank(profile, run.eligible[rows])
        firsts[name] = ranking.top[:, 0]
        card_names = np.array([run.catalogue.card_name(c) for c in run.catalogue.card_ids] + [""], dtype=object)
        names = pd.Series(card_names[ranking.top[:, 0]])  # −1 (no eligible card) reads the trailing ""
        out[name] = {"고객 수": len(rows), "1순위 기대 순혜택 평균(원/월)": float(np.nanmean(ranking.score[:, 0])),
                     "가장 흔한 1순위 카드": names.value_counts().index[0] if len(names) else "",
                     "그 카드의 비율": float(names.value_counts(normalize=True).iloc[0]) if len(names) else float("nan")}
    table = pd.DataFrame(out).T
    changed = firsts["월평균(계약)"] != firsts["분기 합계(월 = 1/3)"]
    table["1순위가 바뀌는 고객 비율"] = float(changed.mean()) if len(changed) else float("nan")
    return table


def describe_run(run: RecommendRun) -> str:
    h = run.headline
    text = (f"{run.quarter} 고객 {h['n_customers']:,}명에게 카드 {h['n_cards']}장 중 {korean_numeral(TOP_K)} 장과 "
            f"금융상품 {korean_numeral(N_PRODUCTS)} 개를 추천했습니다. "
            f"1순위 카드의 기대 순혜택은 평균 월 {h['mean_expected_benefit_won']:,.0f}원, 본인 지출로 고른 고객 "
            f"{100 * h['rule_share']:.1f}%(나머지는 지출 기록이 없어 세그먼트로). 계산 {run.seconds.get('recommending', 0):.1f}초.")
    if h["group_source"] != "segment":
        text += " (세그먼트 결과가 없어 세그먼트 대신 같은 라이프스테이지의 지출 구성을 썼습니다.)"
    return text


def catalogue_overview(catalogue: Catalogue) -> pd.DataFrame:
    """Cards with fee, 실적 floors, caps and benefits in one row each (Korean)."""
    tiers = catalogue.tiers.sort_values(["card_id", "tier"]).groupby("card_id")
    floors = tiers["min_monthly_spend_won"].apply(lambda s: " / ".join(f"{v / 10000:g}만" for v in s))
    caps = tiers["shared_cap_won"].apply(lambda s: " / ".join("없음" if pd.isna(v) else f"{v:,.0f}" for v in s))
    ben = catalogue.benefits.groupby("card_id")["description_ko"].apply(lambda s: "; ".join(s))
    c = catalogue.cards.set_index("card_id")
    return pd.DataFrame({"카드": c["issuer_ko"] + " " + c["name_ko"], "종류": c["card_type"].map({"credit": "신용", "check": "체크"}),
                         "연회비(원)": c["annual_fee_won"], "기본 적립": c["base_rate"], "실적 구간(원)": floors,
                         "통합할인한도(원)": caps, "혜택": ben}).rename_axis("id")


def benefit_table(run: RecommendRun) -> tuple[str, pd.DataFrame]:
    """The median-spending customer's benefit on every eligible card (pseudonymous label)."""
    profile = run.inputs.history
    totals = profile.sum(1)
    i = int(np.argsort(totals, kind="stable")[len(totals) // 2])
    r = run.ranker.engine.evaluate(profile[i:i + 1])
    c = run.catalogue.cards
    table = pd.DataFrame({"카드": (c["issuer_ko"] + " " + c["name_ko"]).to_numpy(), "가입 가능": run.eligible[i],
                          "실적 구간": r.tier[0], "총혜택(원/월)": r.gross[0].round(0),
                          "연회비/12(원)": (c["annual_fee_won"].to_numpy() / 12).round(0), "순혜택(원/월)": r.net[0].round(0),
                          "피킹률(%)": (100 * r.picking_rate[0]).round(2)}, index=pd.Index(c["card_id"].to_numpy(), name="id"))
    return pseudonym(run.inputs.frame["SEQ"].iloc[i]), table.sort_values(["가입 가능", "순혜택(원/월)"], ascending=False,
                                                                         kind="stable")


def top_card_table(run: RecommendRun) -> pd.DataFrame:
    """How many customers get each card first (Korean)."""
    top1 = run.ranking.top[:, 0]
    counts = pd.Series(top1[top1 >= 0]).value_counts()
    names = [run.catalogue.card_name(run.catalogue.card_ids[int(i)]) for i in counts.index]
    return pd.DataFrame({"카드": names, "고객 수": counts.to_numpy(), "비율": counts.to_numpy() / len(top1)})


def benefit_by(run: RecommendRun, column: str) -> pd.DataFrame:
    """Mean and median expected net benefit of the first card by ``column`` of the inputs frame."""
    frame = pd.DataFrame({"g": run.inputs.frame[column].to_numpy(), "b": run.ranking.score[:, 0]})
    tab = frame.groupby("g")["b"].agg(["size", "mean", "median"])
    tab.columns = ["고객 수", "평균(원/월)", "중앙값(원/월)"]
    if column == "LIFE_STAGE":
        tab.index = [contract.LIFE_STAGE_CODES.get(i, i) for i in tab.index]
    return tab


def worked_examples(run: RecommendRun, n: int = 3, seed: Optional[int] = None):
    """(label, rows) for ``n`` seeded customers: their cards and products with reasons."""
    seqs = run.inputs.frame["SEQ"].to_numpy()
    picked = split.sample_positions(len(seqs), n, seed)
    names = {**{c: run.catalogue.card_name(c) for c in run.catalogue.card_ids},
             **dict(zip(run.catalogue.products["product_id"], run.catalogue.products["name_ko"]))}
    for i in picked:
        rows = run.table[run.table["SEQ"] == seqs[i]]
        yield pseudonym(seqs[i]), pd.DataFrame({"순위": rows["rank"].to_numpy(),
                                                 "상품": [names[p] for p in rows["product_id"]],
                                                 "방식": rows["recommender"].to_numpy(),
                                                 "기대 월 순혜택(원)": rows["expected_monthly_benefit_won"].to_numpy(),
                                                 "이유": rows["reason"].to_numpy()})
