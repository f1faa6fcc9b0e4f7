"""``extract.backend=ray``: featurizer batches on Ray actors give the local backend's features and
fill the same cache. One local Ray cluster (2 CPUs, no dashboard) for the whole module."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from nk.cache import FeatureCache
from nk.context import RunContext
from nk.distributed import n_actors
from nk.featurize import extract
from nk.testing import write_tone

pytestmark = pytest.mark.ray

BATCHED_PLUGIN = '''
from dataclasses import dataclass

import numpy as np

from nk import hookimpl
from nk.registry import param


@dataclass
class PaddedConfig:
    batch_seconds: float = param(2.0, gt=0, key=False, help="padded audio seconds per batch")


class Padded:
    """Mean, sd and peak of |signal|, computed for a padded batch with a mask."""

    process_safe = False
    sampling_rate = None

    def __init__(self, *, batch_seconds):
        self.batch_seconds = batch_seconds

    def feature_names(self):
        return ["mean", "std", "peak"]

    def extract(self, signal, sampling_rate):
        x = np.abs(signal.astype(np.float64))
        return np.array([x.mean(), x.std(), x.max()], dtype=np.float32)

    def extract_batch(self, signals, sampling_rate):
        return [self.extract(s, sampling_rate) for s in signals]


@hookimpl
def nk_register_featurizers(register):
    register("padded", Padded, PaddedConfig, description="batched test featurizer")
'''


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    ray = pytest.importorskip("ray")
    folder = tmp_path_factory.mktemp("ray_plugin")
    (folder / "nk_padded_test.py").write_text(BATCHED_PLUGIN)
    sys.path.insert(0, str(folder))
    old = os.environ.get("PYTHONPATH")
    # the actors' processes import the plugin module (and this checkout of nk) from PYTHONPATH
    os.environ["PYTHONPATH"] = os.pathsep.join([str(folder), *filter(None, [old])])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
    sys.path.remove(str(folder))
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old


def _corpus(folder: Path, n: int = 16) -> pd.Index:
    files = [str(write_tone(folder / f"f{i:02d}.wav", f0=110 + 13 * i, seconds=0.3 + 0.05 * (i % 5), seed=i))
             for i in range(n)]
    return pd.Index(files, name="file")


def _extract(nk_pm, nk_compose, tmp_path, name, index, *overrides):
    cfg = nk_compose([f"feats={name}", f"cache_dir={tmp_path / 'cache'}", *overrides])
    log = logging.getLogger("nk.test-distributed")
    ctx = RunContext(cfg=cfg, run_dir=tmp_path, pm=nk_pm, log=log, console=Console(quiet=True))
    comp = nk_pm.registry.get("feats", name)
    values = comp.defaults()
    return extract(comp, comp.build(values), values, index, ctx)


@pytest.mark.parametrize("name", ["mfcc", "padded"], ids=["per-row", "batched"])
def test_ray_actors_give_the_local_features_and_fill_the_cache(ray_cluster, nk_pm, nk_register_plugin,
                                                               nk_compose, tmp_path, caplog, name):
    import nk_padded_test

    nk_register_plugin(nk_padded_test, name="nk-padded-test")
    index = _corpus(tmp_path / "audio")
    local = _extract(nk_pm, nk_compose, tmp_path / "local", name, index, "n_jobs=1")
    with caplog.at_level(logging.INFO, logger="nk.test-distributed"):
        on_ray = _extract(nk_pm, nk_compose, tmp_path / "ray", name, index, "extract.backend=ray",
                          "extract.actors=2")
    assert "2 Ray actors" in caplog.text and f"extracted {len(index)} new rows" in caplog.text
    pd.testing.assert_frame_equal(on_ray, local)
    (entry,) = FeatureCache(tmp_path / "ray" / "cache").entries()
    assert entry.verify()["rows"] == len(index)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="nk.test-distributed"):  # a rerun reads the cache
        again = _extract(nk_pm, nk_compose, tmp_path / "ray", name, index, "extract.backend=ray")
    assert f"{len(index)} rows from the cache" in caplog.text
    assert np.array_equal(again.to_numpy(), local.to_numpy())


@pytest.mark.parametrize(("requested", "cpus", "gpus", "resources", "rows", "expected"), [
    pytest.param(None, 1, 0, {"CPU": 8.0}, 100, 8, id="one-per-cpu"),
    pytest.param(None, 2, 0, {"CPU": 8.0}, 100, 4, id="two-cpus-each"),
    pytest.param(None, 1, 1, {"CPU": 8.0, "GPU": 2.0}, 100, 2, id="one-per-gpu"),
    pytest.param(None, 1, 0.5, {"CPU": 8.0, "GPU": 2.0}, 100, 4, id="half-a-gpu-each"),
    pytest.param(3, 1, 0, {"CPU": 8.0}, 100, 3, id="requested"),
    pytest.param(None, 1, 0, {"CPU": 8.0}, 9, 2, id="few-rows"),
])
def test_actor_count_follows_the_cluster(requested, cpus, gpus, resources, rows, expected):
    assert n_actors(requested, cpus, gpus, resources, rows) == expected
