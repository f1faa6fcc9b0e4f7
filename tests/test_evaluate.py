"""Tests for nk.metrics (metrics with bootstrap CIs) and nk.plots (their figures)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
    r2_score,
)

from nk import metrics, plots

metrics_module = metrics

classification_metrics = metrics.classification_metrics
regression_metrics = metrics.regression_metrics


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _speaker_correlated_classification(
    seed: int = 0, n_speakers: int = 40, per_speaker: int = 50
):
    """Data where accuracy varies strongly between speakers."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_speakers), per_speaker)
    truth = rng.integers(0, 3, size=groups.size)
    speaker_acc = rng.uniform(0.1, 1.0, size=n_speakers)[groups]
    wrong = (truth + rng.integers(1, 3, size=groups.size)) % 3
    pred = np.where(rng.random(groups.size) < speaker_acc, truth, wrong)
    return truth, pred, groups


def _speaker_correlated_regression(
    seed: int = 0, n_speakers: int = 40, per_speaker: int = 50
):
    """Data with a per-speaker prediction bias (errors correlated within speaker)."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_speakers), per_speaker)
    speaker_level = rng.normal(0.0, 1.0, size=n_speakers)[groups]
    speaker_bias = rng.normal(0.0, 1.0, size=n_speakers)[groups]
    truth = speaker_level + 0.3 * rng.normal(size=groups.size)
    pred = truth + speaker_bias + 0.3 * rng.normal(size=groups.size)
    return truth, pred, groups


def _width(result: dict) -> float:
    low, high = result[result["primary"]]["ci"]
    return high - low


def _naive_uar(truth: np.ndarray, pred: np.ndarray) -> float:
    classes = np.unique(truth)
    return float(np.mean([np.mean(pred[truth == c] == c) for c in classes]))


def _naive_ccc(x: np.ndarray, y: np.ndarray) -> float:
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    return float(2 * cov / (x.var() + y.var() + (x.mean() - y.mean()) ** 2))


def _naive_bootstrap_ci(stat, truth, pred, groups, n_resamples, seed, level=0.95):
    """Loop-based reference bootstrap over samples (groups=None) or speakers."""
    rng = np.random.default_rng(seed)
    if groups is None:
        units = [np.array([i]) for i in range(len(truth))]
    else:
        units = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    values = []
    for _ in range(n_resamples):
        chosen = rng.integers(0, len(units), size=len(units))
        idx = np.concatenate([units[c] for c in chosen])
        values.append(stat(truth[idx], pred[idx]))
    alpha = (1 - level) / 2
    return np.quantile(values, [alpha, 1 - alpha])


# --------------------------------------------------------------------------
# classification
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("truth", "groups"),
    [
        pytest.param(["a", "b", "c", "a", "b", "c"], None, id="str-samples"),
        pytest.param(
            [0, 1, 2, 0, 1, 2, 2, 2], [1, 1, 2, 2, 3, 3, 4, 4], id="int-speakers"
        ),
        pytest.param(
            list(np.random.default_rng(0).integers(0, 5, 500)), None, id="int-500"
        ),
    ],
)
def test_perfect_predictions_give_uar_one(truth, groups):
    result = classification_metrics(truth, truth, groups=groups)
    assert result["uar"]["value"] == 1.0
    assert result["uar"]["ci"] == [1.0, 1.0]
    assert result["accuracy"] == 1.0
    assert result["macro_f1"] == 1.0


CLASSIFICATION_CASES = [
    pytest.param(
        ["cat", "dog", "dog", "bird", "cat", "bird", "dog", "cat", "cat"],
        ["cat", "dog", "cat", "bird", "dog", "cat", "dog", "cat", "bird"],
        None,
        id="strings",
    ),
    pytest.param(
        [0, 0, 1, 1, 1, 2, 2, 2, 2, 2], [0, 1, 1, 1, 0, 2, 2, 1, 2, 0], None, id="ints"
    ),
    pytest.param([0, 0, 1, 1, 1], [0, 3, 1, 1, 3], None, id="pred-only-class"),
    pytest.param(
        ["a", "b", "a", "c"],
        ["a", "b", "b", "c"],
        ["c", "b", "a", "d"],
        id="explicit-labels",
    ),
]


@pytest.mark.parametrize(("truth", "pred", "labels"), CLASSIFICATION_CASES)
def test_classification_matches_sklearn(truth, pred, labels):
    result = classification_metrics(truth, pred, labels=labels, n_resamples=50)
    expected_labels = labels if labels is not None else sorted(set(truth) | set(pred))
    assert result["labels"] == expected_labels
    assert (
        result["confusion_matrix"]
        == confusion_matrix(truth, pred, labels=expected_labels).tolist()
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about pred-only classes
        uar = balanced_accuracy_score(truth, pred)
    assert result["uar"]["value"] == pytest.approx(uar)
    assert result["accuracy"] == pytest.approx(accuracy_score(truth, pred))
    macro_f1 = f1_score(
        truth, pred, labels=expected_labels, average="macro", zero_division=0
    )
    assert result["macro_f1"] == pytest.approx(macro_f1)
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, pred, labels=expected_labels, zero_division=0
    )
    for i, label in enumerate(expected_labels):
        entry = result["per_class"][str(label)]
        assert entry["precision"] == pytest.approx(precision[i])
        assert entry["recall"] == pytest.approx(recall[i])
        assert entry["f1"] == pytest.approx(f1[i])
        assert entry["support"] == support[i]
    assert result["n"] == len(truth)
    assert result["n_groups"] is None
    assert result["task"] == "classification" and result["primary"] == "uar"


def test_classification_result_is_json_roundtrippable():
    truth, pred, groups = _speaker_correlated_classification()
    result = classification_metrics(truth, pred, groups=groups, n_resamples=100)
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert result["uar"]["ci_unit"] == "speaker"
    assert result["uar"]["ci_level"] == 0.95
    assert result["uar"]["n_resamples"] == 100
    assert result["n_groups"] == 40
    assert all(type(label) is int for label in result["labels"])


@pytest.mark.parametrize("use_groups", [False, True], ids=["samples", "speakers"])
def test_classification_ci_contains_point(use_groups):
    truth, pred, groups = _speaker_correlated_classification(seed=3)
    result = classification_metrics(truth, pred, groups=groups if use_groups else None)
    low, high = result["uar"]["ci"]
    assert low < result["uar"]["value"] < high


@pytest.mark.parametrize("use_groups", [False, True], ids=["samples", "speakers"])
def test_classification_bootstrap_matches_naive_reference(use_groups):
    truth, pred, groups = _speaker_correlated_classification(
        seed=5, n_speakers=30, per_speaker=20
    )
    groups = groups if use_groups else None
    result = classification_metrics(
        truth, pred, groups=groups, n_resamples=3000, seed=1
    )
    ref = _naive_bootstrap_ci(_naive_uar, truth, pred, groups, 3000, seed=2)
    low, high = result["uar"]["ci"]
    tolerance = 0.12 * (ref[1] - ref[0])
    assert low == pytest.approx(ref[0], abs=tolerance)
    assert high == pytest.approx(ref[1], abs=tolerance)


# --------------------------------------------------------------------------
# regression
# --------------------------------------------------------------------------


def test_ccc_hand_computed():
    # means 2.5 / 3, variances 1.25 / 1.5, covariance 1.25:
    # CCC = 2 * 1.25 / (1.25 + 1.5 + 0.25) = 5 / 6
    result = regression_metrics([1, 2, 3, 4], [2, 2, 3, 5], n_resamples=50)
    assert result["ccc"]["value"] == pytest.approx(5 / 6)
    assert result["pcc"] == pytest.approx(1.25 / np.sqrt(1.25 * 1.5))
    assert result["mae"] == pytest.approx(0.5)
    assert result["mse"] == pytest.approx(0.5)
    assert result["task"] == "regression" and result["primary"] == "ccc"


def test_regression_matches_references():
    rng = np.random.default_rng(7)
    truth = rng.normal(40.0, 12.0, size=300)
    pred = 0.8 * truth + 5.0 + rng.normal(0.0, 6.0, size=300)
    result = regression_metrics(truth, pred, n_resamples=50)
    assert result["ccc"]["value"] == pytest.approx(_naive_ccc(truth, pred))
    assert result["pcc"] == pytest.approx(np.corrcoef(truth, pred)[0, 1])
    assert result["mae"] == pytest.approx(mean_absolute_error(truth, pred))
    assert result["mse"] == pytest.approx(mean_squared_error(truth, pred))
    assert result["r2"] == pytest.approx(r2_score(truth, pred))
    assert result["n"] == 300 and result["n_groups"] is None
    assert json.loads(json.dumps(result, allow_nan=False)) == result


@pytest.mark.parametrize(
    ("truth", "pred", "ccc", "pcc"),
    [
        pytest.param([1.0, 2.0, 3.0], [2.0, 2.0, 2.0], 0.0, 0.0, id="constant-pred"),
        pytest.param(
            [1.0, 2.0, 3.0], [7.0, 7.0, 7.0], 0.0, 0.0, id="constant-pred-offset"
        ),
        pytest.param(
            [0.1, 0.1, 0.1], [0.1, 0.1, 0.1], 1.0, 0.0, id="both-constant-equal"
        ),
        pytest.param([1.0, 2.0, 3.0], [3.0, 2.0, 1.0], -1.0, -1.0, id="reversed"),
    ],
)
def test_regression_degenerate_cases(truth, pred, ccc, pcc):
    result = regression_metrics(truth, pred, n_resamples=200)
    assert result["ccc"]["value"] == pytest.approx(ccc)
    assert result["pcc"] == pytest.approx(pcc)
    assert all(np.isfinite(result["ccc"]["ci"]))


def test_perfect_regression_has_ccc_one():
    truth = np.linspace(0.0, 10.0, 200)
    result = regression_metrics(truth, truth, groups=np.arange(200) // 10)
    assert result["ccc"]["value"] == 1.0
    assert result["ccc"]["ci"] == pytest.approx([1.0, 1.0])
    assert result["r2"] == 1.0


@pytest.mark.parametrize("use_groups", [False, True], ids=["samples", "speakers"])
def test_regression_ci_contains_point(use_groups):
    truth, pred, groups = _speaker_correlated_regression(seed=4)
    result = regression_metrics(truth, pred, groups=groups if use_groups else None)
    low, high = result["ccc"]["ci"]
    assert low < result["ccc"]["value"] < high


@pytest.mark.parametrize("use_groups", [False, True], ids=["samples", "speakers"])
def test_regression_bootstrap_matches_naive_reference(use_groups):
    truth, pred, groups = _speaker_correlated_regression(
        seed=6, n_speakers=30, per_speaker=20
    )
    groups = groups if use_groups else None
    result = regression_metrics(truth, pred, groups=groups, n_resamples=3000, seed=1)
    ref = _naive_bootstrap_ci(_naive_ccc, truth, pred, groups, 3000, seed=2)
    low, high = result["ccc"]["ci"]
    tolerance = 0.12 * (ref[1] - ref[0])
    assert low == pytest.approx(ref[0], abs=tolerance)
    assert high == pytest.approx(ref[1], abs=tolerance)


# --------------------------------------------------------------------------
# bootstrap behaviour shared by both tasks
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metrics", "make_data"),
    [
        pytest.param(
            classification_metrics,
            _speaker_correlated_classification,
            id="classification",
        ),
        pytest.param(
            regression_metrics, _speaker_correlated_regression, id="regression"
        ),
    ],
)
@pytest.mark.parametrize("use_groups", [False, True], ids=["samples", "speakers"])
def test_seeded_determinism(metrics, make_data, use_groups):
    truth, pred, groups = make_data()
    groups = groups if use_groups else None
    first = metrics(truth, pred, groups=groups, seed=123)
    second = metrics(truth, pred, groups=groups, seed=123)
    other = metrics(truth, pred, groups=groups, seed=124)
    assert first == second
    assert first[first["primary"]]["ci"] != other[other["primary"]]["ci"]


@pytest.mark.parametrize(
    ("metrics", "make_data"),
    [
        pytest.param(
            classification_metrics,
            _speaker_correlated_classification,
            id="classification",
        ),
        pytest.param(
            regression_metrics, _speaker_correlated_regression, id="regression"
        ),
    ],
)
def test_speaker_resampling_is_wider_for_correlated_data(metrics, make_data):
    truth, pred, groups = make_data()
    by_sample = metrics(truth, pred)
    by_speaker = metrics(truth, pred, groups=groups)
    assert by_sample[by_sample["primary"]]["ci_unit"] == "sample"
    assert by_speaker[by_speaker["primary"]]["ci_unit"] == "speaker"
    assert _width(by_speaker) > 1.5 * _width(by_sample)


@pytest.mark.parametrize(
    ("metrics", "truth", "pred"),
    [
        pytest.param(
            classification_metrics,
            [0, 1, 1, 0, 1, 0, 0, 1],
            [0, 1, 0, 0, 1, 1, 0, 1],
            id="classification",
        ),
        pytest.param(
            regression_metrics,
            [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            [1.5, 1.0, 3.5, 4.5, 4.0, 6.5],
            id="regression",
        ),
    ],
)
def test_single_speaker_falls_back_to_sample_resampling(metrics, truth, pred):
    result = metrics(truth, pred, groups=["spk"] * len(truth))
    entry = result[result["primary"]]
    assert entry["ci_unit"] == "sample"
    assert entry["ci_method"] == "rows_within_speakers" and entry["n_speakers"] == 1
    assert "a single speaker" in entry["ci_note"] and "not over other speakers" in entry["ci_note"]
    assert entry["ci"][1] > entry["ci"][0]
    assert result["n_groups"] == 1


def _naive_within_speaker_ci(stat, truth, pred, groups, n_resamples, seed, level=0.95):
    """Loop-based reference: rows drawn with replacement inside each speaker."""
    rng = np.random.default_rng(seed)
    units = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    values = []
    for _ in range(n_resamples):
        idx = np.concatenate([rng.choice(u, size=len(u), replace=True) for u in units])
        values.append(stat(truth[idx], pred[idx]))
    alpha = (1 - level) / 2
    return np.quantile(values, [alpha, 1 - alpha])


@pytest.mark.parametrize(
    ("metrics", "make_data", "stat"),
    [
        pytest.param(classification_metrics, _speaker_correlated_classification, _naive_uar,
                     id="classification"),
        pytest.param(regression_metrics, _speaker_correlated_regression, _naive_ccc, id="regression"),
    ],
)
@pytest.mark.parametrize("n_speakers", [2, 5, 9])
def test_few_speakers_get_a_labelled_within_speaker_interval(metrics, make_data, stat, n_speakers):
    """Issue 10: 2 test speakers gave a 'speaker bootstrap' CI from 3 possible resamples. Below
    MIN_SPEAKERS the interval resamples rows within speakers and says what it does not cover."""
    truth, pred, groups = make_data(seed=7, n_speakers=n_speakers, per_speaker=40)
    result = metrics(truth, pred, groups=groups, n_resamples=2000, seed=3)
    entry = result[result["primary"]]
    assert metrics_module.MIN_SPEAKERS == 10
    assert entry["ci_method"] == "rows_within_speakers" and entry["ci_unit"] == "sample"
    assert entry["n_speakers"] == n_speakers
    assert f"only {n_speakers} speakers" in entry["ci_note"] and "not over other speakers" in entry["ci_note"]
    ref = _naive_within_speaker_ci(stat, np.asarray(truth), np.asarray(pred), groups, 2000, seed=4)
    tolerance = 0.15 * (ref[1] - ref[0])
    assert entry["ci"][0] == pytest.approx(ref[0], abs=tolerance)
    assert entry["ci"][1] == pytest.approx(ref[1], abs=tolerance)
    assert "within" in metrics_module.headline(result["primary"], entry)


def test_min_speakers_sets_the_threshold_of_the_speaker_bootstrap():
    truth, pred, groups = _speaker_correlated_classification(seed=1, n_speakers=10, per_speaker=20)
    entry = classification_metrics(truth, pred, groups=groups, n_resamples=200)["uar"]
    assert entry["ci_method"] == "speaker" and entry["n_speakers"] == 10 and entry["ci_note"] is None
    few = classification_metrics(truth[groups < 4], pred[groups < 4], groups=groups[groups < 4],
                                 n_resamples=200, min_speakers=4)["uar"]
    assert few["ci_method"] == "speaker" and few["ci_unit"] == "speaker"
    with pytest.raises(ValueError, match="min_speakers"):
        classification_metrics(truth, pred, groups=groups, min_speakers=1)
    from nk.config import BootstrapConfig

    assert BootstrapConfig().min_speakers == metrics_module.MIN_SPEAKERS  # the config default


def test_rows_without_speaker_ids_are_labelled():
    truth, pred, _ = _speaker_correlated_classification(seed=1)
    entry = classification_metrics(truth, pred, n_resamples=200)["uar"]
    assert entry["ci_method"] == "rows" and entry["n_speakers"] is None
    assert "as if independent" in entry["ci_note"]
    assert metrics_module.ci_method_text(entry) == "rows, no speaker ids"


def test_level_and_n_resamples_are_reported():
    truth, pred, _ = _speaker_correlated_classification()
    narrow = classification_metrics(truth, pred, level=0.5, n_resamples=400)
    wide = classification_metrics(truth, pred, level=0.99, n_resamples=400)
    assert narrow["uar"]["ci_level"] == 0.5 and narrow["uar"]["n_resamples"] == 400
    assert _width(wide) > _width(narrow)


@pytest.mark.parametrize(
    ("metrics", "data"),
    [
        pytest.param(
            classification_metrics,
            _speaker_correlated_classification,
            id="classification",
        ),
        pytest.param(
            regression_metrics, _speaker_correlated_regression, id="regression"
        ),
    ],
)
@pytest.mark.parametrize("n_groups", [1, 40], ids=["one-speaker", "speakers"])
def test_zero_resamples_gives_the_same_metrics_without_ci(metrics, data, n_groups):
    truth, pred, groups = data(seed=4)
    groups = np.minimum(groups, n_groups - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        full = metrics(truth, pred, groups=groups, n_resamples=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no bootstrap: no one-speaker fallback warning either
        bare = metrics(truth, pred, groups=groups, n_resamples=0)
    primary = full["primary"]
    assert bare[primary] == {"value": full[primary]["value"]}
    assert {k: v for k, v in bare.items() if k != primary} == {
        k: v for k, v in full.items() if k != primary
    }
    assert json.loads(json.dumps(bare, allow_nan=False)) == bare


# --------------------------------------------------------------------------
# plots
# --------------------------------------------------------------------------

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("truth", "pred", "labels"),
    [
        pytest.param(
            ["a", "b", "a", "c"], ["a", "b", "b", "c"], ["a", "b", "c"], id="strings"
        ),
        pytest.param([0, 1, 2, 2], [0, 2, 2, 1], None, id="default-labels"),
        pytest.param([0, 0, 1], [0, 0, 0], [0, 1, 2], id="empty-row"),
    ],
)
def test_plot_confusion_matrix_writes_png(tmp_path, truth, pred, labels):
    path = tmp_path / "sub" / "cm.png"
    plots.plot_confusion_matrix(truth, pred, labels, path, title="Confusion")
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_MAGIC)


@pytest.mark.parametrize(
    ("truth", "pred"),
    [
        pytest.param(np.linspace(0, 1, 500), np.linspace(0, 1, 500) ** 2, id="many"),
        pytest.param([3.0], [3.0], id="single-point"),
    ],
)
def test_plot_truth_vs_prediction_writes_png(tmp_path, truth, pred):
    path = tmp_path / "scatter.png"
    plots.plot_truth_vs_prediction(truth, pred, path, title="Truth vs prediction")
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_MAGIC)


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param(
            {"truth": [0, 1], "pred": [0]}, "same length", id="length-mismatch"
        ),
        pytest.param({"truth": [], "pred": []}, "empty", id="empty"),
        pytest.param(
            {"truth": [0, 1], "pred": [0, 1], "groups": [1]},
            "groups",
            id="groups-length",
        ),
        pytest.param(
            {"truth": [0, 1], "pred": [0, 2], "labels": [0, 1]},
            "not in labels",
            id="unknown-label",
        ),
        pytest.param(
            {"truth": [0, 1], "pred": [0, 1], "labels": [0, 1, 1]},
            "duplicates",
            id="duplicate-labels",
        ),
        pytest.param(
            {"truth": [0, None], "pred": [0, 1]}, "missing", id="missing-truth"
        ),
        pytest.param({"truth": [[0, 1]], "pred": [[0, 1]]}, "one-dimensional", id="2d"),
        pytest.param({"truth": "ab", "pred": "ab"}, "string", id="string-input"),
        pytest.param(
            {"truth": [0, 1], "pred": [0, 1], "level": 1.0}, "level", id="bad-level"
        ),
        pytest.param(
            {"truth": [0, 1], "pred": [0, 1], "n_resamples": -1},
            "n_resamples",
            id="negative-n-resamples",
        ),
    ],
)
def test_classification_bad_input_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        classification_metrics(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param(
            {"truth": [0.0, 1.0], "pred": [0.0]}, "same length", id="length-mismatch"
        ),
        pytest.param({"truth": [], "pred": []}, "empty", id="empty"),
        pytest.param(
            {"truth": [0.0, np.nan], "pred": [0.0, 1.0]}, "non-finite", id="nan"
        ),
        pytest.param(
            {"truth": ["a", "b"], "pred": [0.0, 1.0]}, "numeric", id="non-numeric"
        ),
        pytest.param(
            {"truth": [0.0, 1.0], "pred": [0.0, 1.0], "groups": [1, None]},
            "missing",
            id="missing-group",
        ),
        pytest.param(
            {"truth": [0.0, 1.0], "pred": [0.0, 1.0], "level": 0},
            "level",
            id="bad-level",
        ),
        pytest.param(
            {"truth": [0.0, 1.0], "pred": [0.0, 1.0], "n_resamples": -1},
            "n_resamples",
            id="negative-n-resamples",
        ),
    ],
)
def test_regression_bad_input_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        regression_metrics(**kwargs)


def test_plot_bad_input_raises(tmp_path):
    with pytest.raises(ValueError, match="same length"):
        plots.plot_truth_vs_prediction([1.0, 2.0], [1.0], tmp_path / "x.png")
    with pytest.raises(ValueError, match="not in labels"):
        plots.plot_confusion_matrix(
            ["a", "b"], ["a", "c"], ["a", "b"], tmp_path / "y.png"
        )


def test_metrics_and_plots_are_separate_modules_and_metrics_import_no_matplotlib():
    """Metrics (nk.metrics) import no plotting library; nk.evaluate re-exports both for old code."""
    import subprocess
    import sys

    code = ("import sys, nk.metrics, nk.plots, nk.evaluate as e; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'; "
            "assert e.classification_metrics is nk.metrics.classification_metrics; "
            "assert e.plot_confusion_matrix is nk.plots.plot_confusion_matrix")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_a_zero_width_interval_is_remarked():
    """Issue 10: 2 test speakers gave UAR 1.000 [1.000, 1.000] with no remark."""
    truth = [0, 1] * 20
    groups = np.repeat(np.arange(2), 20)
    entry = classification_metrics(truth, truth, groups=groups, n_resamples=200)["uar"]
    assert entry["ci"] == [1.0, 1.0]
    assert "only 2 speakers" in entry["ci_note"] and "no width" in entry["ci_note"]
    many = classification_metrics(truth, truth, groups=np.arange(40) // 2, n_resamples=200)["uar"]
    assert many["ci_method"] == "speaker" and "not certainty" in many["ci_note"]
