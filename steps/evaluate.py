"""Score the test rows with a trained model: ROC AUC and accuracy at 0.5."""

from __future__ import annotations

from typing import Any, TypedDict

import polars as pl

THRESHOLD = 0.5


class Metrics(TypedDict):
    """What the pipeline's AUC gate and the registry record read."""

    auc: float
    accuracy: float
    n_test: int


def evaluate(model: dict[str, Any], test_df: pl.DataFrame) -> Metrics:
    """Return the model's metrics on ``test_df`` (the label column is the model's)."""
    scored = test_df.select(
        score=_probability(model), label=pl.col(model["label"]).cast(pl.Int8)
    )
    predicted = (pl.col("score") >= THRESHOLD).cast(pl.Int8)
    accuracy = scored.select((predicted == pl.col("label")).mean()).item()
    return Metrics(
        auc=roc_auc(scored["score"], scored["label"]),
        accuracy=float(accuracy),
        n_test=scored.height,
    )


def roc_auc(scores: pl.Series, labels: pl.Series) -> float:
    """The exact area under the ROC curve for 0/1 ``labels``.

    This is the Mann-Whitney statistic: the chance that a random positive
    scores above a random negative. Average ranks count a tie as half a win,
    which is what the trapezoids of the ROC curve give at a tied threshold.
    """
    frame = pl.DataFrame({"score": scores, "label": labels.cast(pl.Int8)})
    n_pos = int(frame["label"].sum())
    n_neg = frame.height - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            f"AUC needs both classes; the labels have {n_pos} positives"
            f" and {n_neg} negatives"
        )

    ranks = pl.col("score").rank("average")
    positive_rank_sum = frame.select(ranks.filter(pl.col("label") == 1).sum()).item()
    return (positive_rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _probability(model: dict[str, Any]) -> pl.Expr:
    # The same formula as in steps/train.py, repeated rather than imported: each
    # step is pickled by value on its own and must not need its siblings.
    logit = pl.lit(model["bias"]) + pl.sum_horizontal(
        pl.col(name) * weight
        for name, weight in zip(model["features"], model["weights"], strict=True)
    )
    return 1.0 / (1.0 + (-logit).exp())
