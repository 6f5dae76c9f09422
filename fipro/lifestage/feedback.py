"""Feedback step: user corrections of the life stage fold back into training.

Corrections live in ``data/feedback/lifestage_feedback.csv`` (``SEQ, quarter,
corrected_code, time, note``). Each row is checked against the codes and the data;
valid ones replace labels before training, invalid ones are reported with a Korean
reason and skipped, and of several corrections of one customer-quarter the latest wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from fipro import datasets
from fipro.evaluation import metrics
from fipro.lifestage.data import CODE_NAMES, CODES, MODEL_NAME, TARGET
from fipro.lifestage.estimator import LifeStageClassifier, fit_lifestage
from fipro.privacy import pseudonyms

FEEDBACK_COLUMNS = ("SEQ", "quarter", "corrected_code", "time", "note")


def feedback_path() -> Path:
    """``data/feedback/lifestage_feedback.csv``."""
    return datasets.feedback_path(MODEL_NAME)


def read_feedback(path: Optional[Path] = None) -> pd.DataFrame:
    """User corrections as strings (``SEQ, quarter, corrected_code, time, note``); empty if no file."""
    path = Path(path) if path is not None else feedback_path()
    if not path.exists():
        return pd.DataFrame(columns=list(FEEDBACK_COLUMNS), dtype=object)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in FEEDBACK_COLUMNS if c not in frame and c != "note"]
    if missing:
        raise ValueError(f"{path.name} lacks the columns {missing}; expected {list(FEEDBACK_COLUMNS)}")
    if "note" not in frame:
        frame["note"] = ""
    return frame[list(FEEDBACK_COLUMNS)]


def _normalise_code(value: str) -> Optional[str]:
    text = str(value).strip()
    if text.upper() in CODES:
        return text.upper()
    by_name = {v: k for k, v in CODE_NAMES.items()}
    return by_name.get(text)


def validate_feedback(feedback: pd.DataFrame, frame: pd.DataFrame,
                      known_quarters: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """Check every correction against the codes and the data; one status per row.

    Parameters
    ----------
    feedback : DataFrame
        :func:`read_feedback` output.
    frame : DataFrame
        Rows the corrections may apply to (``SEQ``, ``BAS_YH``), usually one quarter.
    known_quarters : sequence, optional
        Quarters that exist in the data (default: the quarters in ``frame``). A valid
        correction for a known quarter outside ``frame`` gets status ``other_quarter``.

    Returns
    -------
    DataFrame
        The feedback rows plus ``code`` (normalised), ``parsed_time``, ``status`` in
        ``{"applied", "superseded", "other_quarter", "invalid"}`` and ``reason``
        (Korean, empty unless invalid or superseded).
    """
    fb = feedback.copy().reset_index(drop=True)
    for c in FEEDBACK_COLUMNS:
        if c not in fb:
            fb[c] = ""
    fb = fb.astype({c: str for c in FEEDBACK_COLUMNS})
    fb["SEQ"] = fb["SEQ"].str.strip()
    fb["quarter"] = fb["quarter"].str.strip().str.lower()
    fb["code"] = fb["corrected_code"].map(_normalise_code)
    fb["parsed_time"] = pd.to_datetime(fb["time"].str.strip(), format="ISO8601", errors="coerce")
    in_frame = set(frame["BAS_YH"].astype(str).unique())
    quarters = set(known_quarters) if known_quarters is not None else in_frame
    pairs = set(zip(frame["BAS_YH"].astype(str), frame["SEQ"].astype(str)))
    reasons = []
    for r in fb.itertuples():
        if pd.isna(r.code):
            reasons.append(f"알 수 없는 라이프스테이지 코드 '{r.corrected_code}'")
        elif pd.isna(r.parsed_time):
            reasons.append(f"시간 형식 오류 '{r.time}'")
        elif r.quarter not in quarters and r.quarter not in in_frame:
            reasons.append(f"알 수 없는 분기 '{r.quarter}'")
        elif r.quarter in in_frame and (r.quarter, r.SEQ) not in pairs:
            reasons.append("해당 분기에 없는 고객")
        else:
            reasons.append("")
    fb["reason"] = reasons
    fb["status"] = np.where(fb["reason"] != "", "invalid", np.where(fb["quarter"].isin(in_frame), "applied",
                                                                     "other_quarter"))
    # several corrections of one customer-quarter: the latest time wins
    ok = fb["status"] == "applied"
    latest = fb[ok].sort_values("parsed_time", kind="stable").drop_duplicates(["SEQ", "quarter"], keep="last").index
    superseded = ok & ~fb.index.isin(latest)
    fb.loc[superseded, "status"] = "superseded"
    fb.loc[superseded, "reason"] = "같은 고객·분기의 더 최근 정정으로 대체됨"
    return fb


def apply_feedback(frame: pd.DataFrame, feedback: pd.DataFrame,
                   known_quarters: Optional[Sequence[str]] = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replace labels by valid user corrections; the input frame is not modified.

    Returns
    -------
    (DataFrame, DataFrame)
        The frame with corrected ``LIFE_STAGE`` and a boolean ``label_corrected`` column,
        and the :func:`validate_feedback` report.
    """
    report = validate_feedback(feedback, frame, known_quarters)
    out = frame.copy()
    out["label_corrected"] = False
    applied = report[report["status"] == "applied"]
    if len(applied):
        key = pd.MultiIndex.from_arrays([out["BAS_YH"].astype(str), out["SEQ"].astype(str)])
        fix = pd.Series(applied["code"].to_numpy(), index=pd.MultiIndex.from_arrays([applied["quarter"], applied["SEQ"]]))
        new = fix.reindex(key).to_numpy()
        hit = pd.notna(new)
        out.loc[hit, TARGET] = new[hit]
        out.loc[hit, "label_corrected"] = True
    return out, report


