"""Statistics of ``nk explore``: association tests with effect sizes, confidence intervals, Holm's
correction, and the words that describe an effect's strength.

Tests by the kinds of the two variables:

=========================  ===============================================  =====================
variables                  test                                             effect size (primary)
=========================  ===============================================  =====================
categorical × categorical  χ² test of independence (no Yates correction)    bias-corrected
                                                                            Cramér's V
categorical × continuous   Kruskal–Wallis H; pairwise Mann–Whitney U        ε² = H / (n − 1);
                                                                            rank-biserial r
continuous × continuous    Pearson r and Spearman ρ, 95 % CIs (Fisher z)    Spearman ρ
=========================  ===============================================  =====================

Cramér's V is reported plain and bias-corrected (Bergsma 2013: φ² and the table's dimensions
corrected for their expected inflation in small samples); the corrected V is the one that is
ranked and described, since plain V is clearly above 0 for independent variables with many
levels (such as speakers). The Spearman CI uses the Fisher z standard error sqrt(1.06 / (n − 3))
(Fieller, Hartley and Pearson 1957); Pearson's uses sqrt(1 / (n − 3)).

Strength words (Cohen 1988 conventions; a value below the first threshold is negligible):

==========================  ======  ========  ======
measure                     weak    moderate  strong
==========================  ======  ========  ======
Cramér's V, df* = min(r, c) − 1     0.1/√df*  0.3/√df*  0.5/√df*
ε² (Kruskal–Wallis), η²     0.01    0.06      0.14
|r|, |ρ|, |rank-biserial|   0.1     0.3       0.5
|Cohen's d|                 0.2     0.5       0.8
==========================  ======  ========  ======

To rank effects measured on different scales, each is mapped onto a common *strength score*:
0–1 negligible, 1–2 weak, 2–3 moderate, 3–4 strong, linear between the thresholds (and from
the strong threshold to the measure's maximum, 1). Ties go to the smaller corrected p-value.

Every test treats rows as independent. Rows of one speaker are not, so p-values of
speaker-level columns (gender, age) are optimistic; the effect sizes are the better guide.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

CATEGORICAL = "categorical"
CONTINUOUS = "continuous"

THRESHOLDS: dict[str, tuple[float, float, float]] = {
    "cramers_v": (0.1, 0.3, 0.5),  # divided by sqrt(df*) in thresholds()
    "epsilon2": (0.01, 0.06, 0.14),
    "eta2": (0.01, 0.06, 0.14),
    "r": (0.1, 0.3, 0.5),
    "d": (0.2, 0.5, 0.8),
}
WORDS = ("negligible", "weak", "moderate", "strong")
SYMBOLS = {"cramers_v": "Cramér's V", "epsilon2": "ε²", "eta2": "η²", "r": "r", "rho": "ρ",
           "rank_biserial": "rank-biserial r", "d": "Cohen's d"}


# --- multiple comparisons --------------------------------------------------------------------


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and does not count as a test).

    With the m p-values sorted ascending, p_(i) becomes max over j ≤ i of min(1, (m − j + 1) p_(j)).
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


# --- effect sizes and tests ------------------------------------------------------------------


@dataclass(frozen=True)
class ChiSquare:
    chi2: float
    dof: int
    p: float
    n: int
    v: float  # Cramér's V
    v_corrected: float  # Bergsma's bias-corrected V
    df_star: int  # min(rows, cols) - 1
    small_expected: float  # share of cells with an expected count below 5


def cramers_v(table: pd.DataFrame | np.ndarray) -> ChiSquare:
    """χ² test of independence of a contingency table with plain and bias-corrected Cramér's V."""
    from scipy.stats import chi2_contingency

    counts = np.asarray(table, dtype=float)
    counts = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]
    r, c = counts.shape
    n = int(counts.sum())
    if r < 2 or c < 2:
        raise ValueError("a contingency table needs at least two non-empty rows and columns")
    chi2, p, dof, expected = chi2_contingency(counts, correction=False)
    phi2 = chi2 / n
    df_star = min(r, c) - 1
    v = math.sqrt(phi2 / df_star)
    # Bergsma (2013): subtract phi²'s expectation under independence and shrink the dimensions
    phi2_c = max(0.0, phi2 - (r - 1) * (c - 1) / (n - 1))
    r_c = r - (r - 1) ** 2 / (n - 1)
    c_c = c - (c - 1) ** 2 / (n - 1)
    denom = min(r_c - 1, c_c - 1)
    v_c = math.sqrt(phi2_c / denom) if denom > 0 else 0.0
    return ChiSquare(float(chi2), int(dof), float(p), n, v, v_c, df_star,
                     float((expected < 5).mean()))


