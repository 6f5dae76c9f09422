"""Group summaries behind the EDA notebook (the seed's dashboard_service).

Frames in, tables out: who the customers are (:func:`population_table`), where the
spending goes by group (:func:`category_share_by`, :func:`mean_amount_by`,
:func:`total_share_by`), the change against the previous quarter
(:func:`quarter_change`), patterns by sex, region and season (:func:`sex_ratio`,
:func:`region_index`, :func:`quarter_means`, :func:`seasonal_index`), and the
headline numbers and Korean sentences notebook 01 records (:func:`eda_headlines`,
:func:`eda_metrics`, :func:`eda_summary_ko`), and overall levels beside their published
values (:class:`PublishedLevel`, :func:`level_table`). Nothing here reads a file: the
caller passes the quarters it loaded through :mod:`fipro.datasets`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fipro import contract
from fipro.compare import COMPARED_COLUMNS, PeerComparison, stripped_strings, value_label
from fipro.evaluation import intervals as iv
from fipro.evaluation.intervals import add_intervals, headline_interval, interval_change, mean_interval


def population_table(quarter_df: pd.DataFrame, column: str) -> pd.DataFrame:
    """Customers per code of ``column`` in code-table order: ``code``, ``label_ko``,
    ``customers``, ``share`` (missing codes as ``결측``)."""
    codes = list(contract.CODE_TABLES[column])
    values = stripped_strings(quarter_df[column])
    counts = values.value_counts(dropna=False)
    rows = [(c, contract.code_label(column, c), int(counts.get(c, 0))) for c in codes]
    n_missing = int(values.isna().sum())
    if n_missing:
        rows.append((None, "결측", n_missing))
    out = pd.DataFrame(rows, columns=["code", "label_ko", "customers"])
    out["share"] = out["customers"] / max(len(quarter_df), 1)
    return out


def category_share_by(quarter_df: pd.DataFrame, by: Optional[str] = None,
                      columns: Sequence[str] = contract.UPPER_COLUMNS) -> pd.DataFrame:
    """Pooled share of each category in the group's total spending (sum of the category
    / sum of ``TOT_USE_AM``), one row per group in code order (``by=None``: one row
    ``전체``). Columns are the Korean category labels; the index the group's Korean label."""
    columns = list(columns)
    frame = quarter_df[columns + ["TOT_USE_AM"]].astype("float64")
    if by is None:
        sums = frame.sum().to_frame("전체").T
    else:
        key = stripped_strings(quarter_df[by])
        sums = frame.groupby(key.to_numpy(), dropna=True).sum()
        order = [c for c in contract.CODE_TABLES.get(by, {}) if c in sums.index] or list(sums.index)
        sums = sums.loc[order]
        sums.index = [value_label(by, c) for c in order]
    shares = sums[columns].div(sums["TOT_USE_AM"].where(sums["TOT_USE_AM"] > 0), axis=0).fillna(0.0)
    shares.columns = [contract.label(c) for c in columns]
    shares.index.name = contract.label(by) if by else None
    return shares


def mean_amount_by(quarter_df: pd.DataFrame, by: str,
                   columns: Sequence[str] = ("TOT_USE_AM", "CRDSL_USE_AM", "CNF_USE_AM")) -> pd.DataFrame:
    """Mean amount per customer (천원) of ``columns`` per group, in code order, Korean labels."""
    key = stripped_strings(quarter_df[by])
    means = quarter_df[list(columns)].astype("float64").groupby(key.to_numpy(), dropna=True).mean()
    order = [c for c in contract.CODE_TABLES.get(by, {}) if c in means.index] or list(means.index)
    means = means.loc[order]
    means.index = pd.Index([value_label(by, c) for c in order], name=contract.label(by))
    means.columns = [contract.label(c) for c in columns]
    return means


def total_share_by(quarter_df: pd.DataFrame, by: str) -> pd.Series:
    """Share of the quarter's total spending held by each group (e.g. grade)."""
    key = stripped_strings(quarter_df[by])
    sums = quarter_df["TOT_USE_AM"].astype("float64").groupby(key.to_numpy(), dropna=True).sum()
    order = [c for c in contract.CODE_TABLES.get(by, {}) if c in sums.index] or list(sums.index)
    sums = sums.loc[order]
    out = sums / sums.sum() if sums.sum() > 0 else sums * 0.0
    out.index = pd.Index([value_label(by, c) for c in order], name=contract.label(by))
    return out.rename("총이용금액 비중")


