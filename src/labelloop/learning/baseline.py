"""The built-in baseline text classifier: TF-IDF features and a logistic regression (scikit-learn).

A team without its own model still gets out-of-sample probabilities from it (for
label-error detection now, for active learning later). Pure: texts and labels in,
arrays out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline
from threadpoolctl import threadpool_limits

from labelloop.errors import InvalidInputError

__all__ = ["MODEL_NAME", "cross_val_probs", "text_classifier"]

#: How the baseline is named where its output is recorded (lineage, quality runs).
MODEL_NAME = "baseline:tfidf-logreg"


def text_classifier(seed: int = 0) -> Pipeline:
    """An unfitted TF-IDF (words, sublinear tf) + multinomial logistic regression.

    The settings the label-error bench measured best on BBC News (``bench/label_errors_bench.py``:
    recall .919 at 10% planted noise; word pairs were 5x slower and no better).
    """
    return make_pipeline(
        TfidfVectorizer(sublinear_tf=True, min_df=2, dtype=np.float32),
        LogisticRegression(C=10.0, max_iter=2000, random_state=seed),
    )


def cross_val_probs(
    texts: Sequence[str], labels: Sequence[int], n_classes: int, *, folds: int = 5, seed: int = 0
) -> npt.NDArray[np.float64]:
    """Out-of-sample class probabilities (N x ``n_classes``) by stratified ``folds``-fold cross-validation.

    ``labels`` are class indices 0..n_classes-1; each item's row comes from a model
    that never saw it. Classes absent from the labels get probability 0. Raises
    :class:`InvalidInputError` when there are too few items per class for ``folds``
    (at least two folds are needed: every present class needs two items).
    """
    y = np.asarray(labels, dtype=np.int64)
    if len(texts) != len(y):
        raise InvalidInputError("texts and labels differ in length")
    present, counts = np.unique(y, return_counts=True)
    if len(present) < 2:
        raise InvalidInputError("the baseline needs final labels of at least two classes")
    folds = min(folds, int(counts.min()))
    if folds < 2:
        raise InvalidInputError("the baseline needs at least two labeled items of every class it has seen")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    # one BLAS thread: on shared cores a multi-threaded fit was measured 10x slower
    try:
        with threadpool_limits(1):
            probs = cross_val_predict(text_classifier(seed), list(texts), y, cv=splitter, method="predict_proba")
    except ValueError as exc:  # e.g. an empty vocabulary: texts too short or all distinct words
        raise InvalidInputError(f"the baseline model cannot learn from these texts: {exc}") from None
    out = np.zeros((len(y), n_classes), dtype=np.float64)
    out[:, present] = probs
    return out
