"""Comparing one customer with their peers (the seed's compare_service).

:func:`peer_comparison` places one customer against their peers (same age band × sex ×
life stage by default): the percentile of the total and of each upper category among
the peers, and the categories whose share of spending differs most from the peers', in
Korean sentences. A group with fewer than ``min_peers`` other customers falls back to a
wider group by dropping the last grouping column, then the next (life stage, then sex,
then age band), and says so. A customer appears in any output only as
:func:`fipro.privacy.pseudonym`. The group summaries of the EDA are in :mod:`fipro.eda`.

Percentile rule (mid-rank, among the peers, the customer excluded)::

    percentile = 100 × (#peers below + ½ × #peers equal) / #peers

so 50 means "in the middle of the peers", whatever the ties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from fipro import config, contract
from fipro.peers import PEER_GROUP
from fipro.privacy import DIGITS, hex_digests, label_salt, pseudonym
from fipro.text_ko import COLUMN_NAME_KO

COMPARED_COLUMNS: tuple[str, ...] = ("TOT_USE_AM",) + contract.UPPER_COLUMNS

# Korean name of a grouping column in sentences ("라이프스테이지를 빼고").
GROUP_COLUMN_KO: dict[str, str] = COLUMN_NAME_KO


def stripped_strings(series: pd.Series) -> pd.Series:
    """Codes or ids as stripped strings, missing values kept missing (also used by :mod:`fipro.eda`)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        # strip the few categories, then take them by code (not every row's string)
        categories = pd.Series(series.cat.categories).astype("string").str.strip().array
        return pd.Series(categories.take(series.cat.codes.to_numpy(), allow_fill=True),
                         index=series.index, name=series.name)
    return series.astype("string").str.strip()


def value_label(column: str, value: str) -> str:
    """Korean label of a code of ``column``; the value itself for a column without a code table."""
    if column in contract.CODE_TABLES:
        return contract.code_label(column, value)
    return str(value)


def group_description_ko(by: Sequence[str], values: Sequence[str]) -> str:
    """``("AGE","SEX_CD"), ("30","2")`` → ``"30~34세 · 여"``; no columns → ``"전체 고객"``."""
    if not by:
        return "전체 고객"
    return " · ".join(value_label(c, v) for c, v in zip(by, values))


def mid_rank_percentile(value: float, peers: np.ndarray) -> float:
    """Percentile of ``value`` among ``peers`` (mid-rank: ties count half, scipy's
    ``percentileofscore(kind="mean")``). NaN if no peers."""
    peers = np.asarray(peers, dtype=np.float64)
    peers = peers[~np.isnan(peers)]
    if len(peers) == 0 or np.isnan(value):
        return float("nan")
    return float(stats.percentileofscore(peers, value, kind="mean"))


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
        mask &= (stripped_strings(frame[column]) == value).fillna(False).to_numpy(dtype=bool)
    return mask


def peer_comparison(
    quarter_df: pd.DataFrame,
    seq: str,
    by: Sequence[str] = PEER_GROUP,
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
    seqs = stripped_strings(quarter_df["SEQ"])
    is_customer = (seqs == str(seq)).fillna(False).to_numpy(dtype=bool)
    if not is_customer.any():
        raise KeyError("customer not in this quarter")
    position = int(np.flatnonzero(is_customer)[0])
    row = quarter_df.iloc[position]
    quarters = stripped_strings(quarter_df["BAS_YH"]).str.lower().dropna().unique()
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


def example_customer(quarter_df: pd.DataFrame, by: Sequence[str] = PEER_GROUP,
                     min_peers: int = 10, salt: Optional[str] = None) -> str:
    """A deterministic example customer for a worked comparison: among customers with
    spending and a full peer group of at least ``min_peers`` others, the one whose
    salted hash sorts first. Returns the SEQ (for lookup; never print it).

    ``salt`` (``None``: ``config.RANDOM_SEED`` when called) is hashed after the installation's
    label salt (:func:`fipro.privacy.label_salt`): with a public salt alone, anyone holding the
    customer ids could tell which one the published example is."""
    salt = str(config.RANDOM_SEED) if salt is None else salt
    by = list(by)
    sizes = quarter_df.groupby(by, observed=True, dropna=True)["SEQ"].transform("size")
    eligible = quarter_df.loc[(sizes > min_peers) & (quarter_df["TOT_USE_AM"] > 0), "SEQ"].astype(str)
    if eligible.empty:
        eligible = quarter_df["SEQ"].astype(str)
    seqs = eligible.tolist()
    keys = hex_digests(seqs, f"{label_salt()}:{salt}", DIGITS).tolist()
    return str(seqs[min(range(len(keys)), key=keys.__getitem__)])  # first of the smallest key
