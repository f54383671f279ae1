"""Honest metrics for a trained classifier: every number comes from held-out predictions.

:func:`cv_predict` runs stratified k-fold cross-validation (seeded) and returns, for every training example,
the probability given by the model fitted on the *other* folds, so no example is ever scored by a model that saw
it. :func:`evaluate` turns those held-out probabilities into ROC AUC and average precision with a bootstrap 95 %
interval, the precision/recall curve, calibration bins, the confusion at a threshold and the worst false
positives/negatives (ids to read), plus a plain warning when the labels are too few to trust.

AUC and AP are computed here from one sort (ties count half, as in scikit-learn's ``roc_auc_score`` and
``average_precision_score``, which the tests compare against); the bootstrap reweights the same sorted groups
with multinomial counts, so 200 resamples of 100k predictions take about a second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from app.errors import LearnError

#: below this many examples of a class the metrics come with a warning
MIN_PER_CLASS = 20
N_BOOT = 200
#: false positives / negatives listed
N_ERRORS = 20
CURVE_POINTS = 50
CAL_BINS = 10


def folds_for(y: np.ndarray, folds: int) -> int:
    """The number of folds usable with these labels (at most the smaller class size); one line when < 2."""
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if min(n_pos, n_neg) < 2:
        raise LearnError(
            f"cannot cross-validate with {n_pos} positive and {n_neg} negative examples: "
            "label at least 2 of each class (20 or more for metrics worth trusting)"
        )
    return max(2, min(int(folds), n_pos, n_neg))


def cv_predict(
    y: np.ndarray,
    fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    folds: int = 5,
    seed: int = 0,
    progress: Any = None,
) -> np.ndarray:
    """Held-out P(positive) for every example: ``fit_predict(train_idx, test_idx)`` fits on ``train_idx`` only
    and returns probabilities for ``test_idx``. Stratified, shuffled with ``seed``."""
    k = folds_for(y, folds)
    out = np.full(len(y), np.nan)
    fold = stratified_folds(y, k, seed=seed)
    for i in range(k):
        te, tr = np.flatnonzero(fold == i), np.flatnonzero(fold != i)
        out[te] = fit_predict(tr, te)
        if progress and getattr(progress, "accepts_unit", False):
            progress(i + 1, k, "cross-validation", unit="fold")
        elif progress:
            progress(i + 1, k, "cross-validation")
    return out


def stratified_folds(y: np.ndarray, k: int, *, seed: int = 0) -> np.ndarray:
    """The fold (``0..k-1``) of every example: each class shuffled with ``seed`` and dealt round-robin, so every
    fold holds ``1/k`` of each class (within one)."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=np.int64)
    for c in (0, 1):
        idx = np.flatnonzero(y == c)
        fold[rng.permutation(idx)] = np.arange(len(idx)) % k
    return fold