def quarter_change(current: pd.DataFrame, previous: Optional[pd.DataFrame]) -> pd.DataFrame:
    """Change of total spending per category against the previous quarter.

    One row per compared column (total, then upper categories): ``label_ko``,
    ``current_mean``, ``previous_mean`` (mean per customer, 천원), ``change_pct`` (of the
    mean), and ``stayer_change_pct``: the change over customers present in both quarters
    (so customers joining or leaving do not masquerade as a change in behaviour).
    Without a previous quarter the previous and change columns are NaN.
    """
    columns = list(COMPARED_COLUMNS)
    cur_mean = current[columns].astype("float64").mean()
    out = pd.DataFrame({"category": columns, "label_ko": [contract.label(c) for c in columns],
                        "current_mean": cur_mean.to_numpy()})
    if previous is None or previous.empty:
        out["previous_mean"] = np.nan
        out["change_pct"] = np.nan
        out["stayer_change_pct"] = np.nan
        return out
    prev_mean = previous[columns].astype("float64").mean()
    out["previous_mean"] = prev_mean.to_numpy()
    out["change_pct"] = np.where(prev_mean > 0, (cur_mean / prev_mean.where(prev_mean > 0) - 1) * 100, np.nan)
    cur_seq, prev_seq = _seq_array(current["SEQ"]), _seq_array(previous["SEQ"])
    # hash joins in Arrow: a customer is a stayer when its SEQ is in both quarters
    in_prev = _is_in(cur_seq, prev_seq)
    in_cur = _is_in(prev_seq, cur_seq)
    cur_sum = current.loc[in_prev, columns].astype("float64").sum()
    prev_sum = previous.loc[in_cur, columns].astype("float64").sum()
    out["stayer_change_pct"] = np.where(prev_sum > 0, (cur_sum / prev_sum.where(prev_sum > 0) - 1) * 100, np.nan)
    out["stayers"] = int(pc.count_distinct(cur_seq.filter(pa.array(in_prev)), mode="only_valid").as_py())
    return out


def _seq_array(series: pd.Series) -> pa.Array:
    """Customer ids as a stripped Arrow string array (missing stays null)."""
    return pa.array(stripped_strings(series).array).cast(pa.large_string())


def _is_in(values: pa.Array, others: pa.Array) -> np.ndarray:
    """Whether each of ``values`` occurs among the non-null ``others`` (null → False)."""
    mask = pc.is_in(values, value_set=others.drop_null(), skip_nulls=True)
    return mask.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)


def eda_headlines(current: pd.DataFrame, previous: Optional[pd.DataFrame] = None) -> dict:
    """Headline numbers of a quarter (summarised by :func:`eda_summary_ko`, recorded by
    notebook 01 through :func:`eda_metrics`), each number measured on customers with its 95%
    interval (``<key>_lo``, ``<key>_hi``, ``intervals``; :func:`headline_intervals`). The quarter
    summary compares the mean total's."""
    tot = current["TOT_USE_AM"].astype("float64")
    credit = current["CRDSL_USE_AM"].astype("float64").sum()
    check = current["CNF_USE_AM"].astype("float64").sum()
    pooled = category_share_by(current).iloc[0]
    by_stage = mean_amount_by(current, "LIFE_STAGE", ("TOT_USE_AM",)).iloc[:, 0]
    by_age = mean_amount_by(current, "AGE", ("TOT_USE_AM",)).iloc[:, 0]
    detail = category_share_by(current, columns=contract.DETAIL_COLUMNS).iloc[0]
    change = quarter_change(current, previous)
    digital = stripped_strings(current["DIGT_CHNL_USE_YN"])
    out = {
        "customers": int(len(current)),
        "mean_total": float(tot.mean()) if len(tot) else float("nan"),
        "median_total": float(tot.median()) if len(tot) else float("nan"),
        "zero_total_share": float((tot <= 0).mean()) if len(tot) else float("nan"),
        "credit_share": float(credit / (credit + check)) if credit + check > 0 else float("nan"),
        "digital_use_share": float((digital == "Y").mean()),
        "top_upper_category": str(pooled.idxmax()),
        "top_upper_share": float(pooled.max()),
        "top_detail_category": str(detail.idxmax()),
        "top_detail_share": float(detail.max()),
        "top_life_stage_by_mean_total": str(by_stage.idxmax()) if len(by_stage) else None,
        "top_age_by_mean_total": str(by_age.idxmax()) if len(by_age) else None,
        "total_change_pct": float(change.loc[0, "change_pct"]),
        "total_stayer_change_pct": float(change.loc[0, "stayer_change_pct"]),
    }
    return add_intervals(out, headline_intervals(current, previous, out))


