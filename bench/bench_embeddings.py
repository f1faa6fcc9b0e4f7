"""Benchmark (not a test): wav2vec 2.0 embeddings with nk against a straightforward baseline.

    .venv/bin/python bench/bench_embeddings.py            # 200 files of 1–6 s
    .venv/bin/python bench/bench_embeddings.py --quick    # 24 files, a smoke test of the bench

The model has the real wav2vec2-base architecture (``Wav2Vec2Config()``: 12 layers, 768 units,
group-normalised convolutions) with random weights, saved to a temporary folder: compute is what
is measured, and nothing is downloaded. The audio is synthetic (tones and noise), 1–6 s per file.

* **baseline** — what a user writes with transformers: per file, batch size 1, read the file,
  run the feature extractor, ``model(**inputs, output_hidden_states=True)`` under
  ``torch.no_grad()``, mean-pool the wanted layer; a layer sweep repeats that for every layer.
* **nk** — ``nk.featurize.extract`` (the call ``nk run`` makes) with ``feats=wav2vec2``: rows
  sorted by duration and batched, every layer pooled in one pass and cached; the sweep's other
  layers are views of the cached vector.

Each side runs in a fresh child process (imports and model loading included): the baseline's
first pass and nk's first call (cold cache) are the one-layer numbers, the whole process the
sweep; peak RSS is per process. Speeds are real-time factors (audio seconds per wall-clock second, "× RT") and
files/s; the ratio is nk's speed over the baseline's. Because the baseline is slow, it can be
measured on a duration-stratified subset of the files (``--baseline-files``) and on
``--baseline-passes`` (at least 2) of its identical per-layer passes: its time on all files is
then its start-up (first pass less a steady one) plus the steady pass time scaled by the audio
duration, once per layer. The table says when it extrapolates.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SR = 16000


# --- set-up (parent) ------------------------------------------------------------------------------


def make_model(folder: Path) -> None:
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    torch.manual_seed(0)
    Wav2Vec2Model(Wav2Vec2Config()).save_pretrained(folder)  # the wav2vec2-base architecture
    # as facebook/wav2vec2-base's preprocessor_config.json: normalised input, no attention mask
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=False).save_pretrained(folder)


def make_audio(folder: Path, n: int, seed: int = 0) -> list[tuple[str, float]]:
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(seed)
    out = []
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        seconds = float(rng.uniform(1.0, 6.0))
        t = np.arange(int(seconds * SR)) / SR
        f0 = rng.uniform(90, 250)
        x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * 0.1
        x = x + 0.01 * rng.standard_normal(len(t))
        path = folder / f"f{i:04d}.wav"
        sf.write(path, x.astype(np.float32), SR, subtype="PCM_16")
        out.append((str(path), len(t) / SR))
    return out


# --- measurements (children) ------------------------------------------------------------------------


def run_baseline(files: list[str], model_dir: str, layers: list[int]) -> dict[str, Any]:
    import numpy as np
    import soundfile as sf
    import torch
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2Model

    processor = Wav2Vec2FeatureExtractor.from_pretrained(model_dir)
    model = Wav2Vec2Model.from_pretrained(model_dir).eval()
    vectors = {}
    marks = []
    for layer in layers:  # a layer sweep the way users run it: one extraction per layer
        rows = []
        for file in files:
            signal, rate = sf.read(file, dtype="float32")
            inputs = processor(signal, sampling_rate=rate, return_tensors="pt")
            with torch.no_grad():
                out = model(**inputs, output_hidden_states=True)
            rows.append(out.hidden_states[layer][0].mean(dim=0).numpy())
        vectors[layer] = np.stack(rows)
        marks.append(time.perf_counter() - STARTED[0])
    return {"check": vectors[layers[0]][:2].tolist(), "marks": marks}  # first layer, first two files


def run_nk(files: list[str], durations: list[float], model_dir: str, layers: list[int],
           cache: str, check_files: list[str]) -> dict[str, Any]:
    import logging

    import pandas as pd
    from omegaconf import OmegaConf
    from rich.console import Console

    from nk.context import RunContext
    from nk.featurize import extract
    from nk.plugins import PluginManager

    pm = PluginManager()
    cfg = OmegaConf.create({"sampling_rate": SR, "cache_dir": cache, "n_jobs": 1, "seed": 0})
    ctx = RunContext(cfg=cfg, run_dir=Path(tempfile.mkdtemp(prefix="nk-bench-emb-")), pm=pm,
                     log=logging.getLogger("nk.bench"), console=Console(quiet=True))
    comp = pm.registry.get("feats", "wav2vec2")
    index = pd.Index(files, name="file")
    marks, check = [], None
    for layer in layers:  # the sweep: the first call extracts, the others read the cache
        params = {**comp.defaults(), "model": model_dir, "layer": layer}
        featurizer = comp.build(params)
        frame = extract(comp, featurizer, params, index, ctx, durations=durations)
        marks.append(time.perf_counter() - STARTED[0])
        if check is None:
            check = frame.loc[check_files].to_numpy().tolist()
    return {"check": check, "marks": marks}


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_memory(model_dir: str, seconds: float) -> dict[str, Any]:
    """Peak memory beyond the loaded model for one long signal (chunked by max_duration)."""
    import numpy as np

    from nk.plugins import PluginManager

    comp = PluginManager().registry.get("feats", "wav2vec2")
    featurizer = comp.build({**comp.defaults(), "model": model_dir})
    featurizer.feature_names()  # loads the model
    loaded = _rss_mb()
    rng = np.random.default_rng(0)
    signal = (0.1 * rng.standard_normal(int(seconds * SR))).astype(np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    featurizer.extract(signal, SR)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"loaded_mb": loaded, "extra_mb": max(peak, before) - loaded}


STARTED = [time.perf_counter()]  # when this process started its work (set in child())


def child(args: argparse.Namespace) -> None:
    spec = json.loads(Path(args.child).read_text())
    started = STARTED[0] = time.perf_counter()
    cpu0 = time.process_time()
    if spec["mode"] == "memory":
        result = run_memory(spec["model"], spec["seconds"])
    elif spec["mode"] == "baseline":
        result = run_baseline(spec["files"], spec["model"], spec["layers"])
    else:
        result = run_nk(spec["files"], spec["durations"], spec["model"], spec["layers"], spec["cache"],
                        spec["check_files"])
    result["seconds"] = time.perf_counter() - started
    result["cpu_s"] = time.process_time() - cpu0
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import torch

    result["threads"] = torch.get_num_threads()
    print("RESULT " + json.dumps(result))


def measure(work: Path, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    path = work / f"{name}.json"
    path.write_text(json.dumps(spec))
    load0 = os.getloadavg()[0]
    out = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        raise SystemExit(f"{name} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    line = next(line for line in out.stdout.splitlines() if line.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["load"] = (load0 + os.getloadavg()[0]) / 2
    print(f"  {name}: {result['seconds']:.1f} s, peak {result['peak_rss_mb']:.0f} MB, "
          f"load {result['load']:.1f}", flush=True)
    return result


# --- main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="24 files; baseline on 8, one sweep pass")
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--layers", type=int, default=12, help="layers in the sweep (1..N)")
    parser.add_argument("--baseline-files", type=int, default=None,
                        help="files the baseline runs on (a duration-stratified subset; default all)")
    parser.add_argument("--baseline-passes", type=int, default=None,
                        help="passes of the baseline's sweep actually run (default all; the rest "
                             "are identical and extrapolated)")
    parser.add_argument("--long", type=float, default=60.0,
                        help="seconds of the long signal whose memory is measured (0: skip)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.quick:
        args.files, args.baseline_files, args.baseline_passes, args.long = 24, 8, 2, 0.0
    sweep = list(range(1, args.layers + 1))
    base_passes = max(2, min(args.baseline_passes or len(sweep), len(sweep)))  # 2: start-up apart

    with tempfile.TemporaryDirectory(prefix="nk-bench-emb-") as tmp:
        work = Path(tmp)
        print(f"set-up: wav2vec2-base architecture (random weights), {args.files} files of 1–6 s", flush=True)
        make_model(work / "model")
        audio = make_audio(work / "audio", args.files)
        files = [f for f, _ in audio]
        durations = [d for _, d in audio]
        by_length = sorted(range(len(audio)), key=lambda i: durations[i])
        n_base = min(args.baseline_files or len(files), len(files))
        step = len(files) / n_base
        subset = [by_length[int(k * step + step / 2)] for k in range(n_base)]
        base_files = [files[i] for i in subset]
        base_audio = sum(durations[i] for i in subset)
        total_audio = sum(durations)
        model = str(work / "model")

        print("measuring (each in a fresh process):", flush=True)
        # the baseline: one pass per layer; its first pass is the one-layer run. Its passes are
        # identical work, so a sweep of N layers costs N passes (extrapolated beyond those run)
        base = measure(work, f"baseline, {base_passes} pass(es)",
                       {"mode": "baseline", "files": base_files, "model": model,
                        "layers": [sweep[-1], *sweep[:-1]][:base_passes]})
        # nk: the sweep in one process; its first call (layer 12, cold cache) is the one-layer run
        nk = measure(work, f"nk, {len(sweep)}-layer sweep",
                     {"mode": "nk", "files": files, "durations": durations, "model": model,
                      "layers": [sweep[-1], *sweep[:-1]], "cache": str(work / "cache"),
                      "check_files": base_files[:2]})

        import numpy as np

        # the same two files through both: nk's view (last layer, mean) against the baseline's
        diff = float(np.max(np.abs(np.asarray(nk["check"]) - np.asarray(base["check"]))))
        # the baseline's time on all files: its start-up (imports, model load: the first pass less a
        # steady pass) once, plus its steady per-audio-second pass time for every pass
        marks = base["marks"]
        per_pass = (marks[-1] - marks[0]) / (len(marks) - 1)
        startup = max(0.0, marks[0] - per_pass)
        scale = total_audio / base_audio
        base_one = startup + per_pass * scale
        base_sweep = startup + per_pass * scale * len(sweep)
        measured = (f"from {len(base_files)} of the files × {len(marks)} passes; start-up "
                    f"{startup:.0f} s")

        def row(name: str, seconds: float, r: dict[str, Any], note: str = "") -> dict[str, Any]:
            return {"name": name, "files": len(files), "audio_s": total_audio, "seconds": seconds,
                    "files_s": len(files) / seconds, "rt": total_audio / seconds,
                    "peak": r["peak_rss_mb"], "load": r["load"], "note": note}

        exact = len(base_files) == len(files) and len(marks) == len(sweep)
        rows = [
            row("baseline, 1 layer", base_one, base, "" if exact else f"extrapolated {measured}"),
            row("nk, 1 layer", nk["marks"][0], nk),
            row(f"baseline, {len(sweep)}-layer sweep", base_sweep, base, "" if exact else "extrapolated likewise"),
            row(f"nk, {len(sweep)}-layer sweep", nk["marks"][-1], nk),
        ]
        print()
        print(f"{len(files)} files, {total_audio:.0f} s of audio (baseline measured on {len(base_files)} "
              f"files, {base_audio:.0f} s); {os.cpu_count()} CPUs, torch threads {nk['threads']}; "
              "peak RSS is the process's (the one-layer rows share their process's)")
        print()
        print("| run | files | audio s | wall s | files/s | × real time | peak RSS MB | load | ratio |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for i, r in enumerate(rows):
            ratio = f"{r['rt'] / rows[i - 1]['rt']:.1f}×" if i % 2 else ""
            note = f" ({r['note']})" if r["note"] else ""
            print(f"| {r['name']}{note} | {r['files']} | {r['audio_s']:.0f} | {r['seconds']:.1f} | "
                  f"{r['files_s']:.2f} | {r['rt']:.2f} | {r['peak']:.0f} | {r['load']:.1f} | {ratio} |")
        print()
        print("ratio: nk's × real time over the baseline's (targets on 2 CPUs: ≥ 2× for 1 layer, ≥ 10× for the sweep)")
        print(f"check: layer-{sweep[-1]} means of nk and the baseline differ by at most {diff:.2e}")
        if args.long:
            print()
            print("memory of one long signal (max_duration = 20 s chunks), beyond the loaded model:")
            for seconds in (20.0, args.long):
                r = measure(work, f"memory, {seconds:g} s signal", {"mode": "memory", "model": model,
                                                                   "seconds": seconds})
                print(f"  {seconds:g} s: +{r['extra_mb']:.0f} MB (model loaded: {r['loaded_mb']:.0f} MB RSS)")


if __name__ == "__main__":
    main()
