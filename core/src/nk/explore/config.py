"""The ``explore`` config section of ``nk explore`` (dataclasses and enums only: imported by
:mod:`nk.config`, so it must stay light)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from nk.registry import param


class Analysis(enum.Enum):
    counts = "counts"  # value counts of the target and the columns, per sample and per speaker
    durations = "durations"  # duration distribution overall and per class; speakers per class
    bias = "bias"  # association of the target with every column (confounds), Holm-corrected
    features = "features"  # feature importance and per-class distributions of the top features
    scatter = "scatter"  # the feature space in 2-D (PCA, t-SNE, UMAP)


class ScatterMethod(enum.Enum):
    pca = "pca"
    tsne = "tsne"
    umap = "umap"  # needs umap-learn; skipped with a note when it is not installed


class Importance(enum.Enum):
    permutation = "permutation"  # the configured model, fitted on train, permuted on test
    tree = "tree"  # feature_importances_ of the tree model (explore.tree_model: a learner)
    linear = "linear"  # |coefficients| of a logistic/linear regression on standardised features
    shap = "shap"  # mean |SHAP value| of the tree model; needs shap, skipped when not installed


class RankBy(enum.Enum):
    mean_rank = "mean_rank"  # the mean of each feature's rank over the importance methods run
    permutation = "permutation"
    tree = "tree"
    linear = "linear"
    shap = "shap"


class PlotFormat(enum.Enum):
    png = "png"
    svg = "svg"
    pdf = "pdf"


class DistributionPlot(enum.Enum):
    violin = "violin"
    box = "box"


def _all_analyses() -> list[Analysis]:
    return list(Analysis)


@dataclass
class ExploreConfig:
    """What ``nk explore`` analyses and plots (the ``explore`` section of the config)."""

    columns: list[str] | None = param(
        None, help="columns to analyse against the target; None: every other label column "
                   "present (speaker, gender, age, duration, db …; constant ones are skipped)")
    analyses: list[Analysis] = param(
        default_factory=_all_analyses,
        help="what to do: counts, durations, bias, features, scatter (default: all)")
    top_k: int = param(10, ge=1, help="features whose per-class distributions are plotted")
    importance: list[Importance] = param(
        default_factory=lambda: list(Importance),
        help="feature importance methods: permutation, tree, linear, shap (shap only when installed)")
    rank_by: RankBy = param(RankBy.mean_rank, help="importance that picks the top features")
    tree_model: list[str] = param(
        default_factory=lambda: ["extra_trees", "extra_trees_reg"],
        help="learners (model group) for the tree importance and SHAP: the first that does the "
             "target's task is used; its fitted model has feature_importances_ (e.g. "
             "[random_forest, random_forest_reg], or a plugin's tree learners)")
    n_repeats: int = param(5, ge=1, help="shuffles per feature for the permutation importance")
    scatter: list[ScatterMethod] = param(
        default_factory=lambda: list(ScatterMethod),
        help="2-D projections of the feature space: pca, tsne, umap (umap only when installed)")
    colour_by: list[str] = param(
        default_factory=lambda: ["target", "gender", "speaker"],
        help="columns that colour the scatter plots ('target': the target); absent ones are skipped")
    max_points: int = param(2000, ge=10, help="rows shown in t-SNE/UMAP (a seeded sample beyond)")
    perplexity: float = param(30.0, gt=0, help="t-SNE perplexity (lowered for small data)")
    tsne_iterations: int = param(500, ge=250, help="t-SNE optimisation steps (the first 250 exaggerate)")
    bins: int | None = param(
        None, ge=2, help="also count continuous columns in this many equal-count bins (bar plots "
                         "and tables); None: histograms, KDE and violins only")
    distribution: DistributionPlot = param(DistributionPlot.violin,
                                           help="per-class plots of continuous values: violin or box")
    alpha: float = param(0.05, gt=0, lt=1, help="significance level (for Holm-corrected p-values)")
    formats: list[PlotFormat] = param(
        default_factory=lambda: [PlotFormat.png],
        help="plot file formats; png is always written, svg and pdf in addition")
    dpi: int = param(100, ge=50, le=600, help="resolution of the PNG plots")
    plot_jobs: int = param(0, ge=0, help="processes that render plots, the main one included (the "
                                         "others also run t-SNE/UMAP); 0: one per core, at most 4")
    report: bool = param(True, help="write report.html (and report.tex/.pdf) with nk.report")