@dataclass(frozen=True)
class Kruskal:
    h: float
    p: float
    n: int
    k: int
    epsilon2: float  # H / (n - 1)


def kruskal(groups: Sequence[np.ndarray]) -> Kruskal:
    """Kruskal–Wallis H test with the effect size ε² = H / (n − 1) (Tomczak & Tomczak 2014)."""
    from scipy.stats import kruskal as _kruskal

    groups = [np.asarray(g, dtype=float) for g in groups]
    groups = [g[~np.isnan(g)] for g in groups]
    groups = [g for g in groups if len(g)]
    if len(groups) < 2:
        raise ValueError("Kruskal–Wallis needs at least two non-empty groups")
    n = sum(len(g) for g in groups)
    h, p = _kruskal(*groups)
    if not np.isfinite(h):
        raise ValueError("all values are identical")
    return Kruskal(float(h), float(p), n, len(groups), float(min(1.0, h / (n - 1))))


@dataclass(frozen=True)
class MannWhitney:
    u: float
    p: float
    n1: int
    n2: int
    rank_biserial: float  # > 0: the first group tends to have the larger values


def mann_whitney(x: np.ndarray, y: np.ndarray) -> MannWhitney:
    """Two-sided Mann–Whitney U with the rank-biserial correlation r = 2 U_x / (n_x n_y) − 1."""
    from scipy.stats import mannwhitneyu

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    u, p = mannwhitneyu(x, y, alternative="two-sided")
    return MannWhitney(float(u), float(p), len(x), len(y), float(2 * u / (len(x) * len(y)) - 1))


def eta_squared(groups: Sequence[np.ndarray]) -> float:
    """η² of a one-way ANOVA: between-group over total sum of squares."""
    groups = [np.asarray(g, dtype=float) for g in groups]
    groups = [g[~np.isnan(g)] for g in groups if len(g)]
    values = np.concatenate(groups)
    total = float(((values - values.mean()) ** 2).sum())
    if total == 0:
        return 0.0
    between = sum(len(g) * (g.mean() - values.mean()) ** 2 for g in groups if len(g))
    return float(between / total)


def cohens_d(a: np.ndarray, b: np.ndarray) -> float:
    """(mean b − mean a) / pooled SD (ddof 1); 0 when both are constant."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    na, nb = len(a), len(b)
    pooled = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    diff = float(b.mean() - a.mean())
    return diff / pooled if pooled > 0 else 0.0


@dataclass(frozen=True)
class Correlation:
    r: float
    p: float
    n: int
    ci: tuple[float, float]


def fisher_ci(r: float, n: int, level: float = 0.95, se_factor: float = 1.0) -> tuple[float, float]:
    """Confidence interval of a correlation through Fisher's z: tanh(atanh r ± z_q · sqrt(f / (n − 3)))."""
    from scipy.stats import norm

    if n <= 3:
        return (-1.0, 1.0)
    if abs(r) >= 1:
        return (float(r), float(r))
    z = math.atanh(r)
    half = float(norm.ppf(0.5 + level / 2)) * math.sqrt(se_factor / (n - 3))
    return (math.tanh(z - half), math.tanh(z + half))


def _pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        raise ValueError("a correlation needs at least 3 rows and two non-constant variables")
    return x, y


def pearson(x: np.ndarray, y: np.ndarray, level: float = 0.95) -> Correlation:
    from scipy.stats import pearsonr

    x, y = _pair(x, y)
    r, p = pearsonr(x, y)
    return Correlation(float(r), float(p), len(x), fisher_ci(float(r), len(x), level))


def spearman(x: np.ndarray, y: np.ndarray, level: float = 0.95) -> Correlation:
    from scipy.stats import spearmanr

    x, y = _pair(x, y)
    rho, p = spearmanr(x, y)
    return Correlation(float(rho), float(p), len(x), fisher_ci(float(rho), len(x), level, 1.06))


