"""Benchmark (not a test): nk's neural learners.

    .venv/bin/python bench/bench_neural.py --quick            # demo corpus only, one repeat
    .venv/bin/python bench/bench_neural.py                    # demo + Polish, 2 repeats
    .venv/bin/python bench/bench_neural.py --gpu              # on a GPU machine: a base-size epoch

1. **eGeMAPS + MLP, nk against nkululeko 1.14.1** on the same files and the same split
   (the helpers of ``bench_vs_nkululeko.py``: the demo corpus with a fixed speaker-disjoint
   split, and the Polish corpus with nkululeko's given split): hidden layers 64 and 16, dropout
   0.2 … with both tools' other defaults, UAR and wall time side by side. The epoch each tool
   keeps is chosen differently, and the table says so: nk holds out a speaker-disjoint slice of
   train (there is no dev split here), nkululeko keeps the epoch that is best *on the test
   set* (so its UAR is optimistic). Also a plain-torch baseline (the same MLP, full-batch Adam,
   fixed epochs, in this process on nk's cached features) for the cost of nk's machinery.
   nkululeko's venv is reused from ``--nkululeko-venv`` or created (``pip install
   nkululeko==1.14.1`` with torch pinned to 2.13.0); ``--no-nkululeko`` skips it.
2. **Fine-tuning throughput on the CPU**: training samples/s of ``FinetuneClassifier`` for
   one epoch on 2-s tones, a tiny encoder (hidden 32, 2 layers) and a base-size one (wav2vec2
   base: hidden 768, 12 layers, randomly initialised from its config — no download).
3. ``--gpu``: the same base-size fine-tuning for one epoch on 64 rows on the GPU (bf16), timed.

Numbers from a shared machine: read them as ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_vs_nkululeko as bvn  # noqa: E402  (helpers: corpora, measuring, nkululeko's venv)

LAYERS = (64, 16)
NK_MLP = ["model=mlp", f"model.layers=[{','.join(map(str, LAYERS))}]", "model.dropout=0.2",
          "model.epochs=100", "model.patience=10", "model.batch_size=16", "model.learning_rate=0.001"]
NKL_MLP = ("type = mlp\nlayers = {'l1':64, 'l2':16}\ndrop = 0.2\npatience = 10\nbatch_size = 16\n"
           "learning_rate = 0.001\noptimizer = adam\n")  # epochs: [EXP] epochs = 100


def say(msg: str = "") -> None:
    print(msg, flush=True)


def run_nk_mlp(work: Path, env: dict[str, str], corpus: Any, cache: Path, repeat: int) -> dict[str, Any]:
    name = f"{corpus.name}-egemaps-mlp-r{repeat}"
    root = work / "results-nk"
    cmd = [str(bvn.NK_BIN), "run", "data=csv", f"data.csv.path={corpus.all_csv}", "target=emotion",
           "split.method=given", "feats=egemaps", *NK_MLP, "scale=standard", "balance=none", "n_jobs=-1",
           f"name={name}", f"results_root={root}"]
    m = bvn.measure(cmd, cwd=work, env={**env, "NK_CACHE_DIR": str(cache)}, log=work / "logs" / f"nk-{name}.log")
    found = sorted(glob.glob(str(root / name / "*" / "results.json")))
    if m.rc or not found:
        return {"tool": "nk", "corpus": corpus.name, "error": bvn.tail(m.log), "wall_s": m.wall_s}
    result = json.loads(Path(found[-1]).read_text())
    return {"tool": "nk", "corpus": corpus.name, "wall_s": m.wall_s, "cpu_s": m.cpu_s,
            "uar": float(result["test"]["uar"]["value"]), "fit_s": result.get("timing", {}).get("fit"),
            "other_load": m.other_load, "run_dir": str(Path(found[-1]).parent)}


def run_nkululeko_mlp(work: Path, env: dict[str, str], venv: Path, corpus: Any, repeat: int) -> dict[str, Any]:
    import re

    root = work / "nkululeko" / f"{corpus.name}-mlp-r{repeat}"
    root.mkdir(parents=True, exist_ok=True)
    name = f"{corpus.name}_egemaps_mlp"
    bvn.NKL_MODEL_INI["mlp"] = NKL_MLP
    ini = bvn.nkululeko_ini(root, name, corpus, "egemaps", "mlp").replace("[EXP]\n", "[EXP]\nepochs = 100\n", 1)
    (root / f"{name}.ini").write_text(ini)
    cmd = [str(venv / "bin" / "python"), "-m", "nkululeko.nkululeko", "--config", str(root / f"{name}.ini")]
    m = bvn.measure(cmd, cwd=root, env=env, log=work / "logs" / f"nkululeko-{name}-r{repeat}.log")
    out: dict[str, Any] = {"tool": "nkululeko", "corpus": corpus.name, "wall_s": m.wall_s, "cpu_s": m.cpu_s,
                           "other_load": m.other_load}
    reports = {}
    for report in sorted((root / name).glob("results/run_0/*.txt")):
        for line in report.read_text().splitlines():
            if line.startswith("{") and "macro avg" in line:
                kind = "best" if "BEST" in report.name else "last" if "_last_" in report.name else report.stem
                reports[kind] = float(json.loads(line)["macro avg"]["recall"])
                epoch = re.findall(r"_(\d{3})$", report.stem)
                if epoch:
                    out[f"{kind}_epoch"] = int(epoch[0])
    if m.rc or not reports:
        out["error"] = f"exit {m.rc}:\n{bvn.tail(m.log)}"
        return out
    out["uar"] = reports.get("best", reports.get("last"))  # what nkululeko reports as its result
    out["uar_last_epoch"] = reports.get("last")
    return out


def plain_torch(run_dir: str, cache: Path, corpus: Any) -> dict[str, Any]:
    """The same MLP trained by a plain loop on nk's cached eGeMAPS features: 100 full-batch Adam
    epochs, no selection (the last epoch), standard scaling on train."""
    import numpy as np
    import pandas as pd
    import torch
    from sklearn.metrics import balanced_accuracy_score

    t0 = time.perf_counter()
    table = pd.read_csv(corpus.all_csv)
    chunks = glob.glob(str(cache / "features" / "egemaps" / "*" / "chunks" / "*.parquet"))
    stored = pd.concat([pd.read_parquet(c) for c in chunks]).drop_duplicates(subset="_file").set_index("_file")
    rows = table.set_index("file")
    missing = [f for f in rows.index if f not in stored.index]
    if missing:
        return {"tool": "plain torch", "corpus": corpus.name, "error": f"{len(missing)} rows not in the cache"}
    X = np.stack([np.asarray(v, dtype=np.float32) for v in stored.loc[rows.index, "values"]])
    y_text = rows["emotion"].astype(str).to_numpy()
    classes, y = np.unique(y_text, return_inverse=True)
    train = (rows["split"] == "train").to_numpy()
    mean, std = X[train].mean(0), X[train].std(0) + 1e-8
    X = (X - mean) / std
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 64), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                              torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                              torch.nn.Linear(16, len(classes)))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    Xt, yt = torch.from_numpy(X[train]), torch.from_numpy(y[train])
    for _ in range(100):
        net.train()
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(Xt), yt).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        pred = net(torch.from_numpy(X[~train])).argmax(1).numpy()
    return {"tool": "plain torch", "corpus": corpus.name, "wall_s": time.perf_counter() - t0,
            "uar": float(balanced_accuracy_score(y[~train], pred))}


def finetune_throughput(work: Path, size: str, n: int, seconds: float, device: str = "cpu") -> dict[str, Any]:
    import numpy as np
    import soundfile as sf

    from nk_finetune.estimator import FinetuneClassifier
    from nk_finetune.testing import tiny_encoder

    path = work / f"encoder-{size}"
    if not path.exists():
        if size == "tiny":
            tiny_encoder(path)
        else:  # wav2vec2-base's architecture, random weights
            tiny_encoder(path, hidden_size=768, layers=12, num_attention_heads=12, intermediate_size=3072,
                         conv_dim=(512,) * 7, conv_stride=(5, 2, 2, 2, 2, 2, 2), conv_kernel=(10, 3, 3, 3, 3, 2, 2),
                         num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16)
    folder = work / f"tones-{seconds}"
    folder.mkdir(exist_ok=True)
    import pandas as pd

    rng = np.random.default_rng(0)
    files, labels = [], []
    t = np.arange(int(seconds * 16000)) / 16000
    for i in range(n):
        f = folder / f"t{i}.wav"
        sf.write(f, (0.3 * np.sin(2 * np.pi * (150 + 300 * (i % 2)) * t) + 0.01 * rng.standard_normal(len(t)))
                 .astype(np.float32), 16000)
        files.append(str(f))
        labels.append("ab"[i % 2])
    rows = pd.DataFrame({"file": files, "start": np.nan, "end": np.nan, "sampling_rate": 16000}, index=files)
    model = FinetuneClassifier(pretrained_model=str(path), epochs=1, batch_size=4, holdout=0.0, device=device,
                               random_state=0)
    t0 = time.perf_counter()
    model.fit(rows, np.asarray(labels))
    wall = time.perf_counter() - t0
    return {"model": size, "device": device, "rows": n, "seconds_each": seconds, "fit_s": wall,
            "samples_per_s": n / wall, "audio_s_per_s": n * seconds / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="demo corpus only, one repeat, fewer fine-tuning rows")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--nkululeko-venv", type=Path, default=Path("/tmp/nkulu-venv"))
    ap.add_argument("--no-nkululeko", action="store_true", help="nk and plain torch only")
    ap.add_argument("--polish", type=Path, default=bvn.POLISH_DIR)
    ap.add_argument("--gpu", action="store_true", help="only the base-size fine-tuning epoch on the GPU")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nk-bench-neural-"))
    (work / "logs").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"NK_CACHE_DIR", "VIRTUAL_ENV"}}
    env.update(MPLBACKEND="Agg", NO_COLOR="1", HF_HUB_OFFLINE="1")
    out: dict[str, Any] = {"mlp": [], "finetune": []}
    try:
        if args.gpu:
            r = finetune_throughput(work, "base", 64, 4.0, device="cuda")
            say(f"GPU base-size fine-tuning epoch: {r['rows']} rows × {r['seconds_each']} s in {r['fit_s']:.1f} s "
                f"({r['samples_per_s']:.1f} samples/s)")
            out["finetune"].append(r)
            return
        venv = None
        if not args.no_nkululeko:
            bvn.ensure_time_tool()
            venv = args.nkululeko_venv.absolute()
            out["nkululeko"] = bvn.ensure_nkululeko(venv, work)
        corpora = [bvn.prepare_demo(work, env)]
        if not args.quick and (args.polish / "polish_speech_emotions.zip").exists():
            corpora.append(bvn.prepare_polish(work, args.polish))
        repeats = 1 if args.quick else args.repeat
        for corpus in corpora:
            for rep in range(repeats):
                cache = work / "caches" / f"{corpus.name}-r{rep}"
                order = ["nk", "nkululeko"] if rep % 2 == 0 else ["nkululeko", "nk"]
                for tool in order:
                    if tool == "nk":
                        r = run_nk_mlp(work, env, corpus, cache, rep)
                        out["mlp"].append(r)
                        if "error" not in r:
                            out["mlp"].append(plain_torch(r["run_dir"], cache, corpus))
                    elif venv is not None:
                        out["mlp"].append(run_nkululeko_mlp(work, env, venv, corpus, rep))
                for r in out["mlp"][-3:]:
                    say(f"  {r['corpus']:7s} {r['tool']:11s} " + (f"FAILED: {r['error'][-400:]}" if "error" in r else
                        f"UAR {r['uar']:.3f}  wall {r['wall_s']:6.1f} s"))
        n_tiny, n_base = (16, 4) if args.quick else (64, 8)
        for size, n in (("tiny", n_tiny), ("base", n_base)):
            r = finetune_throughput(work, size, n, 2.0)
            out["finetune"].append(r)
            say(f"  fine-tuning {size:4s} on CPU: {r['samples_per_s']:.2f} samples/s "
                f"({r['audio_s_per_s']:.1f} s of audio per s; {n} rows × 2 s in {r['fit_s']:.1f} s)")
        say("\n| corpus | tool | epoch chosen on | UAR | wall s |\n|---|---|---|---|---|")
        how = {"nk": "held-out train speakers", "nkululeko": "test set (optimistic)",
               "plain torch": "none (last of 100)"}
        for r in out["mlp"]:
            if "error" not in r:
                say(f"| {r['corpus']} | {r['tool']} | {how[r['tool']]} | {r['uar']:.3f} | {r['wall_s']:.1f} |")
    finally:
        if args.json:
            args.json.write_text(json.dumps(out, indent=1, default=str))
        if args.keep:
            say(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