def _groups(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order by descending score and the tie group of each example in that order."""
    order = np.argsort(-p, kind="stable")
    sp = p[order]
    grp = np.concatenate([[0], np.cumsum(sp[1:] != sp[:-1])])
    return order, grp


def _auc_ap(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """AUC and AP from per-group positive and negative weights, groups in descending score order."""
    tp, fp = np.cumsum(pos), np.cumsum(neg)
    total_p, total_n = tp[-1], fp[-1]
    if total_p <= 0 or total_n <= 0:
        return float("nan"), float("nan")
    # a positive outranks every negative of a later (lower) group, and ties with half of its own group's
    neg_below = total_n - fp
    auc = float((pos * (neg_below + 0.5 * neg)).sum() / (total_p * total_n))
    prec = tp / np.maximum(tp + fp, 1e-12)
    ap = float((pos / total_p * prec).sum())
    return auc, ap


def auc_ap(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """ROC AUC and average precision of scores ``p`` for labels ``y`` (0/1)."""
    order, grp = _groups(np.asarray(p, dtype=float))
    yo = np.asarray(y, dtype=float)[order]
    return _auc_ap(np.bincount(grp, yo), np.bincount(grp, 1 - yo))


def evaluate(
    y: np.ndarray,
    p: np.ndarray,
    *,
    ids: list[str],
    threshold: float = 0.5,
    seed: int = 0,
    n_boot: int = N_BOOT,
) -> dict[str, Any]:
    """Every metric of held-out probabilities ``p`` for labels ``y`` (see the module docstring)."""
    y = np.asarray(y, dtype=np.int8)
    p = np.asarray(p, dtype=float)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    order, grp = _groups(p)
    yo = y[order].astype(float)
    pos, neg = np.bincount(grp, yo), np.bincount(grp, 1 - yo)
    auc, ap = _auc_ap(pos, neg)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        c = np.bincount(rng.integers(0, len(y), len(y)), minlength=len(y))[order].astype(float)
        boots.append(_auc_ap(np.bincount(grp, c * yo), np.bincount(grp, c * (1 - yo))))
    b = np.array([x for x in boots if not np.isnan(x[0])]) if boots else np.zeros((0, 2))

    def ci(j: int) -> list[float] | None:
        return [round(float(np.percentile(b[:, j], q)), 4) for q in (2.5, 97.5)] if len(b) else None

    out: dict[str, Any] = {
        "n_positive": n_pos, "n_negative": n_neg, "auc": round(auc, 4), "auc_ci95": ci(0),
        "ap": round(ap, 4), "ap_ci95": ci(1), "base_rate": round(n_pos / len(y), 4), "threshold": threshold,
        "pr_curve": _pr_curve(pos, neg, p[order], grp), "calibration": _calibration(y, p),
        **_confusion(y, p, threshold, ids),
    }  # fmt: skip
    if min(n_pos, n_neg) < MIN_PER_CLASS:
        out["warning"] = (
            f"only {n_pos} positive and {n_neg} negative examples: too few to trust these metrics "
            f"(label at least {MIN_PER_CLASS} of each class)"
        )
    return out


def _pr_curve(pos: np.ndarray, neg: np.ndarray, sorted_p: np.ndarray, grp: np.ndarray) -> list[dict[str, float]]:
    """Up to :data:`CURVE_POINTS` (threshold, precision, recall) points, evenly spread over recall."""
    tp, fp = np.cumsum(pos), np.cumsum(neg)
    recall = tp / max(tp[-1], 1e-12)
    precision = tp / np.maximum(tp + fp, 1e-12)
    thr = sorted_p[np.searchsorted(grp, np.arange(len(pos)))]  # the score of each group
    keep = np.unique(np.searchsorted(recall, np.linspace(0, 1, CURVE_POINTS), side="left").clip(0, len(pos) - 1))
    return [{"threshold": round(float(thr[i]), 4), "precision": round(float(precision[i]), 4),
             "recall": round(float(recall[i]), 4)} for i in keep]  # fmt: skip


def _calibration(y: np.ndarray, p: np.ndarray) -> list[dict[str, float]]:
    """Equal-width bins of predicted probability: mean prediction, observed positive rate, count."""
    b = np.minimum((p * CAL_BINS).astype(int), CAL_BINS - 1)
    out = []
    for k in range(CAL_BINS):
        m = b == k
        if m.any():
            out.append({"bin": [k / CAL_BINS, (k + 1) / CAL_BINS], "predicted": round(float(p[m].mean()), 4),
                        "observed": round(float(y[m].mean()), 4), "count": int(m.sum())})  # fmt: skip
    return out


def _confusion(y: np.ndarray, p: np.ndarray, threshold: float, ids: list[str]) -> dict[str, Any]:
    pred = p >= threshold
    tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
    fn, tn = int((~pred & (y == 1)).sum()), int((~pred & (y == 0)).sum())
    fp_idx = np.flatnonzero(pred & (y == 0))
    fn_idx = np.flatnonzero(~pred & (y == 1))
    fp_idx = fp_idx[np.argsort(-p[fp_idx], kind="stable")][:N_ERRORS]
    fn_idx = fn_idx[np.argsort(p[fn_idx], kind="stable")][:N_ERRORS]
    return {
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn,
                      "precision": round(tp / (tp + fp), 4) if tp + fp else None,
                      "recall": round(tp / (tp + fn), 4) if tp + fn else None},
        "false_positives": [{"id": ids[i], "p": round(float(p[i]), 4)} for i in fp_idx],
        "false_negatives": [{"id": ids[i], "p": round(float(p[i]), 4)} for i in fn_idx],
    }  # fmt: skip
