"""Built-in reporter ``plots``: confusion matrix (classification) or truth vs. prediction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nk.hookspecs import hookimpl
from nk.registry import Register

if TYPE_CHECKING:
    from nk.context import RunContext


@dataclass
class PlotsConfig:
    """The plots reporter has no parameters yet."""


class Plots:
    """Writes ``confusion_matrix.png`` or ``truth_vs_prediction.png`` into the run folder, and
    ``epochs.png`` for a model that kept a per-epoch ``history_`` (neural learners)."""


    def report(self, result: dict[str, Any], ctx: RunContext) -> list[Path]:
        from nk import plots

        pred = result["predictions"]
        title = f"{ctx.cfg.name}: {result['summary']}"
        if result["metrics"]["task"] == "classification":
            path = ctx.run_dir / "confusion_matrix.png"
            plots.plot_confusion_matrix(pred["truth"], pred["pred"], result["metrics"]["labels"],
                                        path, title=title)
        else:
            path = ctx.run_dir / "truth_vs_prediction.png"
            plots.plot_truth_vs_prediction(pred["truth"], pred["pred"], path, title=title)
        paths = [path]
        history = getattr(result.get("model"), "history_", None)
        if isinstance(history, list) and history:
            paths.append(ctx.run_dir / "epochs.png")
            plots.plot_epochs(history, paths[-1], best_epoch=getattr(result["model"], "best_epoch_", None),
                              title=f"{ctx.cfg.name}: {result.get('learner', 'model')} training")
        return paths


@hookimpl
def nk_register_reporters(register: Register) -> None:
    register("plots", Plots, PlotsConfig, description="confusion matrix or truth-vs-prediction plot")
