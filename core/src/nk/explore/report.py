"""The report of ``nk explore`` as a :class:`nk.report.ReportDoc`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from nk import report as nk_report
from nk.explore import safe_name, stats
from nk.report.run import document_option

if TYPE_CHECKING:
    from nk.context import RunContext
    from nk.explore.plots import PlotJob


@dataclass
class ExploreOutput:
    """What an ``nk explore`` run produced, as the report reads it."""

    ctx: RunContext
    result: dict[str, Any]  # the content of explore.json
    frame: pd.DataFrame  # the analysed rows (for the data hash)
    jobs: Sequence[PlotJob]  # the plots, in order
    plot_dir: Path
    tables: dict[str, Path]  # stem → CSV file

SECTIONS = {
    "counts": ("Value counts", "Rows and distinct speakers per value of the target and of each column; "
               "continuous columns as histograms with a kernel density estimate, per target class, and "
               "as the distribution of per-speaker means."),
    "durations": ("Durations", "How long the rows are, overall and per class, and how many speakers "
                  "each class has."),
    "bias": ("Bias and confounds", ""),
    "features": ("Features", ""),
    "scatter": ("Feature space", "Two-dimensional projections of the standardised features. Clusters "
                "that follow a column other than the target (gender, speaker) show what else the "
                "features encode."),
}

BIAS_TEXT = """\
Each column is tested against the target: categorical × categorical with a chi-square test and \
the bias-corrected Cramér's V (Bergsma 2013), categorical × continuous with a Kruskal–Wallis test \
and epsilon² (pairwise Mann–Whitney tests with rank-biserial correlations), continuous × \
continuous with Spearman's rho and Pearson's r with 95 % confidence intervals (Fisher z). All \
p-values are corrected for multiple comparisons with Holm's method (alpha {alpha}).

Strength words follow Cohen's conventions: Cramér's V 0.1/0.3/0.5 divided by the square root of \
min(rows, columns) − 1; epsilon² 0.01/0.06/0.14; |r|, |rho|, |rank-biserial| 0.1/0.3/0.5 for \
weak/moderate/strong (below: negligible). The table is ranked by a strength score that puts these \
thresholds on one scale (0–1 negligible, 1–2 weak, 2–3 moderate, 3–4 strong), then by corrected p.

