"""Data step of the life-stage model: labels, features, pooled quarters, training sample.

Every frame here is keys (``BAS_YH``, ``SEQ``), the shared model features
(:func:`fipro.features.model_feature_names`) and the label ``LIFE_STAGE`` as a string
code. Customers are split by a seeded hash of ``SEQ`` (:mod:`fipro.split`), so a
customer is on the same side in every quarter.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

from fipro import config, contract, datasets, features, split

TARGET = "LIFE_STAGE"
MODEL_NAME = "lifestage"
CODES: tuple[str, ...] = contract.LIFE_STAGE_ORDER
CODE_NAMES: dict[str, str] = dict(contract.LIFE_STAGE_CODES)
MODEL_DISPLAY = {"model": "모델(그래디언트 부스팅)", "age_rule": "연령대×성별 규칙", "majority": "최빈 클래스",
                 "ceiling": "베이즈 상한(사후확률 argmax)"}

# Quarters pooled into training (the training customers' rows only). A quarter with
# POOL_BELOW_ROWS rows or more has data enough on its own and is not pooled.
DEFAULT_HISTORY = 2
POOL_BELOW_ROWS = 100_000


def feature_columns() -> list[str]:
    """Model inputs: the shared numeric features (``features.model_feature_names``)."""
    return list(features.model_feature_names())


def available_features(frame: pd.DataFrame, quarter: str) -> list[str]:
    """Model features that ``quarter``'s rows carry (not missing in every row).

    The first quarter has no previous quarter, so its change features are missing in
    every row; a model for it must not learn from them on pooled rows of other
    quarters, where they are present (it would route every first-quarter row down the
    rare "missing" branch).
    """
    rows = frame[frame["BAS_YH"].astype(str) == quarter]
    return [c for c in feature_columns() if rows[c].notna().any()]


def _one_quarter(quarter: str) -> pd.DataFrame:
    frame = features.load_features(quarter)
    if TARGET in frame:
        labels_of = frame[[TARGET]]
    else:
        labels_of = datasets.load_quarter(quarter, columns=["BAS_YH", "SEQ", TARGET])
        if not labels_of["SEQ"].astype(str).equals(frame["SEQ"].astype(str)):
            raise ValueError(f"features and table of {quarter} are not in the same row order")
    label = labels_of[TARGET].astype("string")
    keep = label.isin(CODES).fillna(False).to_numpy(dtype=bool)
    # one frame built at once; float32 halves a full quarter (0.7 -> 0.35 GB) and the
    # booster bins in 32 bits anyway
    feats = feature_columns()
    out = pd.concat([frame.loc[keep, ["BAS_YH", "SEQ"]].astype(str),
                     frame.loc[keep, feats].astype(np.float32),
                     pd.Series(label.to_numpy()[keep], index=frame.index[keep], name=TARGET).astype(str)],
                    axis=1).reset_index(drop=True)
    del frame  # the float64 table is not needed any more
    out.attrs.update(n_dropped=int((~keep).sum()), quarter=quarter, quarters=[quarter], pooled=False,
                     history_note="이번 분기 행만 사용")
    return out


def pooled_quarters(quarter: str, available: Sequence[str], history: int) -> list[str]:
    """Quarters whose training rows join ``quarter``'s (``quarter`` itself excluded).

    The preceding ``history`` quarters, never a later one, so the temporal check (the model
    of t on t+1, :mod:`fipro.decay`) stays honest. The first quarter has no preceding one: it
    pools the ``history`` quarters that follow it instead, and its model is then left out of
    the temporal check (it saw the next quarter's training customers).

    Examples
    --------
    >>> qs = ["2022q1", "2022q2", "2022q3", "2022q4"]
    >>> pooled_quarters("2022q3", qs, 2), pooled_quarters("2022q1", qs, 2)
    (['2022q1', '2022q2'], ['2022q2', '2022q3'])
    """
    available = sorted(available)
    if not history or quarter not in available:
        return []
    i = available.index(quarter)
    return available[max(0, i - history):i] if i > 0 else available[1:1 + history]


def load_inputs(quarter: str, history: int = 0) -> pd.DataFrame:
    """Keys, model features and the ``LIFE_STAGE`` label of a quarter, optionally pooled.

    ``history`` adds the rows of up to that many other quarters
    (:func:`pooled_quarters`) when the quarter is small (below ``POOL_BELOW_ROWS``
    rows); use :func:`train_test_rows` to keep the evaluation on ``quarter`` alone.

    Rows whose label is missing or not a contract code are dropped (they cannot be
    learned from or scored). ``attrs`` records what happened, for the metrics JSON:
    ``n_dropped``, ``quarters`` (pooled, ``quarter`` last), ``pooled`` and
    ``history_note`` (Korean).
    """
    own = _one_quarter(quarter)
    if not history:
        return own
    if len(own) >= POOL_BELOW_ROWS:
        own.attrs["history_note"] = f"{len(own):,}행: 자료가 충분해 다른 분기를 합치지 않음"
        return own
    others = pooled_quarters(quarter, datasets.available_quarters(), history)
    if not others:
        return own
    parts = [*(_one_quarter(q) for q in others), own]
    out = pd.concat(parts, ignore_index=True)
    later = [q for q in others if q > quarter]
    note = (f"학습 고객의 {', '.join(others)} 행을 함께 학습 (첫 분기라 이후 분기 사용; 시간 검증은 이 분기만으로 학습)"
            if later else f"학습 고객의 직전 분기 {', '.join(others)} 행을 함께 학습")
    out.attrs.update(n_dropped=sum(p.attrs["n_dropped"] for p in parts), quarter=quarter,
                     quarters=[*others, quarter], pooled=True, history_note=note)
    return out


def current_rows(frame: pd.DataFrame, quarter: str) -> pd.DataFrame:
    """The rows of ``quarter`` in a frame that may hold other quarters (``history``)."""
    return frame[frame["BAS_YH"].astype(str) == quarter]


def train_test_rows(frame: pd.DataFrame, roles: Sequence[str], quarter: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training rows (every quarter in the frame) and test rows (``quarter`` only).

    ``roles`` come from :func:`fipro.split.customer_roles`, a hash of ``SEQ``: a
    customer is on the same side in every quarter, so pooling quarters leaks nothing.
    """
    roles = np.asarray(roles).astype(str)
    in_quarter = (frame["BAS_YH"].astype(str) == quarter).to_numpy()
    return frame[roles != "test"], frame[(roles == "test") & in_quarter]


def sample_training_rows(train: pd.DataFrame, max_rows: Optional[int], *,
                         seed: Optional[int] = None) -> pd.DataFrame:
    """At most ``max_rows`` training rows, whole customers, stratified by life stage.

    Each stage keeps the same share of its customers (a seeded hash of ``SEQ`` decides
    which, :func:`fipro.split.stratified_customer_positions`), so class proportions
    hold; ``None`` or a larger limit returns all rows. ``seed``: ``None`` reads
    ``config.RANDOM_SEED``.
    """
    if max_rows is None or len(train) <= max_rows:
        return train
    # + 31: the training sample's hash apart from the split's (which uses the seed itself)
    return train.iloc[split.stratified_customer_positions(train, [TARGET], max_rows, split.resolve_seed(seed) + 31)]


def class_distribution(frame: pd.DataFrame, column: str = TARGET) -> pd.DataFrame:
    """Count and share per life stage (contract order, Korean names)."""
    counts = frame[column].value_counts().reindex(CODES, fill_value=0)
    counts = counts[counts > 0]
    return pd.DataFrame({"라이프스테이지": [CODE_NAMES[c] for c in counts.index], "고객 수": counts.to_numpy(),
                         "비중": (counts / counts.sum()).to_numpy()}, index=pd.Index(counts.index, name="code"))
