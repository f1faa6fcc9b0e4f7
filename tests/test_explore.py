"""``nk explore``: statistics against hand computations, the confound analysis, the files the
command writes, and its user errors."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nk import hookimpl
from nk.cli import main
from nk.explore import stats
from nk.registry import param

SMALL = ["data.demo.n_utterances=2", "feats=mfcc", "n_jobs=1"]


# --- statistics ----------------------------------------------------------------------------------


def test_cramers_v_matches_a_hand_computation():
    # 2 × 2, n = 80, every expected count 20: chi² = 4 · (30 − 20)² / 20 = 20, V = sqrt(20 / 80) = 0.5
    res = stats.cramers_v(np.array([[30, 10], [10, 30]]))
    assert res.chi2 == pytest.approx(20.0)
    assert res.dof == 1 and res.n == 80 and res.df_star == 1
    assert res.v == pytest.approx(0.5)
    assert res.p == pytest.approx(math.erfc(math.sqrt(20 / 2)))  # chi² with 1 df: P = erfc(sqrt(x / 2))
    # Bergsma: phi² − (r−1)(c−1)/(n−1) = 0.25 − 1/79; r~ = c~ = 2 − 1/79
    corrected = math.sqrt((0.25 - 1 / 79) / (2 - 1 / 79 - 1))
    assert res.v_corrected == pytest.approx(corrected)
    assert res.v_corrected == pytest.approx(0.490291, abs=1e-6)


def test_cramers_v_of_a_3x3_table():
    table = np.array([[20, 5, 5], [5, 20, 5], [5, 5, 20]])
    # expected 10 everywhere: chi² = 3 · 100/10 + 6 · 25/10 = 45; df* = 2; V = sqrt(45 / (90 · 2))
    res = stats.cramers_v(table)
    assert res.chi2 == pytest.approx(45.0)
    assert res.dof == 4 and res.df_star == 2
    assert res.v == pytest.approx(math.sqrt(45 / 180))
    phi2c = 45 / 90 - 4 / 89
    assert res.v_corrected == pytest.approx(math.sqrt(phi2c / (3 - 4 / 89 - 1)))


def test_independent_table_has_corrected_v_zero():
    res = stats.cramers_v(np.array([[10, 20], [30, 60]]))
    assert res.chi2 == pytest.approx(0.0, abs=1e-12)
    assert res.v_corrected == 0.0 and res.p == pytest.approx(1.0)


def test_holm_matches_a_hand_example():
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → running max
    adjusted = stats.holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    with_nan = stats.holm([0.01, np.nan, 0.02])  # NaN is no test: m = 2
    assert with_nan[0] == pytest.approx(0.02) and with_nan[2] == pytest.approx(0.02)
    assert np.isnan(with_nan[1])
    assert stats.holm([]).shape == (0,)


def test_fisher_confidence_intervals():
    # r = 0.5, n = 28: z = atanh 0.5, se = 1 / 5, 95 %: ± 1.959964 · 0.2
    z, half = math.atanh(0.5), 1.959963985 * 0.2
    assert stats.fisher_ci(0.5, 28) == pytest.approx((math.tanh(z - half), math.tanh(z + half)))
    half_s = 1.959963985 * math.sqrt(1.06 / 25)
    assert stats.fisher_ci(0.5, 28, se_factor=1.06) == pytest.approx((math.tanh(z - half_s), math.tanh(z + half_s)))


def test_pearson_and_spearman_with_their_intervals():
    rng = np.random.default_rng(3)
    x = rng.normal(size=60)
    y = 0.6 * x + rng.normal(size=60)
    pr = stats.pearson(x, y)
    assert pr.r == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert pr.ci == pytest.approx(stats.fisher_ci(pr.r, 60))
    assert pr.ci[0] < pr.r < pr.ci[1]
    sr = stats.spearman(x, y)
    ranks_x, ranks_y = pd.Series(x).rank(), pd.Series(y).rank()
    assert sr.r == pytest.approx(np.corrcoef(ranks_x, ranks_y)[0, 1])
    assert sr.ci == pytest.approx(stats.fisher_ci(sr.r, 60, se_factor=1.06))
    with pytest.raises(ValueError):
        stats.spearman(np.ones(10), y[:10])  # constant


def test_kruskal_effect_size_and_rank_biserial():
    # ranks 1..9 in three groups: H = 12/(9·10) · (6² + 15² + 24²)/3 − 3 · 10 = 7.2; ε² = H/(n − 1) = 0.9
    res = stats.kruskal([np.array([1, 2, 3]), np.array([4, 5, 6]), np.array([7, 8, 9])])
    assert res.h == pytest.approx(7.2)
    assert res.epsilon2 == pytest.approx(0.9)
    assert res.p == pytest.approx(math.exp(-7.2 / 2))  # chi² with 2 df: P = exp(−x/2)
    mw = stats.mann_whitney(np.array([1, 2, 3]), np.array([4, 5, 6]))
    assert mw.u == 0 and mw.rank_biserial == pytest.approx(-1.0)
    assert stats.eta_squared([np.array([1.0, 1.0]), np.array([3.0, 3.0])]) == pytest.approx(1.0)
    assert stats.cohens_d(np.array([0.0, 2.0]), np.array([2.0, 4.0])) == pytest.approx(2 / math.sqrt(2))


@pytest.mark.parametrize(("measure", "value", "df_star", "word"), [
    ("cramers_v", 0.05, 1, "negligible"), ("cramers_v", 0.2, 1, "weak"), ("cramers_v", 0.35, 1, "moderate"),
    ("cramers_v", 0.5, 1, "strong"), ("cramers_v", 0.3, 4, "strong"),  # thresholds / sqrt(df*)
    ("epsilon2", 0.005, 1, "negligible"), ("epsilon2", 0.07, 1, "moderate"), ("epsilon2", 0.2, 1, "strong"),
    ("rho", -0.35, 1, "moderate"), ("d", 0.9, 1, "strong"), ("d", 0.1, 1, "negligible"),
])
def test_strength_words(measure, value, df_star, word):
    found, score = stats.strength(measure, value, df_star)
    assert found == word
    assert stats.WORDS.index(word) <= score <= stats.WORDS.index(word) + 1


def test_sentence_and_p_formatting():
    assert stats.format_p(0.0004) == "p < .001"
    assert stats.format_p(0.0234) == "p = .023"
    assert stats.sentence("emotion", "gender", "strong", "cramers_v", 0.41, 0.0001) == \
        "emotion is strongly associated with gender: Cramér's V = 0.41, p < .001"


def _independent(rng: np.random.Generator, n: int = 200) -> tuple[pd.DataFrame, list[str], dict[str, str]]:
    frame = pd.DataFrame({
        "target": rng.choice(["a", "b", "c"], n),
        "colour": rng.choice(["red", "green"], n),
        "site": rng.choice(["x", "y", "z", "w"], n),
        "score": rng.normal(size=n),
        "loudness": rng.gamma(2.0, size=n),
    })
    columns = ["colour", "site", "score", "loudness"]
    return frame, columns, {c: stats.column_kind(frame[c]) for c in columns}


def test_independent_columns_are_not_flagged_after_correction():
    frame, columns, kinds = _independent(np.random.default_rng(7))
    assert kinds == {"colour": "categorical", "site": "categorical", "score": "continuous",
                     "loudness": "continuous"}
    ranked, pairwise, notes = stats.association_table(frame, "target", "categorical", columns, kinds, 0.05)
    assert not notes and len(ranked) == 4
    assert (ranked["p_holm"] > 0.05).all() and not ranked["significant"].any()
    assert (ranked["p_holm"] >= ranked["p"]).all()
    assert not pairwise.empty and (pairwise["p_holm"] >= pairwise["p"]).all()


def test_holm_keeps_the_family_wise_error_at_alpha():
    rng = np.random.default_rng(11)
    flagged = 0
    for _ in range(100):
        frame, columns, kinds = _independent(rng)
        ranked, _, _ = stats.association_table(frame, "target", "categorical", columns, kinds, 0.05)
        flagged += bool(ranked["significant"].any())
    assert flagged <= 10  # 5 expected in 100; 10 is 2.3 binomial SDs above


def test_continuous_target_uses_correlations():
    rng = np.random.default_rng(5)
    x = rng.normal(size=80)
    frame = pd.DataFrame({"age": 40 + 10 * x, "pitch": -x + 0.3 * rng.normal(size=80),
                          "group": np.where(x > 0, "old", "young")})
    kinds = {"pitch": "continuous", "group": "categorical"}
    ranked, _, _ = stats.association_table(frame, "age", "continuous", ["pitch", "group"], kinds, 0.05)
    pitch = ranked.set_index("column").loc["pitch"]
    assert pitch["test"] == "spearman" and pitch["effect"] < -0.8
    assert pitch["ci_low"] < pitch["effect"] < pitch["ci_high"]
    assert "negative" in pitch["sentence"]
    assert ranked.set_index("column").loc["group", "test"] == "kruskal-wallis"


def test_permutation_importance_finds_the_feature_the_model_uses():
    from nk.explore.features import permutation_importance

    class FirstFeature:  # predicts from feature 0 only
        def predict(self, X):
            return np.where(X[:, 0] > 0, "b", "a")

    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 4))
    y = np.where(X[:, 0] > 0, "b", "a")
    mean, sd, base = permutation_importance(FirstFeature(), X, y, "classification", 4, seed=0)
    assert base == 1.0
    assert mean[0] > 0.3 and (mean[1:] == 0).all() and (sd[1:] == 0).all()
    chunked = permutation_importance(FirstFeature(), X, y, "classification", 4, seed=0, max_values=1)
    assert chunked[0] == pytest.approx(mean) and chunked[1] == pytest.approx(sd)


def test_optional_packages_are_skipped_with_a_note(monkeypatch):
    import logging

    from sklearn.ensemble import ExtraTreesClassifier

    from nk.explore.config import Importance, RankBy
    from nk.explore.features import importance
    from nk.explore.project import NotInstalled, project

    monkeypatch.setitem(sys.modules, "shap", None)  # import shap → ImportError
    monkeypatch.setitem(sys.modules, "umap", None)
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b"], 20)
    features = pd.DataFrame({"f.x": rng.normal(size=40) + (y == "b"), "f.noise": rng.normal(size=40)},
                            dtype=np.float32)
    split = np.tile(["train", "train", "test", "train"], 10)

    class Cfg:  # the two config sections importance() reads
        scale = "standard"

        class select:
            columns: list[str] = []
            exclude: list[str] = []

    result = importance(features=features, y=y, split=split, speakers=None, task="classification",
                        methods=[Importance.tree, Importance.linear, Importance.shap], model_comp=None,
                        model_params={}, cfg=Cfg, seed=0, n_repeats=2,
                        tree=("extra_trees", ExtraTreesClassifier(n_estimators=100, random_state=0, n_jobs=1)),
                        rank_by=RankBy.mean_rank, log=logging.getLogger("t"))
    assert any("shap" in note for note in result.notes)
    assert list(result.table.columns[:3]) == ["rank", "tree", "linear"] and "shap" not in result.table
    assert result.table.index[0] == "f.x"  # the informative feature ranks first
    with pytest.raises(NotInstalled):
        project("umap", rng.normal(size=(30, 3)), seed=0, perplexity=5, iterations=250)


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache (demo audio, features) for the command tests of this module."""
    return tmp_path_factory.mktemp("explore-cache")


