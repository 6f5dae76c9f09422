"""Figures of notebooks 01 (EDA) and 02 (feature engineering).

Each function takes a table from :mod:`fipro.eda` / :mod:`fipro.compare` /
:mod:`fipro.features` (or a quarter frame) and returns a closed matplotlib Figure with Korean labels through
:func:`fipro.figures.finish` (shown once, as a PNG, as a cell's value). Amounts are
shown in 만원 (raw 천원 / 10) with the unit and period in the axis label.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.ticker import PercentFormatter

from fipro import compare, contract, eda, features, split
from fipro.figures import finish, plt, sns, use_style

MANWON_PER_RAW = contract.AMOUNT_UNIT_WON / 10_000  # raw 천원 → 만원
AMOUNT_AXIS_KO = f"1인당 {contract.AMOUNT_PERIOD_LABEL} 이용금액 (만원)"


def _pct_axis(ax, axis: str = "x") -> None:
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(PercentFormatter(1.0, decimals=None))


def plot_population(quarter_df: pd.DataFrame) -> "plt.Figure":
    """Customers by age band, sex, grade, region, life stage and digital use (6 panels)."""
    use_style()
    columns = ("AGE", "SEX_CD", "MBR_RK", "HOUS_SIDO_NM", "LIFE_STAGE", "DIGT_CHNL_USE_YN")
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    for ax, column in zip(axes.flat, columns):
        table = eda.population_table(quarter_df, column)
        sns.barplot(data=table, y="label_ko", x="share", ax=ax, color=sns.color_palette()[0], orient="h")
        ax.set_title(f"{contract.label(column)} (고객 수 비율)")
        ax.set_xlabel("고객 비율")
        ax.set_ylabel("")
        _pct_axis(ax)
    fig.suptitle(f"고객 구성 (고객 {len(quarter_df):,}명)", fontsize=14)
    return finish(fig)


def plot_category_shares(shares: pd.Series, title: str = "업종별 지출 비중") -> "plt.Figure":
    """Horizontal bars of category shares (a row of :func:`eda.category_share_by`)."""
    use_style()
    shares = shares.sort_values(ascending=True)
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(shares) + 1.5))
    ax.barh(shares.index, shares.to_numpy(), color=sns.color_palette()[0])
    for y, v in enumerate(shares.to_numpy()):
        ax.text(v, y, f" {v:.1%}", va="center", fontsize=9)
    _pct_axis(ax)
    ax.set_xlabel("총이용금액 중 비중")
    ax.set_title(title)
    return finish(fig)


def plot_share_heatmap(shares_by_group: pd.DataFrame, title: str) -> "plt.Figure":
    """Heat map of category shares per group (:func:`eda.category_share_by`)."""
    use_style()
    fig, ax = plt.subplots(figsize=(1.0 * shares_by_group.shape[1] + 3, 0.45 * shares_by_group.shape[0] + 2))
    sns.heatmap(shares_by_group * 100, annot=True, fmt=".1f", cmap="YlGnBu", ax=ax,
                cbar_kws={"label": "총이용금액 중 비중 (%)"})
    ax.set_title(title)
    ax.set_xlabel("업종")
    ax.set_ylabel(shares_by_group.index.name or "")
    plt.setp(ax.get_xticklabels(), rotation=35, ha="right")
    return finish(fig)


def plot_mean_amount_by(means: pd.DataFrame, title: str, stacked: bool = False) -> "plt.Figure":
    """Mean amount per customer per group (:func:`eda.mean_amount_by`), in 만원."""
    use_style()
    fig, ax = plt.subplots(figsize=(max(8, 0.7 * len(means) + 3), 4.5))
    (means * MANWON_PER_RAW).plot.bar(ax=ax, stacked=stacked, width=0.8)
    ax.set_ylabel(AMOUNT_AXIS_KO)
    ax.set_xlabel(means.index.name or "")
    ax.set_title(title)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
    ax.legend(title="")
    return finish(fig)


def plot_total_share_by(shares: pd.Series, title: str) -> "plt.Figure":
    """Share of the quarter's total spending per group (:func:`eda.total_share_by`)."""
    use_style()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(shares.index.astype(str), shares.to_numpy(), color=sns.color_palette()[1])
    for x, v in enumerate(shares.to_numpy()):
        ax.text(x, v, f"{v:.1%}", ha="center", va="bottom", fontsize=9)
    _pct_axis(ax, "y")
    ax.set_ylabel("총이용금액 중 비중")
    ax.set_xlabel(shares.index.name or "")
    ax.set_title(title)
    return finish(fig)