# --- words -----------------------------------------------------------------------------------


def thresholds(measure: str, df_star: int = 1) -> tuple[float, float, float]:
    base = THRESHOLDS["r" if measure in ("rho", "rank_biserial") else measure]
    if measure == "cramers_v":
        scale = math.sqrt(max(1, df_star))
        return (base[0] / scale, base[1] / scale, base[2] / scale)
    return base


def strength(measure: str, value: float, df_star: int = 1) -> tuple[str, float]:
    """(word, strength score 0–4) of an effect size; see the module docstring."""
    t1, t2, t3 = thresholds(measure, df_star)
    v = abs(float(value))
    top = max(1.0, t3 * 2) if measure == "d" else 1.0
    if v < t1:
        return WORDS[0], v / t1
    if v < t2:
        return WORDS[1], 1 + (v - t1) / (t2 - t1)
    if v < t3:
        return WORDS[2], 2 + (v - t2) / (t3 - t2)
    return WORDS[3], 3 + min(1.0, (v - t3) / (top - t3))


def format_p(p: float) -> str:
    """APA style: 'p < .001', 'p = .023', 'p = 1'."""
    if p is None or not np.isfinite(p):
        return "p = n/a"
    if p < 0.001:
        return "p < .001"
    if p >= 0.9995:
        return "p = 1"
    return "p = " + f"{p:.3f}".lstrip("0")


def format_effect(measure: str, value: float) -> str:
    return f"{SYMBOLS.get(measure, measure)} = {value:.2f}" if abs(value) >= 0.005 or value == 0 else \
        f"{SYMBOLS.get(measure, measure)} = {value:.3f}"


_PHRASES = {
    "negligible": "shows no notable association with",
    "weak": "is weakly associated with",
    "moderate": "is moderately associated with",
    "strong": "is strongly associated with",
}


def sentence(target: str, column: str, word: str, measure: str, value: float, p_corrected: float,
             *, direction: str = "") -> str:
    """'emotion is strongly associated with gender: Cramér's V = 0.41, p < .001'."""
    extra = f" ({direction})" if direction else ""
    return (f"{target} {_PHRASES[word]} {column}{extra}: {format_effect(measure, value)}, "
            f"{format_p(p_corrected)}")


# --- variables -------------------------------------------------------------------------------


def column_kind(values: pd.Series) -> str:
    """Numeric columns with more than 5 distinct values are continuous; others categorical."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return CATEGORICAL
    return CONTINUOUS if values.nunique(dropna=True) > 5 else CATEGORICAL


def _levels(values: pd.Series) -> list[Any]:
    return sorted(values.dropna().unique().tolist(), key=lambda v: (str(type(v)), v))


def associate(frame: pd.DataFrame, target: str, column: str, target_kind: str, column_kind_: str,
              *, pairwise: bool = True, max_pairwise_levels: int = 10) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One association test of ``target`` with ``column``: (row, pairwise Mann–Whitney rows).

    Raises ValueError when the test is not defined (a constant column, one class).
    """
    data = frame[[target, column]].dropna()
    row: dict[str, Any] = {"target": target, "column": column, "target_kind": target_kind,
                           "column_kind": column_kind_, "n": len(data)}
    pairs: list[dict[str, Any]] = []
    if target_kind == CATEGORICAL and column_kind_ == CATEGORICAL:
        table = pd.crosstab(data[target].astype(str), data[column].astype(str))
        res = cramers_v(table)
        row.update(test="chi-square", statistic=res.chi2, dof=res.dof, p=res.p, measure="cramers_v",
                   effect=res.v_corrected, cramers_v_plain=res.v, df_star=res.df_star,
                   levels=int(min(table.shape)), ci_low=np.nan, ci_high=np.nan,
                   note=(f"{res.small_expected:.0%} of cells expect fewer than 5 rows: p is approximate"
                         if res.small_expected > 0.2 else ""))
        return row, pairs
    if target_kind == CONTINUOUS and column_kind_ == CONTINUOUS:
        pr = pearson(data[target].to_numpy(), data[column].to_numpy())
        sr = spearman(data[target].to_numpy(), data[column].to_numpy())
        row.update(test="spearman", statistic=sr.r, dof=np.nan, p=sr.p, measure="rho", effect=sr.r,
                   ci_low=sr.ci[0], ci_high=sr.ci[1], pearson_r=pr.r, pearson_p=pr.p,
                   pearson_ci_low=pr.ci[0], pearson_ci_high=pr.ci[1], df_star=1, levels=np.nan, note="")
        return row, pairs
    group_col, value_col = (target, column) if target_kind == CATEGORICAL else (column, target)
    levels = _levels(data[group_col])
    groups = [data.loc[data[group_col] == lv, value_col].to_numpy(dtype=float) for lv in levels]
    res_k = kruskal(groups)
    row.update(test="kruskal-wallis", statistic=res_k.h, dof=res_k.k - 1, p=res_k.p, measure="epsilon2",
               effect=res_k.epsilon2, ci_low=np.nan, ci_high=np.nan, df_star=1, levels=res_k.k,
               eta2=eta_squared(groups), note="")
    if pairwise and 2 <= len(levels) <= max_pairwise_levels:
        for i in range(len(levels)):
            for j in range(i + 1, len(levels)):
                if len(groups[i]) == 0 or len(groups[j]) == 0:
                    continue
                mw = mann_whitney(groups[i], groups[j])
                pairs.append({"target": target, "column": column, "grouped_by": group_col,
                              "values_of": value_col, "group_a": str(levels[i]), "group_b": str(levels[j]),
                              "n_a": mw.n1, "n_b": mw.n2, "U": mw.u, "p": mw.p,
                              "rank_biserial": mw.rank_biserial,
                              "median_a": float(np.median(groups[i])), "median_b": float(np.median(groups[j]))})
    return row, pairs