Rows of one speaker are not independent, so p-values of speaker-level columns (gender, age) are \
optimistic; judge them by their effect sizes."""


def _figures(explorer: ExploreOutput, section: str) -> list[nk_report.Figure]:
    out = []
    for job in explorer.jobs:
        if job.section == section:
            path = explorer.plot_dir / f"{job.stem}.png"
            if path.exists():
                out.append(nk_report.Figure(job.caption, path))
    return out


def _round(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    return frame.round(digits)


def build_document(explorer: ExploreOutput) -> nk_report.ReportDoc:
    """Title and author from ``document``; one section per analysis run; notes; the config."""
    cfg = explorer.ctx.cfg
    ecfg = cfg.explore
    result = explorer.result
    title = document_option(cfg, "title") or f"{cfg.name}: data exploration"
    author = document_option(cfg, "author")
    subtitle = (f"target {result['target']} ({result['task']}), {result['rows']} rows"
                + (f", {result['speakers']} speakers" if result.get("speakers") else ""))
    sections = []
    done = result.get("analyses", [])
    for key in ("counts", "durations", "bias", "features", "scatter"):
        if key not in done:
            continue
        heading, text = SECTIONS[key]
        tables = []
        target_counts = f"counts_{safe_name(result['target'])}"
        if key == "counts" and target_counts in explorer.tables:
            tables.append(nk_report.Table(f"Rows and speakers per value of {result['target']}",
                                          _round(pd.read_csv(explorer.tables[target_counts], index_col=0))))
        if key == "durations" and "durations" in explorer.tables:
            tables.append(nk_report.Table("Durations in seconds (total in minutes) per class",
                                          _round(pd.read_csv(explorer.tables["durations"], index_col=0))))
        if key == "bias":
            text = BIAS_TEXT.format(alpha=float(ecfg.alpha))
            bias = result.get("bias", {}).get("associations", [])
            if bias:
                text += "\n\n" + "\n".join(f"- {r['sentence']}" for r in bias[:10])
                frame = pd.DataFrame(bias)[["rank", "column", "test", "n", "measure", "effect", "ci_low",
                                            "ci_high", "p", "p_holm", "strength", "significant"]]
                frame["measure"] = [stats.SYMBOLS.get(m, m) for m in frame["measure"]]
                tables.append(nk_report.Table(f"Associations of {result['target']} with each column, ranked",
                                              _round(frame).set_index("rank"),
                                              note="p_holm: Holm-corrected; ci: 95 % CI (correlations only)"))
            info = result.get("bias", {}).get("speaker_labels")
            if info:
                text += (f"\n\n{info['single_label_speakers']} of {info['speakers']} speakers have a single "
                         f"{result['target']} class; on average a speaker has {info['mean_classes_per_speaker']:.1f} "
                         f"of the {info['classes']} classes.")
        if key == "features":
            feats = result.get("features", {})
            model = feats.get("model", {})
            text = (f"{feats.get('n_features', 0)} features. Importance: permutation importance of the "
                    f"configured model ({model.get('model', 'n/a')}; drop of {model.get('metric', 'the metric')} "
                    f"when a feature is shuffled in the {model.get('test_rows', 'n/a')} held-out rows, "
                    f"baseline {model.get('test_score', 'n/a')}), impurity/gain importance of "
                    f"{model.get('tree_model', 'a tree model')}, |coefficients| of a linear model on standardised "
                    f"features, and mean |SHAP| when shap is installed; features are ranked by "
                    f"{model.get('ranked_by', 'mean rank')}. The plots show the top "
                    f"{len(feats.get('top', []))} features per class with their effect size "
                    "(Kruskal–Wallis epsilon², or Cohen's d for two classes; Holm-corrected over all features). "
                    "A negative permutation importance means that shuffling the feature made the held-out "
                    "score better: the model gains nothing from the feature on those speakers (chance, or "
                    "the feature misleads on new speakers).")
            if "feature_importance" in explorer.tables:
                imp = pd.read_csv(explorer.tables["feature_importance"], index_col=0).head(int(ecfg.top_k))
                keep = [c for c in ("rank", "permutation", "tree", "linear", "shap", "mean_rank", "target_effect",
                                    "target_p_holm") if c in imp.columns]
                tables.append(nk_report.Table("Feature importance (top features)", _round(imp[keep], 4)))
        if key == "scatter" and "pca" in result.get("scatter", {}):
            ratio = result["scatter"]["pca"]["explained_variance_ratio"]
            text += f" The first two principal components explain {ratio[0]:.0%} and {ratio[1]:.0%} of the variance."
        sections.append(nk_report.Section(heading, text=text, tables=tables,
                                          figures=_figures(explorer, key)))
    notes = result.get("notes", [])
    if notes:
        sections.append(nk_report.Section("Notes", text="\n".join(f"- {n}" for n in notes)))
    config_path = Path(explorer.ctx.run_dir) / "config.yaml"  # written redacted by run_in_folder
    config_text = config_path.read_text(encoding="utf-8") if config_path.exists() else ""
    sections.append(nk_report.Section("Configuration", text="The composed configuration of this run "
                                      "(config.yaml; values of secret-looking keys are replaced by ***).",
                                      code=config_text))
    metadata = dict(nk_report.environment_info(explorer.ctx.pm, explorer.ctx.cfg))  # + components, seed
    metadata["data hash (sha256)"] = nk_report.data_hash(explorer.frame)
    metadata["results folder"] = str(Path(explorer.ctx.run_dir))
    return nk_report.ReportDoc(title=title, author=author, subtitle=subtitle, sections=sections,
                               metadata=metadata)