def feedback_summary(report: pd.DataFrame, corrected: Optional[pd.DataFrame] = None,
                     original: Optional[pd.DataFrame] = None) -> dict:
    """Counts by status (and how many labels actually changed, if frames are given)."""
    counts = report["status"].value_counts() if len(report) else pd.Series(dtype=int)
    out = {"n_feedback": int(len(report)), "n_applied": int(counts.get("applied", 0)),
           "n_invalid": int(counts.get("invalid", 0)), "n_superseded": int(counts.get("superseded", 0)),
           "n_other_quarter": int(counts.get("other_quarter", 0))}
    if corrected is not None and original is not None:
        out["n_labels_changed"] = int((corrected[TARGET].to_numpy() != original[TARGET].to_numpy()).sum())
    return out


def feedback_report_table(report: pd.DataFrame) -> pd.DataFrame:
    """The report for display: pseudonymised customers, status and reason (no raw SEQ)."""
    status_ko = {"applied": "반영", "invalid": "무효(건너뜀)", "superseded": "대체됨", "other_quarter": "다른 분기"}
    return pd.DataFrame({"고객": pseudonyms(report["SEQ"]), "분기": report["quarter"].to_numpy(),
                         "정정 코드": report["corrected_code"].to_numpy(),
                         "상태": report["status"].map(status_ko).to_numpy(), "사유": report["reason"].to_numpy()})


def describe_feedback(summary: Mapping[str, int], effect: Optional[Mapping[str, float]] = None) -> str:
    if summary["n_feedback"] == 0:
        return "사용자 정정 파일이 없거나 비어 있어 원래 라벨로 학습했습니다."
    text = (f"사용자 정정 {summary['n_feedback']}건 중 {summary['n_applied']}건을 반영했고, "
            f"{summary['n_invalid']}건은 무효라 건너뛰었습니다")
    if summary.get("n_superseded"):
        text += f" (같은 고객·분기의 이전 정정 {summary['n_superseded']}건은 최신 정정으로 대체)"
    if summary.get("n_other_quarter"):
        text += f"; 다른 분기 정정 {summary['n_other_quarter']}건은 그 분기 실행에서 반영됩니다"
    text += "."
    if effect:
        text += (f" 정정 반영 전후 매크로 F1은 {effect['macro_f1_before']:.3f} → {effect['macro_f1_after']:.3f}, "
                 f"정확도는 {effect['accuracy_before']:.1%} → {effect['accuracy_after']:.1%}입니다.")
    return text


def feedback_effect(train_original: pd.DataFrame, train_corrected: pd.DataFrame, test: pd.DataFrame,
                    model_corrected: LifeStageClassifier, params: Mapping[str, Any],
                    seed: Optional[int] = None) -> Optional[dict]:
    """How held-out metrics moved when corrections entered training (``None`` if none did).

    Fits a second model on the same training rows with their uncorrected labels and
    scores both on the same (corrected) held-out labels; ``seed`` of that model (``None``:
    ``config.RANDOM_SEED``).
    """
    if not bool(train_corrected.get("label_corrected", pd.Series(False)).any()):
        return None
    before = fit_lifestage(train_original, params, calibration=model_corrected.calibration, seed=seed,
                           columns=list(model_corrected.feature_names_in_))
    y = test[TARGET].to_numpy(dtype=str)
    labels = [c for c in CODES if c in set(y)]
    X = test[list(model_corrected.feature_names_in_)]
    b = metrics.classification_summary(y, before.predict(X), labels)
    a = metrics.classification_summary(y, model_corrected.predict(X), labels)
    return {"macro_f1_before": b["macro_f1"], "macro_f1_after": a["macro_f1"],
            "accuracy_before": b["accuracy"], "accuracy_after": a["accuracy"],
            "n_train_corrected": int(train_corrected["label_corrected"].sum())}


