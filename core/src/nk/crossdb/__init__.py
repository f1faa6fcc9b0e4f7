"""``nk crossdb``: train on each database (or on all but one) and test on every other.

:mod:`nk.crossdb.config` declares the ``crossdb`` config section (light to import);
:mod:`nk.crossdb.run` runs the experiment through nk's stages (:mod:`nk.stages`) and fold
fitting (:mod:`nk.fit`), and writes the matrix, its heatmap and the report.
"""