def plot_quarter_change(change: pd.DataFrame, title: str = "전분기 대비 1인당 이용금액 변화") -> "plt.Figure":
    """Change in % of the mean per category (:func:`eda.quarter_change`), all customers
    and customers present in both quarters."""
    use_style()
    fig, ax = plt.subplots(figsize=(9, 5))
    if change["change_pct"].isna().all():
        ax.text(0.5, 0.5, "전분기 자료가 없습니다", ha="center", va="center", fontsize=14, transform=ax.transAxes)
        ax.set_axis_off()
    else:
        long = change.melt(id_vars="label_ko", value_vars=["change_pct", "stayer_change_pct"],
                           var_name="기준", value_name="변화율 (%)")
        long["기준"] = long["기준"].map({"change_pct": "전체 고객", "stayer_change_pct": "두 분기 모두 있는 고객"})
        sns.barplot(data=long, y="label_ko", x="변화율 (%)", hue="기준", ax=ax, orient="h")
        ax.axvline(0, color="black", lw=0.8)
        ax.set_ylabel("")
        ax.legend(title="")
    ax.set_title(title)
    return finish(fig)


def plot_sex_ratio(ratio: pd.DataFrame, top: int = 8, title: str = "여성과 남성의 업종별 1인당 이용금액 비") -> "plt.Figure":
    """Women's over men's mean amount per category (:func:`eda.sex_ratio`), the ``top``
    most female and most male categories, on a log scale centred on 1 (equal)."""
    use_style()
    r = ratio["ratio"].dropna()
    r = r[r > 0]
    r.index = [contract.label(c) for c in r.index]
    shown = pd.concat([r.head(top), r.tail(top)]).pipe(lambda x: x[~x.index.duplicated()]).sort_values()
    fig, ax = plt.subplots(figsize=(8, 0.38 * len(shown) + 1.8))
    colors = [sns.color_palette()[3] if v >= 1 else sns.color_palette()[0] for v in shown]
    ax.barh(shown.index, np.log2(shown.to_numpy()), color=colors)
    for y, v in enumerate(shown.to_numpy()):
        ax.text(np.log2(v), y, f" {v:.2f}배 " if v >= 1 else f" {1 / v:.2f}배 ", va="center", fontsize=9,
                ha="left" if v >= 1 else "right")
    ax.axvline(0, color="black", lw=0.8)
    ticks = np.arange(np.floor(ax.get_xlim()[0]), np.ceil(ax.get_xlim()[1]) + 1)
    ax.set_xticks(ticks, [f"{2 ** t:g}" for t in ticks])
    ax.set_xlabel("여성 1인당 금액 ÷ 남성 1인당 금액 (로그 눈금; 오른쪽 = 여성이 더 많이)")
    ax.set_title(title)
    return finish(fig)


