"""Comparing customers and groups: peer comparison (the seed's compare_service) and
the group summaries behind the EDA notebook (the seed's dashboard_service).

:func:`peer_comparison` places one customer against their peers (same age band × sex ×
life stage by default): the percentile of the total and of each upper category among
the peers, and the categories whose share of spending differs most from the peers', in
Korean sentences. A group with fewer than ``min_peers`` other customers falls back to a
wider group by dropping the last grouping column, then the next (life stage, then sex,
then age band), and says so. A customer appears in any output only as
:func:`fipro.privacy.pseudonym`.

Percentile rule (mid-rank, among the peers, the customer excluded)::

    percentile = 100 × (#peers below + ½ × #peers equal) / #peers

so 50 means "in the middle of the peers", whatever the ties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fipro import config, contract
from fipro.privacy import pseudonym

COMPARED_COLUMNS: tuple[str, ...] = ("TOT_USE_AM",) + contract.UPPER_COLUMNS

# Korean name of a grouping column in sentences ("라이프스테이지를 빼고").
GROUP_COLUMN_KO: dict[str, str] = {
    "AGE": "연령대", "SEX_CD": "성별", "LIFE_STAGE": "라이프스테이지", "MBR_RK": "회원등급",
    "HOUS_SIDO_NM": "거주지역", "DIGT_CHNL_USE_YN": "디지털채널 이용", "DIGT_CHNL_REG_YN": "디지털채널 가입",
}


def _as_str(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.CategoricalDtype):
        # strip the few categories, then take them by code (not every row's string)
        categories = pd.Series(series.cat.categories).astype("string").str.strip().array
        return pd.Series(categories.take(series.cat.codes.to_numpy(), allow_fill=True),
                         index=series.index, name=series.name)
    return series.astype("string").str.strip()


def _value_label(column: str, value: str) -> str:
    if column in contract.CODE_TABLES:
        return contract.code_label(column, value)
    return str(value)


def group_description_ko(by: Sequence[str], values: Sequence[str]) -> str:
    """``("AGE","SEX_CD"), ("30","2")`` → ``"30~34세 · 여"``; no columns → ``"전체 고객"``."""
    if not by:
        return "전체 고객"
    return " · ".join(_value_label(c, v) for c, v in zip(by, values))


def mid_rank_percentile(value: float, peers: np.ndarray) -> float:
    """Percentile of ``value`` among ``peers`` (mid-rank: ties count half). NaN if no peers."""
    peers = np.asarray(peers, dtype=np.float64)
    peers = peers[~np.isnan(peers)]
    if len(peers) == 0 or np.isnan(value):
        return float("nan")
    below = np.count_nonzero(peers < value)
    equal = np.count_nonzero(peers == value)
    return float(100.0 * (below + 0.5 * equal) / len(peers))


def spending_shares(frame: pd.DataFrame, columns: Sequence[str] = contract.UPPER_COLUMNS) -> pd.DataFrame:
    """Share of each category in ``TOT_USE_AM`` per row; 0 where the total is ≤ 0
    (the same zero-total rule as :mod:`fipro.features`)."""
    total = frame["TOT_USE_AM"].to_numpy(dtype=np.float64)
    amounts = np.maximum(frame[list(columns)].to_numpy(dtype=np.float64), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(total[:, None] > 0, amounts / total[:, None], 0.0)
    return pd.DataFrame(shares, columns=list(columns), index=frame.index)


@dataclass
class PeerComparison:
    """Where one customer stands among their peers.

    Attributes
    ----------
    customer : str
        Pseudonymous label (never the raw SEQ).
    quarter : str or None
    by_requested, by_used : tuple of str
        Grouping asked for and grouping used after any fallback.
    group_ko : str
        The group used, in Korean (``"30~34세 · 여 · 신혼"``).
    fell_back : bool
    fallback_reason : str or None
        Korean sentence saying why and how the group was widened.
    n_peers : int
        Peers compared with (the customer excluded).
    percentiles : DataFrame
        One row per compared column (total, then upper categories): ``category``,
        ``label_ko``, ``customer``, ``peer_median``, ``peer_mean`` (천원), ``percentile``.
    top_differences : DataFrame
        Categories whose share of the customer's total differs most from the peers'
        mean share: ``category``, ``label_ko``, ``customer_share``, ``peer_share``,
        ``diff_pp`` (percentage points), ``sentence_ko``.
    """

    customer: str
    quarter: Optional[str]
    by_requested: tuple[str, ...]
    by_used: tuple[str, ...]
    group_ko: str
    fell_back: bool
    fallback_reason: Optional[str]
    n_peers: int
    percentiles: pd.DataFrame = field(repr=False)
    top_differences: pd.DataFrame = field(repr=False)

    def summary_ko(self) -> str:
        """A few Korean sentences, amounts in 원/만원/억원 with the unit shown."""
        sentences = [f"{self.customer}님을 같은 그룹({self.group_ko}) 고객 {self.n_peers:,}명과 비교했습니다."]
        if self.fell_back and self.fallback_reason:
            sentences.append(self.fallback_reason)
        tot = self.percentiles.set_index("category").loc["TOT_USE_AM"]
        if not np.isnan(tot["percentile"]):
            side = "많습니다" if tot["customer"] > tot["peer_median"] else (
                "적습니다" if tot["customer"] < tot["peer_median"] else "같습니다")
            sentences.append(
                f"총이용금액({contract.AMOUNT_PERIOD_LABEL})은 {contract.format_amount(tot['customer'])}으로 "
                f"또래 중앙값 {contract.format_amount(tot['peer_median'])}보다 {side}"
                f" (또래 중 백분위 {tot['percentile']:.0f})."
                if side != "같습니다" else
                f"총이용금액({contract.AMOUNT_PERIOD_LABEL})은 {contract.format_amount(tot['customer'])}으로 "
                f"또래 중앙값과 같습니다 (또래 중 백분위 {tot['percentile']:.0f})."
            )
        if len(self.top_differences):
            parts = "; ".join(self.top_differences["sentence_ko"])
            sentences.append(f"또래와 가장 다른 업종은 {parts}.")
        return " ".join(sentences)

    def percentiles_ko(self) -> pd.DataFrame:
        """:attr:`percentiles` with Korean headings and formatted amounts, for display."""
        p = self.percentiles
        return pd.DataFrame({
            "업종": p["label_ko"],
            "고객": p["customer"].map(contract.format_amount),
            "또래 중앙값": p["peer_median"].map(contract.format_amount),
            "또래 평균": p["peer_mean"].map(contract.format_amount),
            "백분위": p["percentile"].round(1),
        })


def _peer_mask(frame: pd.DataFrame, by: Sequence[str], values: Sequence[str]) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in zip(by, values):
        mask &= (_as_str(frame[column]) == value).fillna(False).to_numpy(dtype=bool)
    return mask


def peer_comparison(
    quarter_df: pd.DataFrame,
    seq: str,
    by: Sequence[str] = ("AGE", "SEX_CD", "LIFE_STAGE"),
    min_peers: int = 10,
    top_k: int = 3,
) -> PeerComparison:
    """Compare one customer with their peer group in one quarter.

    Parameters
    ----------
    quarter_df : DataFrame
        One quarter in the contract's columns (``ingest.load_quarter``). Not modified.
    seq : str
        The customer's id (used for lookup only; outputs show its pseudonym).
    by : sequence of str
        Grouping columns, widest-last-dropped: on too small a group the last column is
        dropped first (default: life stage, then sex, then age band).
    min_peers : int
        Fewest peers (the customer excluded) a group must have.
    top_k : int
        How many most-different categories to report.

    Raises
    ------
    KeyError
        If ``seq`` is not in ``quarter_df``.
    ValueError
        If ``by`` names a column not in ``quarter_df`` or the quarter is too small to
        give ``min_peers`` peers even as a whole.
    """
    by = tuple(by)
    missing = [c for c in by if c not in quarter_df.columns]
    if missing:
        raise ValueError(f"grouping columns not in the frame: {missing}")
    seqs = _as_str(quarter_df["SEQ"])
    is_customer = (seqs == str(seq)).fillna(False).to_numpy(dtype=bool)
    if not is_customer.any():
        raise KeyError("customer not in this quarter")
    position = int(np.flatnonzero(is_customer)[0])
    row = quarter_df.iloc[position]
    quarters = _as_str(quarter_df["BAS_YH"]).str.lower().dropna().unique()
    quarter = str(quarters[0]) if len(quarters) == 1 else None

    reasons: list[str] = []
    used = list(by)
    # a missing code cannot define a group: drop that column up front
    for column in by:
        if pd.isna(row[column]):
            used.remove(column)
            reasons.append(f"{GROUP_COLUMN_KO.get(column, column)} 정보가 없어 빼고 비교했습니다.")
    while True:
        values = [str(row[c]).strip() for c in used]
        mask = _peer_mask(quarter_df, used, values) & ~is_customer
        n_peers = int(mask.sum())
        if n_peers >= min_peers:
            break
        if not used:
            raise ValueError(f"only {n_peers} other customers in the quarter; need {min_peers}")
        dropped = used.pop()
        reasons.append(
            f"{group_description_ko(used + [dropped], values)} 그룹은 {n_peers}명뿐이라(최소 {min_peers}명) "
            f"{GROUP_COLUMN_KO.get(dropped, dropped)}을(를) 빼고 더 넓은 그룹과 비교했습니다."
        )
    values = [str(row[c]).strip() for c in used]
    peers = quarter_df.loc[mask]

    customer_amounts = quarter_df.iloc[[position]][list(COMPARED_COLUMNS)].to_numpy(dtype=np.float64)[0]
    peer_amounts = peers[list(COMPARED_COLUMNS)].to_numpy(dtype=np.float64)
    percentiles = pd.DataFrame({
        "category": list(COMPARED_COLUMNS),
        "label_ko": [contract.label(c) for c in COMPARED_COLUMNS],
        "customer": customer_amounts,
        "peer_median": np.nanmedian(peer_amounts, axis=0),
        "peer_mean": np.nanmean(peer_amounts, axis=0),
        "percentile": [mid_rank_percentile(customer_amounts[j], peer_amounts[:, j])
                       for j in range(len(COMPARED_COLUMNS))],
    })

    customer_share = spending_shares(quarter_df.iloc[[position]]).iloc[0]
    peer_share = spending_shares(peers).mean()
    diff = (customer_share - peer_share) * 100.0
    order = diff.abs().sort_values(ascending=False, kind="stable").index[:top_k]
    order = [c for c in order if abs(diff[c]) > 0]
    top = pd.DataFrame({
        "category": order,
        "label_ko": [contract.label(c) for c in order],
        "customer_share": [float(customer_share[c]) for c in order],
        "peer_share": [float(peer_share[c]) for c in order],
        "diff_pp": [float(diff[c]) for c in order],
    })
    top["sentence_ko"] = [
        f"{r.label_ko}(비중 {r.customer_share:.1%}, 또래 평균 {r.peer_share:.1%}, "
        f"{abs(r.diff_pp):.1f}%p {'높음' if r.diff_pp > 0 else '낮음'})"
        for r in top.itertuples()
    ]
    return PeerComparison(
        customer=pseudonym(str(seq)),
        quarter=quarter,
        by_requested=by,
        by_used=tuple(used),
        group_ko=group_description_ko(used, values),
        fell_back=bool(reasons),
        fallback_reason=" ".join(reasons) or None,
        n_peers=n_peers,
        percentiles=percentiles,
        top_differences=top,
    )


def example_customer(quarter_df: pd.DataFrame, by: Sequence[str] = ("AGE", "SEX_CD", "LIFE_STAGE"),
                     min_peers: int = 10, salt: str = str(config.RANDOM_SEED)) -> str:
    """A deterministic example customer for a worked comparison: among customers with
    spending and a full peer group of at least ``min_peers`` others, the one whose
    salted hash sorts first. Returns the SEQ (for lookup; never print it)."""
    by = list(by)
    sizes = quarter_df.groupby(by, observed=True, dropna=True)["SEQ"].transform("size")
    eligible = quarter_df.loc[(sizes > min_peers) & (quarter_df["TOT_USE_AM"] > 0), "SEQ"].astype(str)
    if eligible.empty:
        eligible = quarter_df["SEQ"].astype(str)
    seqs = eligible.tolist()
    keys = [pseudonym(s, salt=salt) for s in seqs]
    return str(seqs[min(range(len(keys)), key=keys.__getitem__)])  # first of the smallest key


# --- group summaries for the EDA -----------------------------------------------------


def population_table(quarter_df: pd.DataFrame, column: str) -> pd.DataFrame:
    """Customers per code of ``column`` in code-table order: ``code``, ``label_ko``,
    ``customers``, ``share`` (missing codes as ``결측``)."""
    codes = list(contract.CODE_TABLES[column])
    values = _as_str(quarter_df[column])
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
        key = _as_str(quarter_df[by])
        sums = frame.groupby(key.to_numpy(), dropna=True).sum()
        order = [c for c in contract.CODE_TABLES.get(by, {}) if c in sums.index] or list(sums.index)
        sums = sums.loc[order]
        sums.index = [_value_label(by, c) for c in order]
    shares = sums[columns].div(sums["TOT_USE_AM"].where(sums["TOT_USE_AM"] > 0), axis=0).fillna(0.0)
    shares.columns = [contract.label(c) for c in columns]
    shares.index.name = contract.label(by) if by else None
    return shares


def mean_amount_by(quarter_df: pd.DataFrame, by: str,
                   columns: Sequence[str] = ("TOT_USE_AM", "CRDSL_USE_AM", "CNF_USE_AM")) -> pd.DataFrame:
    """Mean amount per customer (천원) of ``columns`` per group, in code order, Korean labels."""
    key = _as_str(quarter_df[by])
    means = quarter_df[list(columns)].astype("float64").groupby(key.to_numpy(), dropna=True).mean()
    order = [c for c in contract.CODE_TABLES.get(by, {}) if c in means.index] or list(means.index)
    means = means.loc[order]
    means.index = pd.Index([_value_label(by, c) for c in order], name=contract.label(by))
    means.columns = [contract.label(c) for c in columns]
    return means


def total_share_by(quarter_df: pd.DataFrame, by: str) -> pd.Series:
    """Share of the quarter's total spending held by each group (e.g. grade)."""
    key = _as_str(quarter_df[by])
    sums = quarter_df["TOT_USE_AM"].astype("float64").groupby(key.to_numpy(), dropna=True).sum()
    order = [c for c in contract.CODE_TABLES.get(by, {}) if c in sums.index] or list(sums.index)
    sums = sums.loc[order]
    out = sums / sums.sum() if sums.sum() > 0 else sums * 0.0
    out.index = pd.Index([_value_label(by, c) for c in order], name=contract.label(by))
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
    return pa.array(_as_str(series).array).cast(pa.large_string())


