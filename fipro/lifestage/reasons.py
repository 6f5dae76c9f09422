"""Reasons step: Korean feature names, SHAP importance and a reason sentence per customer."""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import pandas as pd
from sklearn.utils.validation import check_is_fitted

from fipro import config, contract, datasets, features, split
from fipro.evaluation import baselines, explainability, registry
from fipro.lifestage.data import CODE_NAMES, MODEL_NAME, TARGET, load_inputs
from fipro.lifestage.estimator import LifeStageClassifier
from fipro.privacy import pseudonyms


def feature_label_ko(name: str) -> str:
    """A short Korean name of a model feature, for SHAP charts and reason sentences.

    One source with the feature contract (:func:`fipro.features.feature_label_ko`).

    Examples
    --------
    >>> feature_label_ko("share_ACDM_AM"), feature_label_ko("qoq_log_TOT_USE_AM")
    ('학원 지출 비중', '총이용금액 전분기 대비 증감')
    """
    return features.feature_label_ko(name)


def feature_labels_ko(names: Sequence[str]) -> dict[str, str]:
    return {n: feature_label_ko(n) for n in names}


def _age_phrase(v):
    if pd.isna(v):
        return "연령 미상"
    return contract.AGE_CODES.get(str(int(v)), f"{int(v)}세대")


def _binary_phrase(yes: str, no: Optional[str]):
    return lambda v: None if pd.isna(v) else (yes if v >= 0.5 else no)


def reason_phrases(names: Sequence[str]) -> dict:
    """Noun phrases for coded features whose value reads better as a word."""
    phrases: dict = {"age_band": _age_phrase, "sex_female": _binary_phrase("여성", "남성"),
                     "digital_active": _binary_phrase("디지털채널 이용 고객", "디지털채널 미이용 고객"),
                     "digital_registered": _binary_phrase("디지털채널 가입 고객", "디지털채널 미가입 고객"),
                     "no_prev_quarter": _binary_phrase("이번 분기 신규 고객", "기존 고객"),
                     "zero_total": _binary_phrase("이용 실적이 없는 고객", None),
                     "age_unknown": _binary_phrase("연령 미상 고객", None)}
    for n in names:
        if n.startswith("region_"):
            sido = feature_label_ko(n).removesuffix(" 거주")
            phrases[n] = _binary_phrase(f"{sido} 거주 고객", f"{sido} 외 지역 거주 고객")
    return {k: v for k, v in phrases.items() if k in set(names)}


def _model_frame(model: LifeStageClassifier, frame: pd.DataFrame) -> pd.DataFrame:
    """The model's features of ``frame`` as floats, with names (SHAP needs them)."""
    A = model.transform_input(frame)
    return pd.DataFrame(A, columns=list(model.feature_names_in_), index=frame.index)


def shap_explanation(model: LifeStageClassifier, X: pd.DataFrame) -> explainability.ShapExplanation:
    """SHAP values of the booster on ``X``, classes named by the model's labels.

    The booster learns class indices; the explanation speaks in ``model.classes_``.
    """
    check_is_fitted(model, "estimator_")
    exp = explainability.shap_values(model.estimator_, X)
    labels = [model.classes_[int(i)] for i in exp.classes]
    return dataclasses.replace(exp, classes=labels)


def explain(model: LifeStageClassifier, frame: pd.DataFrame, *, max_rows: int = 200,
            seed: Optional[int] = None) -> explainability.ShapExplanation:
    """SHAP values of the booster (raw log-odds per class) on a seeded sample of rows."""
    seed = config.RANDOM_SEED if seed is None else seed
    rows = frame.iloc[split.sample_positions(len(frame), max_rows, seed)]
    return shap_explanation(model, _model_frame(model, rows))


def shap_importance(explanation: explainability.ShapExplanation) -> pd.DataFrame:
    """Global SHAP importance with Korean feature and class names."""
    return explainability.global_importance(explanation, feature_labels_ko(explanation.feature_names), CODE_NAMES)


