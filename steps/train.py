"""Fit a logistic regression to the churn features by batch gradient descent.

The example image carries polars and nothing else (see steps/requirements.txt),
so the model is a handful of Python floats and every pass over the data is one
polars query that returns the loss and the whole gradient at once.
"""

from __future__ import annotations

from typing import Any

import polars as pl

LABEL = "churned"
# The features arrive standardised (see steps/preprocess.py), so the loss is well
# conditioned enough for a large step: on the example data ten epochs at 1.0 come
# within 0.03 of the best log loss, where 0.01 barely leaves the starting point.
LEARNING_RATE = 1.0
# Keeps log() finite when a prediction saturates at exactly 0 or 1.
EPSILON = 1e-12


def train(train_df: pl.DataFrame, epochs: int = 10) -> dict[str, Any]:
    """Return a picklable model: features, weights, bias and the loss per epoch.

    Every column other than ``churned`` is a feature, in frame order.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")

    features = [name for name in train_df.columns if name != LABEL]
    if not features:
        raise ValueError(f"train_df has no feature columns besides {LABEL!r}")

    weights = [0.0] * len(features)
    bias = 0.0
    losses: list[float] = []
    for _ in range(epochs):
        loss, gradient, bias_gradient = _loss_and_gradient(
            train_df, features, weights, bias
        )
        losses.append(loss)
        pairs = zip(weights, gradient, strict=True)
        weights = [weight - LEARNING_RATE * slope for weight, slope in pairs]
        bias -= LEARNING_RATE * bias_gradient

    final_loss = _loss_and_gradient(train_df, features, weights, bias)[0]
    return {
        "kind": "logistic_regression",
        "label": LABEL,
        "features": features,
        "weights": weights,
        "bias": bias,
        "epochs": epochs,
        "learning_rate": LEARNING_RATE,
        "loss_history": losses,
        "train_loss": final_loss,
    }


def _loss_and_gradient(
    df: pl.DataFrame, features: list[str], weights: list[float], bias: float
) -> tuple[float, list[float], float]:
    logit = pl.lit(bias) + pl.sum_horizontal(
        pl.col(name) * weight for name, weight in zip(features, weights, strict=True)
    )
    probability = (1.0 / (1.0 + (-logit).exp())).clip(EPSILON, 1.0 - EPSILON)
    label = pl.col(LABEL).cast(pl.Float64)
    error = probability - label
    log_loss = -(label * probability.log() + (1.0 - label) * (1.0 - probability).log())

    # Positional aliases: a feature may be called "loss" without clashing.
    row = df.select(
        log_loss.mean().alias("_loss"),
        error.mean().alias("_bias"),
        *(
            (error * pl.col(name)).mean().alias(f"_w{index}")
            for index, name in enumerate(features)
        ),
    ).row(0)
    return row[0], list(row[2:]), row[1]
