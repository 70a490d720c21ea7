"""The churn example steps (steps/), run end to end on the committed data."""

from __future__ import annotations

import json
import pickle
import time
from itertools import pairwise, product
from pathlib import Path

import polars as pl
import pytest
from steps.evaluate import evaluate, roc_auc
from steps.make_data import make_rows, write_csv
from steps.preprocess import preprocess
from steps.register import register
from steps.train import train

DATA = Path(__file__).resolve().parent.parent / "data" / "churn.csv"


@pytest.fixture(scope="module")
def split() -> tuple[pl.DataFrame, pl.DataFrame]:
    return preprocess(str(DATA))


@pytest.fixture(scope="module")
def model(split: tuple[pl.DataFrame, pl.DataFrame]) -> dict:
    return train(split[0])


def test_preprocess_splits_deterministically(split):
    train_df, test_df = preprocess(str(DATA))

    assert train_df.equals(split[0])
    assert test_df.equals(split[1])
    assert (train_df.height, test_df.height) == (320, 80)


def test_preprocess_keeps_churn_rate_in_both_halves(split):
    train_rate, test_rate = (df["churned"].mean() for df in split)

    assert abs(train_rate - test_rate) < 0.01


def test_preprocess_yields_filled_float_features(split):
    train_df, test_df = split
    raw = pl.read_csv(DATA)
    features = train_df.drop("churned")

    assert raw["total_charges"].null_count() > 0
    assert raw["payment_method"].null_count() > 0
    assert set(features.dtypes) == {pl.Float64}
    assert train_df.null_count().sum_horizontal().item() == 0
    assert test_df.null_count().sum_horizontal().item() == 0
    assert test_df.columns == train_df.columns


def test_preprocess_standardises_numeric_features_on_train_rows(split):
    tenure = split[0]["tenure_months"]

    assert tenure.mean() == pytest.approx(0.0, abs=1e-9)
    assert tenure.std() == pytest.approx(1.0)


def test_preprocess_one_hot_encodes_payment_method(split):
    one_hot = split[0].select(pl.col("^payment_method_.*$"))

    assert "payment_method_electronic-check" in one_hot.columns
    assert one_hot.sum_horizontal().unique().to_list() == [1.0]


def test_preprocess_cleans_padded_and_blank_cells(tmp_path):
    rows = make_rows(n_rows=40)
    rows[0]["contract"] = " One-Year "
    rows[1]["monthly_charges"] = " "
    rows[2]["has_internet"] = "YES"
    rows[3]["payment_method"] = "  "
    path = tmp_path / "messy.csv"
    write_csv(path, rows)

    train_df, test_df = preprocess(str(path))

    both = pl.concat([train_df, test_df])
    assert both.height == 40
    assert both.null_count().sum_horizontal().item() == 0
    assert "payment_method_" not in both.columns


def test_preprocess_rejects_a_label_other_than_0_or_1(tmp_path):
    rows = make_rows(n_rows=10)
    rows[4]["churned"] = "2"
    path = tmp_path / "bad.csv"
    write_csv(path, rows)

    with pytest.raises(pl.exceptions.InvalidOperationError):
        preprocess(str(path))


def test_pipeline_learns_above_gate(split, model):
    metrics = evaluate(model, split[1])

    assert 0.75 < metrics["auc"] < 1.0
    assert metrics["accuracy"] > 0.7
    assert metrics["n_test"] == 80


def test_pipeline_runs_well_under_a_second():
    start = time.perf_counter()
    train_df, test_df = preprocess(str(DATA))
    evaluate(train(train_df), test_df)

    assert time.perf_counter() - start < 1.0


def test_train_loss_falls_every_epoch(model):
    losses = model["loss_history"] + [model["train_loss"]]

    assert len(model["loss_history"]) == model["epochs"] == 10
    assert all(later < earlier for earlier, later in pairwise(losses))


def test_train_rejects_zero_epochs(split):
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        train(split[0], epochs=0)


def test_step_results_survive_pickling(split, model):
    metrics = evaluate(model, split[1])

    assert pickle.loads(pickle.dumps(model)) == model
    assert pickle.loads(pickle.dumps(metrics)) == metrics
    assert pickle.loads(pickle.dumps(split[1])).equals(split[1])


def test_auc_handles_ties():
    # Positives {0.4, 0.8} against negatives {0.1, 0.4}: 0.8 beats both, 0.4
    # beats 0.1 and ties 0.4 (half a win), so 3.5 of 4 pairs.
    scores = pl.Series([0.1, 0.4, 0.4, 0.8])
    labels = pl.Series([0, 0, 1, 1])

    assert roc_auc(scores, labels) == 0.875
    assert roc_auc(pl.Series([0.3] * 4), labels) == 0.5


def test_auc_matches_counting_every_pair():
    scores = [0.2, 0.7, 0.7, 0.1, 0.7, 0.9, 0.2, 0.5]
    labels = [1, 0, 1, 0, 1, 1, 0, 0]
    positives = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    negatives = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    wins = sum(
        1.0 if p > n else 0.5 if p == n else 0.0
        for p, n in product(positives, negatives)
    )

    expected = wins / (len(positives) * len(negatives))
    assert roc_auc(pl.Series(scores), pl.Series(labels)) == pytest.approx(expected)


def test_auc_rejects_a_single_class():
    with pytest.raises(ValueError, match="2 positives and 0 negatives"):
        roc_auc(pl.Series([0.1, 0.9]), pl.Series([1, 1]))


def test_register_writes_record_when_dir_set(tmp_path, monkeypatch, model):
    directory = tmp_path / "registry"
    monkeypatch.setenv("MODEL_REGISTRY_DIR", str(directory))
    metrics = {"auc": 0.81, "accuracy": 0.77, "n_test": 80}

    record = register(model, metrics)

    [path] = directory.iterdir()
    assert json.loads(path.read_text()) == record
    assert record["name"] in path.name and record["version"][:12] in path.name
    assert record["metrics"] == metrics
    assert record["created_by"] == "yamlpipe example"
    assert len(record["version"]) == 64


def test_register_writes_nothing_when_dir_unset(tmp_path, monkeypatch, model):
    monkeypatch.delenv("MODEL_REGISTRY_DIR", raising=False)
    monkeypatch.chdir(tmp_path)

    record = register(model, {"auc": 0.81})

    assert record["metrics"] == {"auc": 0.81}
    assert list(tmp_path.iterdir()) == []


def test_register_version_follows_the_weights(monkeypatch, model):
    monkeypatch.delenv("MODEL_REGISTRY_DIR", raising=False)
    nudged = {**model, "bias": model["bias"] + 1e-9}
    same_weights = {**model, "loss_history": []}

    version = register(model, {})["version"]
    assert register(same_weights, {})["version"] == version
    assert register(nudged, {})["version"] != version


def test_make_data_is_deterministic(tmp_path):
    path = tmp_path / "churn.csv"
    write_csv(path, make_rows())

    assert make_rows() == make_rows()
    assert make_rows(seed=1) != make_rows()
    # The committed data must be exactly what the generator writes.
    assert path.read_bytes() == DATA.read_bytes()