def describe(row: dict[str, Any], alpha: float) -> dict[str, Any]:
    """Add the strength word and score, significance and the plain-language sentence to a row."""
    word, score = strength(row["measure"], row["effect"], int(row.get("df_star") or 1))
    direction = ""
    if row["measure"] == "rho":
        direction = "positive" if row["effect"] > 0 else "negative"
    significant = bool(row["p_holm"] < alpha)
    text = sentence(row["target"], row["column"], word, row["measure"], row["effect"], row["p_holm"],
                    direction=direction if word != "negligible" else "")
    if word != "negligible" and not significant:
        text += " (not significant)"
    row.update(strength=word, strength_score=score, significant=significant, sentence=text)
    return row


def rank(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The associations ranked by strength score (descending), then corrected p (ascending)."""
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table = table.sort_values(["strength_score", "p_holm"], ascending=[False, True], kind="stable")
    table.insert(0, "rank", range(1, len(table) + 1))
    return table.reset_index(drop=True)


RANKED_COLUMNS = ["rank", "column", "column_kind", "test", "n", "statistic", "dof", "p", "p_holm", "measure",
                  "effect", "ci_low", "ci_high", "strength", "strength_score", "significant", "sentence", "note"]


def association_table(frame: pd.DataFrame, target: str, target_kind: str, columns: Sequence[str],
                      kinds: dict[str, str], alpha: float) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The bias analysis: ``target`` against every column, Holm-corrected, ranked.

    Returns (ranked associations, pairwise Mann–Whitney tests with their own Holm correction,
    notes on columns that could not be tested).
    """
    rows, pairwise, notes = [], [], []
    for column in columns:
        try:
            row, pairs = associate(frame, target, column, target_kind, kinds[column])
        except ValueError as exc:
            notes.append(f"{target} × {column} not tested: {exc}")
            continue
        rows.append(row)
        pairwise.extend(pairs)
    if not rows:
        return pd.DataFrame(), pd.DataFrame(), notes
    for row, p in zip(rows, holm([r["p"] for r in rows]), strict=True):
        row["p_holm"] = float(p)
        describe(row, alpha)
    ranked = rank(rows)
    ranked = ranked[[c for c in RANKED_COLUMNS if c in ranked] + [c for c in ranked if c not in RANKED_COLUMNS]]
    pair_table = pd.DataFrame(pairwise)
    if not pair_table.empty:
        pair_table["p_holm"] = holm(pair_table["p"].to_numpy())
        pair_table["strength"] = [strength("rank_biserial", v)[0] for v in pair_table["rank_biserial"]]
        pair_table["significant"] = pair_table["p_holm"] < alpha
    return ranked, pair_table, notes