def headline_intervals(current: pd.DataFrame, previous: Optional[pd.DataFrame], headline: Mapping) -> dict:
    """The 95% intervals of :func:`eda_headlines`' numbers (``config.RANDOM_SEED``; none below two customers).

    Shares of customers (no spending, digital channel) by Wilson's interval; the mean and median
    total and the credit share of card spending (a ratio of sums) by a bootstrap over customers;
    the change of the mean total (all customers, and the stayers' change of their sum) by a
    bootstrap over the customers of both quarters, paired by ``SEQ``
    (:func:`fipro.evaluation.intervals.change_pct_interval`). The top categories, life stage and
    age band are names, not measured numbers, and carry none.
    """
    if len(current) < 2:
        return {}
    tot = current["TOT_USE_AM"].to_numpy(dtype="float64")
    # a missing amount counts as 0 in both sums of the share, as pandas' sum skips it
    credit = np.nan_to_num(current["CRDSL_USE_AM"].to_numpy(dtype="float64"))
    check = np.nan_to_num(current["CNF_USE_AM"].to_numpy(dtype="float64"))
    # over the customers with an answer, as the share itself (a missing flag is left out)
    answered = (stripped_strings(current["DIGT_CHNL_USE_YN"]) == "Y").dropna().to_numpy(dtype=bool)
    out = {"mean_total": mean_interval(tot), "median_total": iv.median_interval(tot),
           "zero_total_share": iv.share_interval(tot <= 0),
           "credit_share": iv.ratio_interval(credit, credit + check) if np.isfinite(headline["credit_share"]) else None,
           "digital_use_share": iv.share_interval(answered) if len(answered) else None}
    if previous is not None and len(previous) > 1 and np.isfinite(headline["total_change_pct"]):
        now, before = aligned_totals(current, previous)
        out["total_change_pct"] = iv.change_pct_interval(now, before)
        stayers = np.isfinite(now) & np.isfinite(before)
        if stayers.sum() > 1 and np.isfinite(headline["total_stayer_change_pct"]):
            out["total_stayer_change_pct"] = iv.change_pct_interval(now[stayers], before[stayers])
    return out


