"""Memory of nk's wav2vec2 featurizer on one long signal, beyond the loaded model.

Each length runs in a fresh process (peak RSS is per process). The model is a randomly
initialised wav2vec2 with the real convolutional front end (the part whose activations grow with
the input) and a small transformer (``--hidden``, ``--layers``) so that a 10-minute signal runs
in minutes on a CPU; ``max_duration`` (20 s) chunks the signal. Usage:

    python bench/bench_long_memory.py                 # 20, 60, 180, 600 s
    python bench/bench_long_memory.py --seconds 20 60 --hidden 768 --layers 12   # base size
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

SR = 16000


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child(model_dir: str, seconds: float) -> None:
    import numpy as np

    from nk.plugins import PluginManager

    comp = PluginManager().registry.get("feats", "wav2vec2")
    featurizer = comp.build({**comp.defaults(), "model": model_dir})
    featurizer.feature_names()  # loads the model
    loaded = _rss_mb()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    signal = (0.1 * np.random.default_rng(0).standard_normal(int(seconds * SR))).astype(np.float32)
    featurizer.extract(signal, SR)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"loaded_mb": loaded, "extra_mb": max(peak, before) - loaded}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[20, 60, 180, 600])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], float(args.child[1]))
        return
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    with tempfile.TemporaryDirectory() as tmp:
        heads = max(1, args.hidden // 64)
        Wav2Vec2Model(Wav2Vec2Config(hidden_size=args.hidden, num_hidden_layers=args.layers,
                                     num_attention_heads=heads, intermediate_size=4 * args.hidden)
                      ).save_pretrained(tmp)
        first = None
        print(f"wav2vec2 conv front end + {args.layers} × {args.hidden} transformer, max_duration 20 s")
        print("| signal | chunks | beyond the loaded model | × the 20 s figure |")
        print("|---:|---:|---:|---:|")
        for seconds in args.seconds:
            out = subprocess.run([sys.executable, __file__, "--child", tmp, str(seconds)], check=True,
                                 capture_output=True, text=True).stdout.strip().splitlines()[-1]
            extra = json.loads(out)["extra_mb"]
            first = first or extra
            print(f"| {seconds:g} s | {max(1, int(-(-seconds // 20)))} | +{extra:.0f} MB | {extra / first:.2f} |")


if __name__ == "__main__":
    main()
