"""Built-in loaders: ``demo``, a synthetic emotional-speech corpus generated into the cache."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nk import __version__
from nk.hookspecs import hookimpl
from nk.registry import Register, param

if TYPE_CHECKING:
    from nk.context import RunContext
    from nk.data import Corpus


@dataclass
class DemoConfig:
    n_speakers: int = param(12, ge=8, le=24, help="speakers (half female, half male, ages 20s–70s)")
    n_utterances: int = param(8, ge=1, help="utterances per speaker and emotion")
    seed: int = param(0, help="seed of the synthesis (not of the experiment)")
    confound: float = param(0.0, ge=0, le=1, help="strength of an injected gender–emotion confound")


class DemoLoader:
    """Synthesises the demo corpus once into ``<cache>/demo/<key>/`` and loads it from there."""

    def __init__(self, *, n_speakers: int, n_utterances: int, seed: int, confound: float) -> None:
        self.n_speakers = n_speakers
        self.n_utterances = n_utterances
        self.seed = seed
        self.confound = confound

    def _key(self, sampling_rate: int) -> str:
        spec = {**asdict(DemoConfig(self.n_speakers, self.n_utterances, self.seed, self.confound)),
                "sampling_rate": sampling_rate, "version": __version__}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]

    def load(self, ctx: RunContext) -> Corpus:
        import pandas as pd

        from nk.data import Corpus

        rate = int(ctx.cfg.sampling_rate)
        folder = ctx.cache_dir / "demo" / self._key(rate)
        table = folder / "table.csv"
        if not table.exists():
            self._synthesize(folder, rate, ctx)
        frame = pd.read_csv(table, index_col="file")
        frame.index = pd.Index([str(folder / f) for f in frame.index], name="file")
        return Corpus(frame=frame, name="demo", default_target="emotion")

    def _synthesize(self, folder: Path, rate: int, ctx: RunContext) -> None:
        from rich.progress import Progress

        from nk.builtin.demo_audio import synthesize_corpus

        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
        try:
            with Progress(console=ctx.console, transient=True) as progress:
                task = progress.add_task("Synthesising the demo corpus", total=None)

                def report(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                frame = synthesize_corpus(
                    tmp, n_speakers=self.n_speakers, n_utterances=self.n_utterances,
                    sampling_rate=rate, seed=self.seed, confound=self.confound, progress=report,
                )
            frame.index = [os.path.relpath(f, tmp) for f in frame.index]
            frame.index.name = "file"
            frame.to_csv(tmp / "table.csv")
            try:
                os.replace(tmp, folder)  # atomic; a concurrent run may have won the race
            except OSError:
                if not (folder / "table.csv").exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        ctx.log.info("Synthesised the demo corpus into %s", folder)


@hookimpl
def nk_register_loaders(register: Register) -> None:
    register("demo", DemoLoader, DemoConfig,
             description="synthetic emotional speech (4 emotions, 12 speakers), made in code")
