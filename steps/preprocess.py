"""Clean the raw churn CSV into numeric features and split it into train and test.

Every statistic used to fill or scale a column (medians, means, standard
deviations, the list of payment methods) is taken from the training rows only,
so the test rows stay as unseen as next month's customers would be.
"""

from __future__ import annotations

import random

import polars as pl

LABEL = "churned"
SEED = 7
TEST_FRACTION = 0.2
NUMERIC = ("tenure_months", "monthly_charges", "total_charges", "support_calls")
# A contract is a commitment length, so its order carries meaning: encode it as a
# rank rather than one column per value.
CONTRACT_RANK = {"month-to-month": 0, "one-year": 1, "two-year": 2}
YES_NO = {"yes": 1, "no": 0}
LABEL_VALUES = {"0": 0, "1": 1}
CATEGORICAL = "payment_method"
UNKNOWN = "unknown"


def preprocess(raw_uri: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read ``raw_uri`` and return ``(train_df, test_df)`` ready for ``train``.

    Both frames hold Float64 features and the integer ``churned`` label; the
    split is stratified by label and the same on every run.
    """
    # Polars reads s3:// URIs itself (credentials from the job's role), so local
    # and cloud runs share this line. Everything is read as text so that a stray
    # " " in a numeric column becomes a null to fill, not a parse error.
    raw = pl.read_csv(raw_uri, infer_schema=False)
    train_raw, test_raw = _split(_cast_types(raw))
    features = _feature_exprs(train_raw)
    label = pl.col(LABEL)
    return train_raw.select(*features, label), test_raw.select(*features, label)


def _cast_types(raw: pl.DataFrame) -> pl.DataFrame:
    numbers = [_text(name).cast(pl.Float64, strict=False) for name in NUMERIC]
    return raw.select(
        *numbers,
        _text("contract").replace_strict(
            CONTRACT_RANK, default=None, return_dtype=pl.Float64
        ),
        _text("has_internet").replace_strict(
            YES_NO, default=None, return_dtype=pl.Float64
        ),
        _text(CATEGORICAL).fill_null(UNKNOWN),
        # A row without a label cannot teach or test anything, but a label other
        # than 0 or 1 is a broken export: no default, so replace_strict raises.
        _text(LABEL).replace_strict(LABEL_VALUES, return_dtype=pl.Int8),
    ).drop_nulls(LABEL)


def _text(name: str) -> pl.Expr:
    # Exports pad and capitalise freely; a blank cell means "not recorded".
    cleaned = pl.col(name).str.strip_chars().str.to_lowercase()
    return pl.when(cleaned != "").then(cleaned).alias(name)


def _split(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    # Python's seeded shuffle is stable across versions and platforms, unlike
    # a frame's hash or sample order; stratifying keeps the churn rate of both
    # halves equal, which matters for an 80-row test set.
    rng = random.Random(SEED)
    test_rows: list[int] = []
    for value in (0, 1):
        rows = df.with_row_index().filter(pl.col(LABEL) == value)["index"].to_list()
        rng.shuffle(rows)
        test_rows += rows[: round(len(rows) * TEST_FRACTION)]

    is_test = pl.int_range(pl.len()).is_in(test_rows)
    return df.filter(~is_test), df.filter(is_test)


def _feature_exprs(train: pl.DataFrame) -> list[pl.Expr]:
    scaled = [
        _standardise(train, name) for name in (*NUMERIC, "contract", "has_internet")
    ]
    categories = sorted(set(train[CATEGORICAL].to_list()))
    # An unseen value in the test rows gets zeros in every column, the same as
    # a model that has no opinion about it.
    one_hot = [
        (pl.col(CATEGORICAL) == value).cast(pl.Float64).alias(f"{CATEGORICAL}_{value}")
        for value in categories
    ]
    return scaled + one_hot


def _standardise(train: pl.DataFrame, name: str) -> pl.Expr:
    column = train[name]
    median = column.median()
    fill = 0.0 if median is None else float(median)
    filled = column.fill_null(fill)

    mean = filled.mean() or 0.0
    # A constant column would divide by zero; leave it centred and unscaled.
    std = filled.std() or 1.0
    return ((pl.col(name).fill_null(fill) - mean) / std).alias(name)
