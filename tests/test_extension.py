"""Third-party plugins extend every kind and the command line without touching core."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pandas as pd
from rich.console import Console

from nk import hookimpl
from nk.cli import main
from nk.config import selected
from nk.data import Corpus
from nk.pipeline import run_experiment
from nk.registry import param
from nk.testing import LoaderContract, ReporterContract


@dataclass
class TonesConfig:
    n_speakers: int = param(6, ge=4, help="speakers to synthesise")


class Tones:
    """A loader reading nk.testing's tiny corpus (pitch classes 'low'/'high')."""

    def __init__(self, *, n_speakers: int) -> None:
        self.n_speakers = n_speakers

    def load(self, ctx):
        from nk.testing import write_tiny_corpus

        frame = write_tiny_corpus(ctx.work_dir / "tones", n_speakers=self.n_speakers)
        return Corpus(frame=frame, name="tones", default_target="label")


@dataclass
class SummaryConfig:
    filename: str = param("summary.txt", help="file written into the run folder")


class Summary:
    def __init__(self, *, filename: str) -> None:
        self.filename = filename

    def report(self, result, ctx):
        path = ctx.run_dir / self.filename
        path.write_text(f"{result['summary']}\n")
        return [path]


@dataclass
class ConstantConfig:
    value: str = param("unknown", help="the value predicted for every row")


class Constant:
    def __init__(self, *, value: str) -> None:
        self.value = value

    def predict(self, frame, ctx):
        return pd.DataFrame({"constant": self.value}, index=frame.index)


@dataclass
class VoteConfig:
    """No parameters."""


class Vote:
    def combine(self, predictions, ctx):
        stacked = pd.concat([p["pred"] for p in predictions], axis=1)
        out = predictions[0][["truth"]].copy()
        out["pred"] = stacked.mode(axis=1)[0]
        return out


class ThirdParty:
    @hookimpl
    def nk_register_loaders(self, register):
        register("tones", Tones, TonesConfig, description="tiny synthetic tones")

    @hookimpl
    def nk_register_reporters(self, register):
        register("summary", Summary, SummaryConfig, description="one-line summary file")

    @hookimpl
    def nk_register_predictors(self, register):
        register("constant", Constant, ConstantConfig, description="predicts a constant")

    @hookimpl
    def nk_register_ensemblers(self, register):
        register("vote", Vote, VoteConfig, description="majority vote")

    @hookimpl
    def nk_add_commands(self, subparsers: argparse._SubParsersAction) -> None:
        hello = subparsers.add_parser("hello", help="say hello")
        hello.add_argument("who")
        hello.set_defaults(handler=lambda args, app: app.console.print(f"hello {args.who}") or 0)


def test_third_party_components_join_every_group(nk_pm, nk_register_plugin, nk_compose):
    nk_register_plugin(ThirdParty(), name="nk-third")
    cfg = nk_compose(["data=tones", "report=[plots,summary]", "predict=constant", "ensemble=vote"])
    assert selected(cfg, "data")[0][0] == "tones"
    assert [n for n, _ in selected(cfg, "report")] == ["plots", "summary"]
    assert selected(cfg, "predict") == [("constant", {"value": "unknown"})]
    assert selected(cfg, "ensemble") == [("vote", {})]


def test_third_party_loader_and_reporter_run(nk_pm, nk_register_plugin, nk_compose, tmp_path):
    nk_register_plugin(ThirdParty(), name="nk-third")
    cfg = nk_compose(["data=tones", "feats=mfcc", "report=[plots,summary]", "n_jobs=1",
                      "split.test_size=0.5"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results = run_experiment(cfg, nk_pm, run_dir, Console(quiet=True))
    assert (run_dir / "summary.txt").read_text().startswith("UAR")
    assert results["test"]["uar"]["value"] > 0.7  # pitch classes are easy
    assert "summary.txt" in results["artefacts"]


def test_third_party_predictor_and_ensembler(nk_pm, nk_register_plugin):
    nk_register_plugin(ThirdParty(), name="nk-third")
    index = pd.Index(["/a.wav", "/b.wav"], name="file")
    out = nk_pm.registry.get("predict", "constant").build({"value": "x"}).predict(pd.DataFrame(index=index), None)
    assert list(out["constant"]) == ["x", "x"]
    preds = [pd.DataFrame({"truth": ["a", "b"], "pred": p}, index=index) for p in (["a", "a"], ["a", "b"], ["b", "b"])]
    voted = nk_pm.registry.get("ensemble", "vote").build({}).combine(preds, None)
    assert list(voted["pred"]) == ["a", "b"]


def test_plugin_adds_a_subcommand(nk_pm, nk_register_plugin, capsys):
    nk_register_plugin(ThirdParty(), name="nk-third")
    assert main(["hello", "world"], pm=nk_pm) == 0
    assert "hello world" in capsys.readouterr().out


class TestTonesLoader(LoaderContract):
    name = "tones"
    plugin = ThirdParty()


class TestSummaryReporter(ReporterContract):
    name = "summary"
    plugin = ThirdParty()
