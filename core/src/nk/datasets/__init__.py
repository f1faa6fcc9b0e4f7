"""Dataset recipes: ``nk data prepare NAME`` turns a public corpus into nk's table.

One module per corpus (:mod:`nk.datasets.emodb`, …), the shared machinery in
:mod:`nk.datasets.base` (sources, archives, downloads, the table and its licence file) and the
common emotion names in :mod:`nk.datasets.emotions`. They are registered as components of the
registry group ``dataset`` by :mod:`nk.builtin.datasets`, the plugin entry module.

Importing this package (and any recipe module) imports only the standard library and nk's
light modules: ``nk --help`` and ``nk data list`` import them.
"""

from __future__ import annotations

from nk.datasets.base import Download, Recipe, RecipeConfig, Row

RECIPE_MODULES = (
    "emodb", "ravdess", "cremad", "tess", "savee", "shemo", "emovo", "cafe", "enterface", "urdu",
    "esd", "jl", "mesd", "polish", "iemocap", "msppodcast", "mspimprov",
)
"""The recipe modules, each defining one :class:`Recipe` subclass named ``RECIPE``."""

__all__ = ["RECIPE_MODULES", "Download", "Recipe", "RecipeConfig", "Row"]
