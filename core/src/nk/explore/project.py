"""2-D projections of the feature space (PCA, t-SNE, UMAP); picklable, so that t-SNE and UMAP
can run in a plot worker while the main process computes feature importances."""

from __future__ import annotations

from typing import Any

import numpy as np


class NotInstalled(Exception):
    """The optional package a projection needs is not installed."""


def standardise(X: np.ndarray) -> np.ndarray:
    """Missing values → column means; then zero mean, unit variance (constant columns stay 0)."""
    X = np.asarray(X, dtype=np.float64)
    if np.isnan(X).any():
        means = np.nan_to_num(np.nanmean(X, axis=0))
        X = np.where(np.isnan(X), means, X)
    sd = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def _reduced(X: np.ndarray, seed: int) -> np.ndarray:
    """PCA to 50 dimensions first for many features (the usual step before t-SNE/UMAP; faster)."""
    if X.shape[1] <= 50 or X.shape[0] <= 50:
        return X
    from sklearn.decomposition import PCA

    return PCA(n_components=50, random_state=seed).fit_transform(X)


def project(method: str, X: np.ndarray, *, seed: int, perplexity: float, iterations: int,
            threads: int | None = 1) -> tuple[np.ndarray, dict[str, Any]]:
    """(n × 2 coordinates, what was done) of the standardised matrix ``X`` by ``method``.

    :param threads: BLAS/OpenMP threads (1 in plot workers: the other processes use the cores).
    """
    from contextlib import nullcontext

    limit: Any = nullcontext()
    if threads is not None:
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(threads)
    with limit:
        if method == "pca":
            from sklearn.decomposition import PCA

            pca = PCA(n_components=2, random_state=seed).fit(X)
            ratio = [float(r) for r in pca.explained_variance_ratio_]
            return pca.transform(X), {"explained_variance_ratio": ratio,
                                      "axes": (f"PC1 ({ratio[0]:.0%})", f"PC2 ({ratio[1]:.0%})")}
        if method == "tsne":
            from sklearn.manifold import TSNE

            p = float(min(perplexity, max(2.0, (len(X) - 1) / 3)))
            xy = TSNE(n_components=2, perplexity=p, init="pca", learning_rate="auto", max_iter=iterations,
                      random_state=seed, n_jobs=threads).fit_transform(_reduced(X, seed))
            return xy, {"perplexity": p, "iterations": iterations, "axes": ("t-SNE 1", "t-SNE 2")}
        if method == "umap":
            try:
                import umap
            except ImportError:
                raise NotInstalled("umap-learn") from None
            n_neighbors = int(min(15, len(X) - 1))
            xy = umap.UMAP(n_components=2, n_neighbors=n_neighbors, random_state=seed).fit_transform(
                _reduced(X, seed))
            return np.asarray(xy), {"n_neighbors": n_neighbors, "axes": ("UMAP 1", "UMAP 2")}
    raise ValueError(f"unknown projection {method!r}")