def plot_index_heatmap(index: pd.DataFrame, title: str, top: Optional[int] = 12,
                       label: str = "지수 (전체 = 100)") -> "plt.Figure":
    """Heat map of an index table (:func:`eda.region_index`, :func:`eda.seasonal_index`):
    rows are categories in the table's order (the ``top`` first), 100 = average; labelled in
    Korean (:func:`eda.table_ko`)."""
    use_style()

    shown = eda.table_ko(index.head(top) if top else index)
    fig, ax = plt.subplots(figsize=(1.3 * shown.shape[1] + 4, 0.42 * len(shown) + 1.8))
    values = shown.to_numpy(dtype=float)
    # below and above 100 get their own scale, so a 40 and a 250 both read as strong
    norm = TwoSlopeNorm(vcenter=100, vmin=min(np.nanmin(values), 99.0), vmax=max(np.nanmax(values), 101.0))
    sns.heatmap(shown, annot=True, fmt=".0f", cmap="RdBu_r", norm=norm, ax=ax, cbar_kws={"label": label})
    ax.set_title(title)
    ax.set_xlabel(shown.columns.name or "")
    ax.set_ylabel("")
    plt.setp(ax.get_yticklabels(), rotation=0)
    return finish(fig)


def plot_peer_comparison(result: compare.PeerComparison) -> "plt.Figure":
    """Percentile of the customer among peers per category (50 = the middle)."""
    use_style()
    p = result.percentiles
    fig, ax = plt.subplots(figsize=(8, 5))
    colors = [sns.color_palette()[3] if v >= 50 else sns.color_palette()[0] for v in p["percentile"]]
    ax.barh(p["label_ko"], p["percentile"], color=colors)
    ax.axvline(50, color="black", lw=1, ls="--")
    ax.set_xlim(0, 100)
    ax.invert_yaxis()
    ax.set_xlabel("또래 중 백분위 (50 = 중간)")
    ax.set_title(f"{result.customer}: {result.group_ko} 고객 {result.n_peers:,}명과 비교")
    return finish(fig)


def plot_feature_distributions(feature_df: pd.DataFrame, names: Sequence[str], bins: int = 40,
                               max_rows: Optional[int] = 50_000, seed: Optional[int] = None) -> "plt.Figure":
    """Histograms of the given features (a seeded sample of at most ``max_rows`` rows).

    ``seed``: of the sample (``None``: ``config.RANDOM_SEED``).
    """
    use_style()
    data = feature_df[list(names)]  # the same sampled rows as the whole frame's, fewer columns to copy
    if max_rows is not None and len(data) > max_rows:
        data = data.iloc[split.sample_positions(len(data), max_rows, seed)]
    cols = 4
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        values = data[name].astype("float64").dropna()
        ax.hist(values, bins=bins, color=sns.color_palette()[0])
        ax.set_title(features.feature_label_ko(name), fontsize=10)
        ax.set_ylabel("고객 수")
    for ax in list(axes.flat)[len(names):]:
        ax.set_axis_off()
    return finish(fig)