def _is_in(values: pa.Array, others: pa.Array) -> np.ndarray:
    """Whether each of ``values`` occurs among the non-null ``others`` (null → False)."""
    mask = pc.is_in(values, value_set=others.drop_null(), skip_nulls=True)
    return mask.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)


def eda_headlines(current: pd.DataFrame, previous: Optional[pd.DataFrame] = None) -> dict:
    """Headline numbers of a quarter (summarised by :func:`eda_summary_ko`, recorded by
    notebook 01 through :func:`eda_metrics`)."""
    tot = current["TOT_USE_AM"].astype("float64")
    credit = current["CRDSL_USE_AM"].astype("float64").sum()
    check = current["CNF_USE_AM"].astype("float64").sum()
    pooled = category_share_by(current).iloc[0]
    by_stage = mean_amount_by(current, "LIFE_STAGE", ("TOT_USE_AM",)).iloc[:, 0]
    by_age = mean_amount_by(current, "AGE", ("TOT_USE_AM",)).iloc[:, 0]
    detail = category_share_by(current, columns=contract.DETAIL_COLUMNS).iloc[0]
    change = quarter_change(current, previous)
    digital = _as_str(current["DIGT_CHNL_USE_YN"])
    return {
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


def eda_metrics(current: pd.DataFrame, previous: Optional[pd.DataFrame], peer: PeerComparison,
                headlines: Optional[dict] = None) -> dict:
    """Everything notebook 01 records in ``outputs/<quarter>/eda.json``.

    Parameters
    ----------
    current, previous : DataFrame
        The quarter and the one before it (None when there is none), as
        :func:`fipro.features.load_quarter_pair` returns them. Not modified.
    peer : PeerComparison
        The worked example of the notebook (:func:`peer_comparison`).
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
    stages = _as_str(current["LIFE_STAGE"]).value_counts(normalize=True)
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
    if not np.isnan(h["total_change_pct"]):
        word = "늘었" if h["total_change_pct"] > 0 else "줄었"
        s.append(
            f"전분기보다 1인당 총이용금액이 {abs(h['total_change_pct']):.1f}% {word}고, "
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

    Returns one row per category (Korean label), sorted from the most female to the most
    male: ``여성``, ``남성`` (means) and ``여성/남성`` (ratio; NaN when men spend nothing).
    """
    columns = list(columns)
    sex = _as_str(quarter_df["SEX_CD"]).to_numpy()
    means = quarter_df[columns].astype("float64").groupby(sex).mean()
    women = means.loc["2"] if "2" in means.index else pd.Series(np.nan, index=columns)
    men = means.loc["1"] if "1" in means.index else pd.Series(np.nan, index=columns)
    out = pd.DataFrame({"여성": women.to_numpy(), "남성": men.to_numpy()}, index=[contract.label(c) for c in columns])
    out["여성/남성"] = out["여성"] / out["남성"].where(out["남성"] > 0)
    out.index.name = "업종"
    return out.sort_values("여성/남성", ascending=False)


def region_index(quarter_df: pd.DataFrame, columns: Sequence[str] = contract.DETAIL_COLUMNS) -> pd.DataFrame:
    """Mean amount per customer in each region group as an index (all customers = 100).

    Groups are ``contract.SIDO_GROUP`` (수도권, 광역시, 도 지역); one row per category
    (Korean label), one column per group, sorted by the provinces' index minus the capital
    region's (the categories that set the provinces apart first).
    """
    columns = list(columns)
    group = _as_str(quarter_df["HOUS_SIDO_NM"]).map(contract.SIDO_GROUP).map(contract.REGION_GROUP_KO)
    amounts = quarter_df[columns].astype("float64")
    overall = amounts.mean()
    means = amounts.groupby(group.to_numpy()).mean()
    order = [g for g in contract.REGION_GROUP_KO.values() if g in means.index]
    index = (means.loc[order] / overall.where(overall > 0) * 100).T
    index.index = [contract.label(c) for c in columns]
    index.index.name = "업종"
    index.columns.name = "지역"
    if {"수도권", "도 지역"} <= set(index.columns):
        index = index.loc[(index["도 지역"] - index["수도권"]).sort_values(ascending=False).index]
    return index


def quarter_means(quarters: Sequence[str], columns: Sequence[str] = contract.DETAIL_COLUMNS,
                  processed_dir=None) -> pd.DataFrame:
    """Mean amount per customer (천원) of each column in each quarter (rows: quarters).

    Reads only ``columns`` of each quarter's ingested table and averages them in Arrow
    (notebook 01 calls it for every quarter: 0.7 s instead of 3.7 s at full scale).
    """
    import pyarrow.parquet as pq

    from fipro import datasets

    rows = {}
    for q in quarters:
        table = pq.read_table(datasets.quarter_table_path(q, processed_dir), columns=list(columns))
        rows[q] = {c: pc.mean(table[c]).as_py() for c in columns}
    return pd.DataFrame(rows, columns=list(quarters)).T.astype("float64").rename_axis("BAS_YH")


def seasonal_index(means: pd.DataFrame) -> pd.DataFrame:
    """Mean per customer in each quarter of the year as an index (the category's mean over
    all quarters = 100), from :func:`quarter_means`.

    Rows are categories (Korean labels) sorted by their seasonal swing (max - min),
    columns ``1분기`` … ``4분기`` (only those present).
    """
    quarter_of_year = pd.Index([int(str(q)[-1]) for q in means.index])
    by_q = means.groupby(quarter_of_year.to_numpy()).mean()
    index = (by_q / means.mean().where(means.mean() > 0) * 100).T
    index.columns = [f"{q}분기" for q in index.columns]
    index.index = [contract.label(c) for c in means.columns]
    index.index.name = "업종"
    return index.loc[(index.max(1) - index.min(1)).sort_values(ascending=False).index]


def patterns_summary_ko(sex: pd.DataFrame, region: pd.DataFrame, season: Optional[pd.DataFrame] = None,
                        top: int = 3) -> str:
    """Korean sentences on the tables of :func:`sex_ratio`, :func:`region_index` and
    :func:`seasonal_index` (the categories that differ most)."""
    ratio = sex["여성/남성"].dropna()
    lines = [f"- 여성이 더 많이 쓰는 업종: " + ", ".join(f"{c} {v:.1f}배" for c, v in ratio.head(top).items())
             + "; 남성이 더 많이 쓰는 업종: " + ", ".join(f"{c} {1 / v:.1f}배" for c, v in ratio[ratio > 0].tail(top)[::-1].items())
             + " (1인당 평균 금액 비)."]
    if {"수도권", "도 지역"} <= set(region.columns):
        gap = (region["도 지역"] - region["수도권"]).dropna()
        lines.append("- 도 지역이 수도권보다 많이 쓰는 업종: " + ", ".join(
            f"{c} ({region.at[c, '도 지역']:.0f} 대 {region.at[c, '수도권']:.0f})" for c in gap.head(top).index)
            + "; 수도권이 더 많이 쓰는 업종: " + ", ".join(
            f"{c} ({region.at[c, '수도권']:.0f} 대 {region.at[c, '도 지역']:.0f})" for c in gap.tail(top)[::-1].index)
            + " (전체 평균 = 100).")
    if season is not None and season.shape[1] >= 2:
        lines.append("- 계절성이 큰 업종: " + ", ".join(
            f"{c} ({season.loc[c].idxmax()} 최고 {season.loc[c].max():.0f}, {season.loc[c].idxmin()} 최저 "
            f"{season.loc[c].min():.0f})" for c in season.index[:top + 2]) + " (연평균 = 100).")
    else:
        lines.append("- 계절성은 분기가 둘 이상 있어야 볼 수 있습니다.")
    return "\n".join(lines)