def predict(model: LifeStageClassifier, data, *, reasons: bool = True, k: int = 3) -> pd.DataFrame:
    """Label, calibrated probabilities and Korean reasons for a frame or one customer.

    Parameters
    ----------
    model : fitted LifeStageClassifier
    data : DataFrame or Series
        Rows with the model features (a Series is one customer). ``SEQ``/``BAS_YH`` are
        carried over when present.
    reasons : bool
        Add ``reasons`` (top feature names) and ``sentence`` (Korean) from SHAP values.
    k : int
        Number of reasons.

    Returns
    -------
    DataFrame
        One row per input row, same index: keys if present, ``predicted``,
        ``predicted_ko``, ``probability`` (of the predicted class), ``proba_<CODE>`` per
        class (summing to 1), and optionally ``reasons`` and ``sentence``.
    """
    frame = data.to_frame().T if isinstance(data, pd.Series) else data
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("data must be a DataFrame or a Series")
    X = _model_frame(model, frame)
    proba = model.predict_proba(X)
    keys = frame[[k for k in ("BAS_YH", "SEQ") if k in frame]].astype(str)
    out = baselines.probability_frame(proba, model.classes_, keys)
    pred = out["predicted"].to_numpy()
    out.insert(out.columns.get_loc("predicted") + 1, "predicted_ko", [CODE_NAMES.get(c, c) for c in pred])
    if reasons and len(frame):
        exp = shap_explanation(model, X)
        names = list(model.feature_names_in_)
        why = explainability.explain_rows(exp, pred, model.feature_reference_, k=k,
                                          feature_labels=feature_labels_ko(names), class_names=CODE_NAMES,
                                          probabilities=out["probability"].to_numpy(),
                                          phrases=reason_phrases(names))
        out["reasons"] = why["reasons"].to_numpy()
        out["sentence"] = why["sentence"].to_numpy()
    return out


def predict_customer(seq: str, quarter: str, model: Optional[LifeStageClassifier] = None, k: int = 3) -> pd.Series:
    """One customer's prediction with reasons (loads the quarter's features and, if not
    given, the registered model of the quarter)."""
    if model is None:
        model = registry.load_model(datasets.model_dir(quarter, MODEL_NAME))
    frame = load_inputs(quarter)
    rows = frame[frame["SEQ"] == str(seq)]
    if rows.empty:
        raise KeyError(f"customer not found in {quarter}")
    return predict(model, rows, k=k).iloc[0]


def example_reasons(model: LifeStageClassifier, frame: pd.DataFrame, n: int = 5, seed: Optional[int] = None,
                    k: int = 3) -> pd.DataFrame:
    """A few customers' predictions with reasons, pseudonymised for display (no raw SEQ)."""
    seed = config.RANDOM_SEED if seed is None else seed
    rows = frame.iloc[split.sample_positions(len(frame), n, seed)]
    pred = predict(model, rows, k=k)
    return pd.DataFrame({
        "고객": pseudonyms(rows["SEQ"]),
        "실제": [CODE_NAMES.get(c, c) for c in rows[TARGET]],
        "예측": pred["predicted_ko"].to_numpy(),
        "확률": pred["probability"].round(3).to_numpy(),
        "설명": pred["sentence"].to_numpy(),
    })


def customer_reasons(run, seqs: Sequence[str], k: int = 3) -> pd.Series:
    """The reason sentence of each customer of ``seqs`` in ``run``'s quarter (index ``SEQ`` in that
    order): the predicted stage, its probability and the ``k`` inputs that pushed it most (SHAP,
    computed for these customers only); NaN for a customer not in the quarter."""
    rows = run.data[(run.data["BAS_YH"].astype(str) == run.quarter) & run.data["SEQ"].isin(list(seqs))]
    index = pd.Index(list(seqs), name="SEQ")
    if rows.empty:
        return pd.Series(pd.NA, index=index, name="reason", dtype=object)
    out = predict(run.model, rows, reasons=True, k=k)
    return pd.Series(out["sentence"].to_numpy(), index=rows["SEQ"].astype(str).to_numpy()).reindex(index).rename("reason")