def _latest(results: Path) -> Path:
    return max(results.glob("*/*-explore"), key=lambda p: p.name)


SECRET = "hf_do_not_leak_0123456789"


@dataclass
class NotifyConfig:
    hf_token: str = param("", secret=True, help="token of a notification service (a secret)")


class Notify:
    """A reporter with a secret parameter (the explore report must never show it)."""

    def __init__(self, *, hf_token: str) -> None:
        self.hf_token = hf_token

    def report(self, result, ctx):
        return []


class NotifyPlugin:
    @hookimpl
    def nk_register_reporters(self, register):
        register("notify", Notify, NotifyConfig, description="does nothing, holds a secret")


@pytest.fixture(scope="module")
def confound_run(shared_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every analysis on a small demo with an injected gender–emotion confound."""
    from nk.plugins import PluginManager

    work = tmp_path_factory.mktemp("explore-work")
    results = work / "results"
    pm = PluginManager()
    pm.register(NotifyPlugin(), name="nk-notify")
    code = main(["explore", *SMALL, "data.demo.confound=0.8", f"cache_dir={shared_cache}",
                 f"results_root={results}", "explore.scatter=[pca,tsne]", "explore.top_k=3",
                 "document.pdf=never", "report=[plots,notify]", f"report.notify.hf_token={SECRET}"], pm=pm)
    assert code == 0
    return _latest(results)


def test_command_writes_plots_tables_json_and_report(confound_run: Path):
    run = confound_run
    assert run.name.endswith("-explore")
    for name in ("explore.json", "config.yaml", "nk.log", "report.html", "tables/bias.csv", "tables/bias.txt",
                 "tables/durations.csv", "tables/feature_importance.csv", "tables/feature_effects.txt",
                 "plots/bias.png", "plots/durations.png", "plots/counts_emotion.png", "plots/counts_gender.png",
                 "plots/counts_age.png", "plots/counts_speaker.png", "plots/feature_importance.png",
                 "plots/scatter_pca.png", "plots/scatter_tsne.png"):
        assert (run / name).is_file(), name
    result = json.loads((run / "explore.json").read_text())
    assert len(list((run / "plots").glob("feature_0*.png"))) == 3
    assert sorted(result["plots"]) == sorted(str(p.relative_to(run)) for p in (run / "plots").iterdir())
    assert result["rows"] == 12 * 4 * 2 and result["target"] == "emotion"
    assert set(result["analyses"]) == {"counts", "durations", "bias", "features", "scatter"}
    assert result["features"]["model"]["metric"] == "UAR"
    assert len(result["features"]["top"]) == 3
    assert any("db" in note for note in result["notes"])  # the constant db column is skipped, with a note
    for key in ("counts", "durations", "bias", "features", "scatter", "plots", "analyses", "total"):
        assert result["timing"][key] >= 0
    text = (run / "tables" / "bias.txt").read_text()
    assert "gender" in text and "p_holm" in text
    html = (run / "report.html").read_text()
    assert "Bias and confounds" in html and "strongly associated with gender" in html


def test_report_shows_the_redacted_config(confound_run: Path):
    html = (confound_run / "report.html").read_text()
    assert "hf_token" in html and "***" in html  # the Configuration section lists the key, redacted
    assert SECRET not in html
    assert SECRET not in (confound_run / "config.yaml").read_text()


def test_injected_gender_confound_is_ranked_first(confound_run: Path):
    result = json.loads((confound_run / "explore.json").read_text())
    top = result["bias"]["associations"][0]
    assert top["column"] == "gender"
    assert top["test"] == "chi-square" and top["measure"] == "cramers_v"
    assert top["strength"] == "strong" and top["significant"] and top["p_holm"] < 0.001
    assert top["sentence"].startswith("emotion is strongly associated with gender: Cramér's V = ")
    ranked = pd.read_csv(confound_run / "tables" / "bias.csv")
    assert ranked.loc[0, "column"] == "gender" and list(ranked["rank"]) == list(range(1, len(ranked) + 1))
    assert result["bias"]["correction"] == "holm"
    # age and duration do not follow emotion in the demo: not significant after correction
    others = {r["column"]: r for r in result["bias"]["associations"]}
    assert not others["age"]["significant"]


def test_serial_rendering_and_a_regression_target(shared_cache: Path, tmp_path: Path, capsys):
    from nk.plugins import PluginManager

    results = tmp_path / "results"
    code = main(["explore", *SMALL, "target=age", f"cache_dir={shared_cache}", f"results_root={results}",
                 "explore.analyses=[counts,durations,bias]", "explore.plot_jobs=1", "explore.report=false"],
                pm=PluginManager())
    assert code == 0
    run = _latest(results)
    result = json.loads((run / "explore.json").read_text())
    assert result["task"] == "regression"
    assert (run / "plots" / "counts_age.png").is_file() and (run / "plots" / "bias.png").is_file()
    assert not (run / "report.html").exists()
    by_column = {r["column"]: r for r in result["bias"]["associations"]}
    # age is a speaker property: completely determined by the speaker
    assert by_column["speaker"]["test"] == "kruskal-wallis" and by_column["speaker"]["strength"] == "strong"
    assert by_column["duration"]["test"] == "spearman"
    out = capsys.readouterr().out
    assert "strongest associations with age" in out


@pytest.mark.parametrize(("args", "expected"), [
    pytest.param(["explore.columns=[gender,colour]"], ["explore.columns", "colour", "not in the data",
                                                         "gender", "speaker"], id="unknown-column"),
    pytest.param(["explore.top_k=0"], ["explore.top_k", ">= 1"], id="bound"),
    pytest.param(["explore.analyses=[counts,plots]"], ["plots", "counts, durations, bias"], id="bad-analysis"),
    pytest.param(["explore.columns=[emotion]"], ["target", "explore.columns"], id="target-as-column"),
])
def test_user_errors_are_one_paragraph_exit_2(args, expected, shared_cache: Path, tmp_path: Path, capsys):
    from nk.plugins import PluginManager

    code = main(["explore", *SMALL, f"cache_dir={shared_cache}", f"results_root={tmp_path / 'r'}", *args],
                pm=PluginManager())
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("Error:") and "Traceback" not in err
    assert len([line for line in err.strip().split("\n\n") if line.strip()]) == 1
    flat = " ".join(err.split())
    for text in expected:
        assert text in flat


def test_csv_without_speakers_with_an_id_column_and_random_columns(tiny_corpus, tmp_path: Path):
    from nk.plugins import PluginManager

    rng = np.random.default_rng(4)
    table = tiny_corpus.drop(columns=["speaker"]).reset_index()
    table["transcript"] = [f"utterance {i}" for i in range(len(table))]  # unique per row
    table["room"] = rng.choice(["A", "B", "C"], len(table))
    table["noise_db"] = rng.normal(40, 5, len(table))
    path = tmp_path / "corpus.csv"
    table.to_csv(path, index=False)
    results = tmp_path / "results"
    code = main(["explore", "data=csv", f"data.csv.path={path}", "target=label", "feats=mfcc", "n_jobs=1",
                 f"cache_dir={tmp_path / 'cache'}", f"results_root={results}", "explore.analyses=[bias,features]",
                 "explore.top_k=2", "explore.importance=[permutation,linear]", "explore.report=false",
                 "model=log_reg"], pm=PluginManager())
    assert code == 0
    result = json.loads((_latest(results) / "explore.json").read_text())
    notes = " ".join(result["notes"])
    assert "'transcript'" in notes and "identifier" in notes
    assert "random split" in notes
    by_column = {r["column"]: r for r in result["bias"]["associations"]}
    assert "'duration' has a single value ('0.6')" in notes  # the tones are equally long
    assert set(by_column) == {"gender", "age", "room", "noise_db"}
    assert not by_column["room"]["significant"] and not by_column["noise_db"]["significant"]
    assert result["features"]["model"]["model"] == "log_reg" and len(result["features"]["top"]) == 2


def test_explore_is_a_subcommand_with_the_config_section(nk_pm, nk_compose, capsys):
    nk_compose([])  # empty working directory, cache below tmp_path
    assert main(["explore", "--cfg", "explore.top_k=4"], pm=nk_pm) == 0
    out = capsys.readouterr().out
    assert "explore:" in out and "top_k: 4" in out and "analyses:" in out


def test_report_explains_negative_permutation_importance(shared_cache: Path, tmp_path: Path):
    """Issue 10: negative permutation importances were unexplained in the report."""
    from nk.plugins import PluginManager

    code = main(["explore", *SMALL, f"cache_dir={shared_cache}", f"results_root={tmp_path}",
                 "explore.scatter=[]", "document.pdf=never"], pm=PluginManager())
    assert code == 0
    html = (_latest(tmp_path) / "report.html").read_text()
    assert "negative permutation importance means that shuffling the feature made the held-out" in html