def spearman_matrix(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Pairwise Spearman correlation, as ``frame[names].corr(method="spearman")`` (rows
    with a missing value in either feature left out of that pair, average ranks for ties),
    without sorting every pair again: each column is coded once in value order, and
    the average ranks within any subset of rows follow from a count of those codes."""
    names = list(names)
    values = [frame[n].to_numpy(dtype=np.float64, na_value=np.nan) for n in names]
    valid = [~np.isnan(v) for v in values]
    complete = [bool(m.all()) for m in valid]
    codes, n_codes = [], []
    for v, m in zip(values, valid):
        inverse, uniq = pd.factorize(v[m], sort=True)  # codes in value order
        c = np.full(len(v), -1, dtype=np.int64)
        c[m] = inverse
        codes.append(c)
        n_codes.append(len(uniq))

    unit_cache: dict = {}

    def unit_ranks(i: int, key: tuple, rows: Optional[np.ndarray]) -> Optional[np.ndarray]:
        """Average ranks of column i within ``rows``, centred and scaled to length 1
        (None when constant there)."""
        if (i, key) not in unit_cache:
            c = codes[i] if rows is None else codes[i][rows]
            counts = np.bincount(c, minlength=n_codes[i]).astype(np.float64)
            below = np.cumsum(counts) - counts
            r = (below + (counts + 1.0) / 2.0)[c]
            r -= r.mean()
            norm = np.sqrt((r * r).sum())
            unit_cache[(i, key)] = r / norm if norm > 0 else None
        return unit_cache[(i, key)]

    k = len(names)
    out = np.full((k, k), np.nan)
    for i in range(k):
        for j in range(i + 1):
            key = tuple(sorted({x for x in (i, j) if not complete[x]}))
            rows = None if not key else np.flatnonzero(valid[i] & valid[j])
            if rows is not None and rows.size == 0:
                continue
            x, y = unit_ranks(i, key, rows), unit_ranks(j, key, rows)
            if x is not None and y is not None:
                out[i, j] = out[j, i] = min(max(float((x * y).sum()), -1.0), 1.0)
    return pd.DataFrame(out, index=names, columns=names)


def plot_feature_correlation(feature_df: pd.DataFrame, names: Sequence[str]) -> "plt.Figure":
    """Spearman correlation heat map of the given features (Korean labels)."""
    use_style()
    corr = spearman_matrix(feature_df, names)
    labels = [features.feature_label_ko(n) for n in names]
    corr.index, corr.columns = labels, labels
    size = 0.45 * len(names) + 3
    fig, ax = plt.subplots(figsize=(size + 1, size))
    sns.heatmap(corr, vmin=-1, vmax=1, center=0, cmap="RdBu_r", ax=ax, square=True,
                annot=len(names) <= 16, fmt=".2f", cbar_kws={"label": "스피어만 상관계수"})
    ax.set_title("피처 간 상관")
    return finish(fig)


def plot_missing_pattern(missing: pd.DataFrame, title: str = "변화 피처의 결측 비율") -> "plt.Figure":
    """Missing share of features (:func:`features.missing_pattern`), split by reason."""
    use_style()
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(missing) + 1.5))
    left = np.zeros(len(missing))
    for column, label in (("missing_no_prev", "전분기 없음 (첫 분기·신규 고객)"), ("missing_other", "그 밖의 결측")):
        values = missing[column].to_numpy()
        ax.barh(missing["label_ko"], values, left=left, label=label)
        left += values
    ax.set_xlim(0, 1)
    _pct_axis(ax)
    ax.invert_yaxis()
    ax.set_xlabel("고객 중 결측 비율")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return finish(fig)


def plot_published_level(table: pd.DataFrame, level: eda.PublishedLevel, measured_ko: str = "이 자료") -> "plt.Figure":
    """Published and measured index side by side per group (:func:`eda.level_table`),
    the measured one with ±2 standard errors, assumed levels hatched, the source under
    the axes so a reader sees what is published and what is measured."""
    use_style()
    # coded columns (SEX_CD) get their Korean label; regions and quarters read as they are
    labels = [contract.code_label(level.column, g) if level.column in contract.CODE_TABLES else str(g)
              for g in table.index]
    x = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.62 * len(table) + 2.5), 4.6))
    colors = sns.color_palette()
    bars = ax.bar(x - 0.2, table["published"], width=0.4, color=colors[0], label="공개 통계")
    for bar, assumed in zip(bars, table["assumed"]):
        if assumed:
            bar.set_hatch("//")
            bar.set_facecolor("white")
            bar.set_edgecolor(colors[0])
    ax.bar(x + 0.2, table["measured"], width=0.4, color=colors[1], label=measured_ko,
           yerr=2 * table["se"], capsize=3, error_kw={"lw": 0.8})
    ax.axhline(100, color="black", lw=0.8)
    low = float(np.nanmin(np.r_[table["published"], table["measured"] - 2 * table["se"]]))
    ax.set_ylim(max(0.0, min(80.0, low - 5)), None)
    ax.set_xticks(x, labels, rotation=0 if len(table) <= 8 else 45)
    ax.set_ylabel(f"지수 ({level.reference_ko})")
    ax.set_title(level.title_ko)
    ax.legend(loc="upper left", fontsize=9)
    fig.text(0.01, 0.01, f"{level.source_ko}\n허용 오차 {level.tolerance_ko}", fontsize=7.5, ha="left", va="bottom",
             wrap=True)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return finish(fig, tight=False)