def aligned_totals(current: pd.DataFrame, previous: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each customer of either quarter with their total in this quarter and the one before, NaN where
    absent (``SEQ`` matched as stripped strings, an Arrow hash join): the pairs the change's bootstrap
    draws, this quarter's customers first, then those gone since the quarter before.

    With a missing or repeated ``SEQ`` the customers cannot be paired: the two quarters' rows are
    then stacked unpaired (the interval is wider, never narrower), and there are no stayers.
    """
    now = current["TOT_USE_AM"].to_numpy(dtype="float64")
    before = previous["TOT_USE_AM"].to_numpy(dtype="float64")
    cur_seq, prev_seq = _seq_array(current["SEQ"]), _seq_array(previous["SEQ"])
    if any(a.null_count or pc.count_distinct(a).as_py() != len(a) for a in (cur_seq, prev_seq)):
        return np.r_[now, np.full(len(before), np.nan)], np.r_[np.full(len(now), np.nan), before]
    at = pc.index_in(cur_seq, value_set=prev_seq).fill_null(-1).to_numpy(zero_copy_only=False)
    stays = at >= 0
    gone = np.ones(len(before), dtype=bool)
    gone[at[stays]] = False
    before_now = np.full(len(now), np.nan)
    before_now[stays] = before[at[stays]]
    return np.r_[now, np.full(int(gone.sum()), np.nan)], np.r_[before_now, before[gone]]


def eda_metrics(current: pd.DataFrame, previous: Optional[pd.DataFrame], peer: PeerComparison,
                headlines: Optional[dict] = None) -> dict:
    """Everything notebook 01 records in ``outputs/<quarter>/eda.json``.

    Parameters
    ----------
    current, previous : DataFrame
        The quarter and the one before it (None when there is none), as
        :func:`fipro.features.load_quarter_pair` returns them. Not modified.
    peer : PeerComparison
        The worked example of the notebook (:func:`fipro.compare.peer_comparison`).
    headlines : dict, optional
        :func:`eda_headlines` of the same two frames, if already computed (the notebook
        computes them once for its summary and its record).

    Returns
    -------
    dict
        :func:`eda_headlines` plus ``life_stage_shares`` (code -> share of customers, in
        code order), ``example_customer`` (pseudonym), ``example_group``,
        ``example_n_peers``, ``example_fell_back`` and ``example_total_percentile``
        (the example's percentile of the total among its peers). Plain Python values,
        NaN where a number is undefined (no previous quarter).
    """
    total = peer.percentiles.set_index("category").loc["TOT_USE_AM", "percentile"]
    stages = stripped_strings(current["LIFE_STAGE"]).value_counts(normalize=True)
    return {
        **(eda_headlines(current, previous) if headlines is None else headlines),
        "life_stage_shares": {str(c): float(stages[c]) for c in contract.LIFE_STAGE_CODES if c in stages.index},
        "example_customer": peer.customer,
        "example_group": peer.group_ko,
        "example_n_peers": int(peer.n_peers),
        "example_fell_back": bool(peer.fell_back),
        "example_total_percentile": float(total),
    }


def eda_summary_ko(current: pd.DataFrame, previous: Optional[pd.DataFrame] = None,
                   headlines: Optional[dict] = None) -> str:
    """A few Korean sentences on the quarter, generated from :func:`eda_headlines`
    (``headlines``: those of the same frames, if already computed)."""
    h = eda_headlines(current, previous) if headlines is None else headlines
    s = [
        f"이번 분기 고객은 {h['customers']:,}명이며, 1인당 총이용금액({contract.AMOUNT_PERIOD_LABEL})은 "
        f"평균 {contract.format_amount(h['mean_total'])}, 중앙값 {contract.format_amount(h['median_total'])}입니다.",
        f"지출 비중이 가장 큰 상위 업종은 {h['top_upper_category']}({h['top_upper_share']:.1%}), "
        f"세부 업종은 {h['top_detail_category']}({h['top_detail_share']:.1%})입니다.",
        f"1인당 총이용금액은 라이프스테이지 중 {h['top_life_stage_by_mean_total']}, "
        f"연령대 중 {h['top_age_by_mean_total']}에서 가장 큽니다.",
        f"카드 이용액 중 신용카드 비중은 {h['credit_share']:.1%}이고, "
        f"디지털채널을 이용한 고객은 {h['digital_use_share']:.1%}입니다.",
    ]
    now_iv = headline_interval(h, "mean_total")
    before_iv = (mean_interval(previous["TOT_USE_AM"].to_numpy(dtype="float64"))
                 if previous is not None and len(previous) > 1 else None)
    if not np.isnan(h["total_change_pct"]) and now_iv is not None and before_iv is not None \
            and interval_change(now_iv, before_iv) == 0:  # the one rule: within the intervals, no change is named
        s.append(f"1인당 총이용금액 평균의 전분기 대비 변화는 95% 구간 안입니다(이번 분기 "
                 f"{contract.format_amount(now_iv.low)}–{contract.format_amount(now_iv.high)}, 전분기 "
                 f"{contract.format_amount(before_iv.low)}–{contract.format_amount(before_iv.high)}).")
    elif not np.isnan(h["total_change_pct"]):
        word = "늘었" if h["total_change_pct"] > 0 else "줄었"
        apart = "(두 분기의 95% 구간이 겹치지 않음)" if now_iv is not None and before_iv is not None else ""
        s.append(
            f"전분기보다 1인당 총이용금액이 {abs(h['total_change_pct']):.1f}% {word}고{apart}, "
            f"두 분기 모두 있는 고객만 보면 {h['total_stayer_change_pct']:+.1f}%입니다."
        )
    else:
        s.append("전분기 자료가 없어 분기 변화는 계산하지 않았습니다.")
    if h["zero_total_share"] > 0:
        s.append(f"이용금액이 0인 고객이 {h['zero_total_share']:.1%} 있습니다.")
    return " ".join(s)


# --- patterns by sex, region and season (notebook 01) -------------------------------

def sex_ratio(quarter_df: pd.DataFrame, columns: Sequence[str] = contract.DETAIL_COLUMNS) -> pd.DataFrame:
    """Mean amount per customer (천원) of each category for women and men, and their ratio.

    Returns one row per category (index ``category``: the column name), sorted from the most
    female to the most male: ``women``, ``men`` (means) and ``ratio`` (women / men; NaN when
    men spend nothing). :func:`table_ko` gives the Korean display.
    """
    columns = list(columns)
    sex = stripped_strings(quarter_df["SEX_CD"]).to_numpy()
    means = quarter_df[columns].astype("float64").groupby(sex).mean()
    women = means.loc["2"] if "2" in means.index else pd.Series(np.nan, index=columns)
    men = means.loc["1"] if "1" in means.index else pd.Series(np.nan, index=columns)
    out = pd.DataFrame({"women": women.to_numpy(), "men": men.to_numpy()}, index=pd.Index(columns, name="category"))
    out["ratio"] = out["women"] / out["men"].where(out["men"] > 0)
    return out.sort_values("ratio", ascending=False)


def region_index(quarter_df: pd.DataFrame, columns: Sequence[str] = contract.DETAIL_COLUMNS) -> pd.DataFrame:
    """Mean amount per customer in each region group as an index (all customers = 100).

    Groups are ``contract.SIDO_GROUP`` codes (``capital``, ``metro``, ``province``); one row per
    category (index ``category``: the column name), one column per group present (``region``,
    in contract order), sorted by the provinces' index minus the capital region's (the
    categories that set the provinces apart first). :func:`table_ko` gives the Korean display.
    """
    columns = list(columns)
    group = stripped_strings(quarter_df["HOUS_SIDO_NM"]).map(contract.SIDO_GROUP)
    amounts = quarter_df[columns].astype("float64")
    overall = amounts.mean()
    means = amounts.groupby(group.to_numpy()).mean()
    order = [g for g in contract.REGION_GROUP_KO if g in means.index]
    index = (means.loc[order] / overall.where(overall > 0) * 100).T
    index.index = pd.Index(columns, name="category")
    index.columns.name = "region"
    if {"capital", "province"} <= set(index.columns):
        index = index.loc[(index["province"] - index["capital"]).sort_values(ascending=False).index]
    return index


def quarter_means(frames: Union[Mapping[str, pd.DataFrame], Iterable[tuple[str, pd.DataFrame]]],
                  columns: Sequence[str] = contract.DETAIL_COLUMNS) -> pd.DataFrame:
    """Mean amount per customer (천원) of each column in each quarter (rows: quarters).

    Parameters
    ----------
    frames : mapping or iterable of (quarter, DataFrame)
        Each quarter's rows, with at least ``columns`` (e.g. ``datasets.load_quarter(q,
        columns=...)``). An iterable is taken one quarter at a time, so a generator that
        loads each quarter keeps one quarter in memory, not all of them. Not modified.
    columns : sequence of str
        Amount columns to average.

    Returns
    -------
    DataFrame
        One row per quarter (index ``BAS_YH``, in the order given), one column per
        column of ``columns``, float64.
    """
    items = frames.items() if isinstance(frames, Mapping) else frames
    rows = {}
    for quarter, frame in items:
        rows[quarter] = {c: frame[c].mean() for c in columns}
    return pd.DataFrame(rows, columns=list(rows)).T.astype("float64").rename_axis("BAS_YH")


def seasonal_index(means: pd.DataFrame) -> pd.DataFrame:
    """Mean per customer in each quarter of the year as an index (the category's mean over
    all quarters = 100), from :func:`quarter_means`.

    Rows are categories (index ``category``: the column name) sorted by their seasonal swing
    (max - min), columns ``q1`` … ``q4`` (only those present). :func:`table_ko` gives the
    Korean display.
    """
    quarter_of_year = pd.Index([int(str(q)[-1]) for q in means.index])
    by_q = means.groupby(quarter_of_year.to_numpy()).mean()
    index = (by_q / means.mean().where(means.mean() > 0) * 100).T
    index.columns = pd.Index([f"q{q}" for q in index.columns], name="quarter_of_year")
    index.index = pd.Index(list(means.columns), name="category")
    return index.loc[(index.max(1) - index.min(1)).sort_values(ascending=False).index]


# Korean names of the pattern tables' columns and axes (display only: the tables keep English keys)
PATTERN_NAMES_KO: dict[str, str] = {"women": "여성", "men": "남성", "ratio": "여성/남성", "category": "업종",
                                    "region": "지역", "quarter_of_year": "분기",
                                    **contract.REGION_GROUP_KO, **{f"q{q}": f"{q}분기" for q in range(1, 5)}}


def table_ko(table: pd.DataFrame) -> pd.DataFrame:
    """A pattern table (:func:`sex_ratio`, :func:`region_index`, :func:`seasonal_index`) for a
    reader: categories by their Korean label, columns and axes in Korean."""
    out = table.rename(columns=PATTERN_NAMES_KO)
    out.index = pd.Index([contract.label(c) for c in table.index], name=PATTERN_NAMES_KO.get(table.index.name, ""))
    out.columns.name = PATTERN_NAMES_KO.get(table.columns.name, table.columns.name)
    return out


def patterns_summary_ko(sex: pd.DataFrame, region: pd.DataFrame, season: Optional[pd.DataFrame] = None,
                        top: int = 3) -> str:
    """Korean sentences on the tables of :func:`sex_ratio`, :func:`region_index` and
    :func:`seasonal_index` (the categories that differ most)."""
    label = contract.label
    ratio = sex["ratio"].dropna()
    lines = [f"- 여성이 더 많이 쓰는 업종: " + ", ".join(f"{label(c)} {v:.1f}배" for c, v in ratio.head(top).items())
             + "; 남성이 더 많이 쓰는 업종: " + ", ".join(f"{label(c)} {1 / v:.1f}배"
                                                   for c, v in ratio[ratio > 0].tail(top)[::-1].items())
             + " (1인당 평균 금액 비)."]
    if {"capital", "province"} <= set(region.columns):
        gap = (region["province"] - region["capital"]).dropna()
        lines.append("- 도 지역이 수도권보다 많이 쓰는 업종: " + ", ".join(
            f"{label(c)} ({region.at[c, 'province']:.0f} 대 {region.at[c, 'capital']:.0f})" for c in gap.head(top).index)
            + "; 수도권이 더 많이 쓰는 업종: " + ", ".join(
            f"{label(c)} ({region.at[c, 'capital']:.0f} 대 {region.at[c, 'province']:.0f})"
            for c in gap.tail(top)[::-1].index)
            + " (전체 평균 = 100).")
    if season is not None and season.shape[1] >= 2:
        names = PATTERN_NAMES_KO
        lines.append("- 계절성이 큰 업종: " + ", ".join(
            f"{label(c)} ({names[season.loc[c].idxmax()]} 최고 {season.loc[c].max():.0f}, "
            f"{names[season.loc[c].idxmin()]} 최저 {season.loc[c].min():.0f})" for c in season.index[:top + 2])
            + " (연평균 = 100).")
    else:
        lines.append("- 계절성은 분기가 둘 이상 있어야 볼 수 있습니다.")
    return "\n".join(lines)


# --- overall levels beside their published values (notebook 01, fipro.synth.levels) ---

@dataclass(frozen=True)
class PublishedLevel:
    """A published level of total spending per user by one grouping column.

    ``published`` maps a group code to its published level (any unit: only ratios are
    compared). The index is 100 at the reference: ``reference_group`` (a group code),
    else ``reference_value`` (a published all-users level, measured as the mean of all
    rows), else the mean over the groups shown. ``tolerance`` is relative, from the
    source's rounding or spread (``tolerance_ko`` says which).
    """

    name: str
    column: str
    title_ko: str
    published: Mapping[str, float]
    source_ko: str
    tolerance: float
    tolerance_ko: str
    reference_group: Optional[str] = None
    reference_value: Optional[float] = None
    reference_ko: str = "전체 = 100"
    assumed: Mapping[str, float] = field(default_factory=dict)  # shown, marked, never checked


def _mean_and_se(values: pd.Series, customers: Optional[pd.Series]) -> tuple[float, float]:
    """Mean and its standard error, rows of one customer taken as one cluster."""
    if customers is None:
        return float(values.mean()), float(values.std(ddof=1) / np.sqrt(max(len(values), 1)))
    dev = (values - values.mean()).groupby(customers.to_numpy()).sum()
    return float(values.mean()), float(np.sqrt((dev ** 2).sum()) / max(len(values), 1))


def level_table(frame: pd.DataFrame, level: PublishedLevel, amount: str = "TOT_USE_AM") -> pd.DataFrame:
    """Measured mean ``amount`` per row by ``level.column`` as an index beside the published one.

    Parameters
    ----------
    frame : DataFrame
        Rows with ``level.column`` and ``amount`` (``SEQ`` too for customer-clustered
        standard errors). Not modified.
    level : PublishedLevel

    Returns
    -------
    DataFrame
        One row per group with a published or assumed level and rows in ``frame`` (index:
        the group code): ``published`` and ``measured`` (index, reference = 100),
        ``se`` (the measured index's standard error, from the group's mean alone),
        ``rows``, ``assumed`` (True where the level is our assumption, not published).
    """
    groups = stripped_strings(frame[level.column]).to_numpy()
    values = frame[amount].astype("float64")
    customers = frame["SEQ"] if "SEQ" in frame.columns else None
    levels = {**level.published, **level.assumed}
    stats = {g: (*_mean_and_se(values[groups == g], None if customers is None else customers[groups == g]),
                 int((groups == g).sum())) for g in levels if (groups == g).any()}
    return _level_frame(stats, level, float(values.mean()))


def level_table_from_moments(moments: Mapping[str, tuple], level: PublishedLevel) -> pd.DataFrame:
    """:func:`level_table` from each group's ``(rows, mean, sum of squared deviations)`` where
    each customer has one row in a group (a quarter): the clustered standard error is then
    ``sqrt(m2) / rows``. Notebook 01 measures the quarters' level from the moments each quarter's
    history state keeps (:func:`fipro.history.amount_moments`) instead of reading every table.

    >>> from fipro.synth.levels import LEVELS_BY_NAME
    >>> t = level_table_from_moments({"2023q1": (4, 100.0, 300.0), "2023q2": (4, 300.0, 300.0)},
    ...                              LEVELS_BY_NAME["quarter"])
    >>> t["measured"].round(1).tolist(), t["se"].round(2).tolist()
    ([50.0, 150.0], [2.17, 2.17])
    """
    levels = {**level.published, **level.assumed}
    stats = {g: (float(mean), float(np.sqrt(m2)) / max(int(rows), 1), int(rows))
             for g, (rows, mean, m2) in moments.items() if g in levels and rows}
    rows = sum(r for _, _, r in stats.values())
    overall = sum(m * r for m, _, r in stats.values()) / rows if rows else float("nan")
    return _level_frame(stats, level, overall)


def _level_frame(stats: Mapping[str, tuple], level: PublishedLevel, overall: float) -> pd.DataFrame:
    """The table of :func:`level_table` from each present group's ``(mean, se, rows)`` and the
    mean over all rows (``overall``, the reference of a level with ``reference_value``)."""
    levels = {**level.published, **level.assumed}  # published first, assumed after
    present = [g for g in levels if g in stats]
    if level.reference_group is not None:
        ref_measured, ref_published = stats[level.reference_group][0], levels[level.reference_group]
    elif level.reference_value is not None:
        ref_measured, ref_published = overall, level.reference_value
    else:
        ref_measured = float(np.mean([stats[g][0] for g in present]))
        ref_published = float(np.mean([levels[g] for g in present]))
    return pd.DataFrame({
        "published": [levels[g] / ref_published * 100 for g in present],
        "measured": [stats[g][0] / ref_measured * 100 for g in present],
        "se": [stats[g][1] / ref_measured * 100 for g in present],
        "rows": [stats[g][2] for g in present],
        "assumed": [g not in level.published for g in present],
    }, index=pd.Index(present, name=level.column))


def level_check(table: pd.DataFrame, level: PublishedLevel, n_se: float = 4.0) -> pd.DataFrame:
    """:func:`level_table` with the verdict: ``allowed`` = tolerance x published + ``n_se``
    standard errors, ``within`` = |measured - published| <= allowed (assumed rows: NaN)."""
    out = table.copy()
    out["allowed"] = level.tolerance * out["published"] + n_se * out["se"]
    ok = (out["measured"] - out["published"]).abs() <= out["allowed"]
    out["within"] = ok.where(~out["assumed"])
    return out
