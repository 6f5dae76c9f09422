"""Reasons step of the segment model: each segment's profile and its Korean name.

A profile says what sets the segment apart from the quarter's population: its size, the
categories whose share of spending it lifts most, its life-stage, age and grade mix, its
average total and credit share. The name comes from the profile alone ("연료판매·자동차정비
중심형", with the age band where the segment leans on one), unique per segment.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from fipro import contract
from fipro.segments.data import CATEGORIES, CATEGORY_LABEL_KO, PEER_COLUMNS, STYLE_COLUMNS, SegmentInputs
from fipro.text_ko import CATEGORY_SHORT_KO

NAME_CATEGORIES = 2       # categories in a name (a third is added only to tell two segments apart)
MIN_POPULATION_SHARE = 0.003  # a category must carry 0.3% of all spending to name a segment (rare ones lift wildly)
AGE_LEAN = 1.5            # an age decade names the segment when its share there is 1.5x the population's
AGE_MIN_SHARE = 0.15      # ... and it holds at least 15% of the segment (a lean of a few, not of a tail)
# shorter words for names (the contract's labels are written for tables)
SHORT_KO = CATEGORY_SHORT_KO


def short_label(category: str) -> str:
    return SHORT_KO.get(category, CATEGORY_LABEL_KO.get(category, category))


def _mix(codes: pd.Series, segment: np.ndarray, segments: Sequence[int]) -> pd.DataFrame:
    tab = pd.crosstab(segment, codes.to_numpy(), normalize="index")
    return tab.reindex(index=list(segments), fill_value=0.0)


def profile_segments(inputs: SegmentInputs, segment: np.ndarray) -> dict:
    """Profiles of the segments (rows with ``segment`` >= 0; noise is left out).

    Returns a dict: ``summary`` (one row per segment: size, share, average total in 천원,
    credit share, top categories with their lifts), ``lift`` (segment × category: the
    segment's share of spending in the category over the population's), ``life_stage``,
    ``age``, ``grade`` (mix per segment, rows sum to 1) and ``population`` (the same
    mixes for all customers, for comparison).
    """
    segment = np.asarray(segment)
    keep = segment >= 0
    segments = sorted(int(s) for s in np.unique(segment[keep]))
    frame = inputs.frame
    amounts = inputs.amounts
    pop_sum = amounts[keep].sum(0, dtype=np.float64)
    pop_share = pop_sum / max(pop_sum.sum(), 1e-12)
    rows = []
    lift = np.zeros((len(segments), len(CATEGORIES)))
    for i, s in enumerate(segments):
        m = segment == s
        seg_sum = amounts[m].sum(0, dtype=np.float64)
        share = seg_sum / max(seg_sum.sum(), 1e-12)
        lift[i] = np.where(pop_share > 0, share / np.maximum(pop_share, 1e-12), 0.0)
        total = frame["total"].to_numpy()[m]
        credit = frame["credit"].to_numpy()[m]
        rows.append({"segment": s, "size": int(m.sum()), "share": float(m.sum() / max(keep.sum(), 1)),
                     "mean_total": float(total.mean()) if m.any() else 0.0,
                     "credit_share": float(credit.sum() / max(total.sum(), 1e-12))})
    lift_frame = pd.DataFrame(lift, index=segments, columns=list(CATEGORIES))
    eligible = pop_share >= MIN_POPULATION_SHARE
    summary = pd.DataFrame(rows).set_index("segment")
    ranked = [list(np.array(CATEGORIES)[eligible][np.argsort(-lift_frame.loc[s].to_numpy()[eligible], kind="stable")])
              for s in segments]
    summary["top_categories"] = [r[:5] for r in ranked]
    summary["top_lifts"] = [[round(float(lift_frame.loc[s, c]), 2) for c in r[:5]] for s, r in zip(segments, ranked)]
    seg_keep = segment[keep]
    out = {"summary": summary, "lift": lift_frame,
           "life_stage": _mix(frame["LIFE_STAGE"][keep], seg_keep, segments),
           "age": _mix(frame["AGE"][keep], seg_keep, segments),
           "grade": _mix(frame["MBR_RK"][keep], seg_keep, segments),
           "population": {c: frame[col][keep].value_counts(normalize=True)
                          for c, col in (("life_stage", "LIFE_STAGE"), ("age", "AGE"), ("grade", "MBR_RK"))}}
    out["summary"]["name"] = name_segments(out)
    return out


def _age_word(code: str) -> str:
    try:
        return f"{int(code) // 10 * 10}대"
    except ValueError:
        return ""


def name_segments(profile: dict) -> list[str]:
    """One unique Korean name per segment, from its lifted categories (and age lean)."""
    summary = profile["summary"]
    age, pop_age = profile["age"], profile["population"]["age"]
    pop_decade = pop_age.groupby(_age_word).sum()
    names = []
    for s in summary.index:
        cats = summary.loc[s, "top_categories"]
        words = [short_label(c) for c in cats[:NAME_CATEGORIES]]
        age_part = ""
        decade = age.loc[s].groupby(_age_word).sum()
        big = decade[(decade >= AGE_MIN_SHARE) & (decade.index != "")]
        lean = (big / pop_decade.reindex(big.index)).dropna()
        if len(lean) and lean.max() >= AGE_LEAN:
            age_part = str(lean.idxmax())
        names.append(("·".join(words) + " 중심형") + (f" {age_part}" if age_part else ""))
    # tell identical names apart with the next category, then with a number
    for extra in range(NAME_CATEGORIES, 5):
        dup = pd.Series(names).duplicated(keep=False).to_numpy()
        if not dup.any():
            break
        for i, s in enumerate(summary.index):
            if dup[i]:
                cats = summary.loc[s, "top_categories"]
                if extra < len(cats):
                    names[i] = names[i].replace(" 중심형", f"·{short_label(cats[extra])} 중심형", 1)
    counts, seen = pd.Series(names).value_counts().to_dict(), {}
    for i, n in enumerate(names):
        if counts[n] > 1:
            seen[n] = seen.get(n, 0) + 1
            names[i] = f"{n} {seen[n]}"
    return names


def profile_table(profile: dict) -> pd.DataFrame:
    """The profiles as a Korean table (one row per segment, largest first)."""
    s = profile["summary"].sort_values("size", ascending=False)
    ls, age, grade = profile["life_stage"], profile["age"], profile["grade"]
    return pd.DataFrame({
        "세그먼트": s["name"].to_numpy(),
        "고객 수": s["size"].to_numpy(),
        "비율(%)": (100 * s["share"]).round(1).to_numpy(),
        "특징 업종(배율)": [", ".join(f"{short_label(c)} {l:.1f}배" for c, l in zip(cats[:3], lifts[:3]))
                       for cats, lifts in zip(s["top_categories"], s["top_lifts"])],
        "주요 라이프스테이지": [contract.code_label("LIFE_STAGE", ls.loc[i].idxmax()) for i in s.index],
        "주요 연령대": [contract.code_label("AGE", age.loc[i].idxmax()) for i in s.index],
        "주요 등급": [contract.code_label("MBR_RK", grade.loc[i].idxmax()) for i in s.index],
        "평균 이용금액": [contract.format_amount(v) for v in s["mean_total"]],
        "신용 비중(%)": (100 * s["credit_share"]).round(1).to_numpy(),
    })


def customer_reasons(run, seqs: Sequence[str], n: int = NAME_CATEGORIES) -> pd.Series:
    """Why each customer of ``seqs`` sits in its segment (index ``SEQ`` in that order, Korean):
    the segment's name and, for its ``n`` most distinctive categories, how much more (or less)
    of their spending the customer puts there than their peers, on average over their quarters
    with spending: the ``share`` part of the style the model clusters. A customer the model
    leaves unassigned is named with its nearest segment; NaN for a customer not in the quarter."""
    table, summary = run.table, run.profile["summary"]
    index = pd.Index([str(s) for s in seqs], name="SEQ")
    at = pd.Series(np.arange(len(table)), index=table["SEQ"].astype(str).to_numpy()).reindex(index)
    style = np.asarray(run.inputs.style, dtype=np.float64)
    column = {c: STYLE_COLUMNS.index(f"share_{c}") for c in CATEGORIES}
    hard = table["segment"].to_numpy()
    peers = "·".join(contract.LABEL_KO[c] for c in PEER_COLUMNS)
    out = []
    for p in at.to_numpy():
        if pd.isna(p):
            out.append(np.nan)
            continue
        p = int(p)
        soft = int(table["soft_segment"].iat[p])
        known = soft in summary.index
        name = summary.loc[soft, "name"] if known else "세그먼트"
        lead = f"'{name}' 세그먼트" if hard[p] >= 0 else f"뚜렷한 세그먼트 없음(가장 가까운 곳: '{name}')"
        if not known or not np.any(style[p]):
            out.append(f"{lead}: 지출한 분기가 아직 없습니다" if known else lead)
            continue
        parts = [f"{short_label(c)} {100 * style[p, column[c]]:+.1f}%p"
                 for c in summary.loc[soft, "top_categories"][:n]]
        out.append(f"{lead}: 지출 비중이 또래(같은 {peers})보다 " + ", ".join(parts) + " (지출한 분기 평균)")
    return pd.Series(out, index=index, name="reason", dtype=object)
