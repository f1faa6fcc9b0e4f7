"""The issue-16 acceptance check: nkululeko's own Polish ``exp.ini`` against ``nk run experiment=polish``.

    python bench/ini_polish.py                                  # sdist from PyPI (pip download)
    python bench/ini_polish.py --sdist nkululeko-1.14.1.tar.gz --zip polish_speech_emotions.zip

In a work folder (temporary; ``--keep DIR`` keeps it): ``nk data prepare polish`` prepares the
corpus (``--zip``, default ``../shared/data/polish/polish_speech_emotions.zip`` when present,
else the zip inside the sdist) into ``data/polish/``; the sdist's ``data/polish/exp.ini`` and its
three CSV files are copied there unchanged, and ``data/polish/POLISH`` links to the prepared
audio, so the INI's relative paths point at the prepared data. Then, with one feature cache:

1. ``nk run --config data/polish/exp.ini``            (the file as it is: eGeMAPS + XGBoost)
2. ``nk run experiment=polish``                       (the preset: eGeMAPS + XGBoost)
3. ``nk run experiment=polish model=svm``             (the preset with an SVM)
4. ``nk run --config data/polish/exp.ini model=svm``  (the file with an SVM)
5. ``nk run experiment=polish data.polish.path=<polish.csv in the INI's row order>``

and compares, per pair, the split (test files, rows per split and label) and the test UAR and
predictions. Prints a table; exit 1 when 1 ≠ 2, 1 ≠ 5 or 3 ≠ 4 (the pairs that must agree exactly).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_ZIP = REPO.parent / "shared" / "data" / "polish" / "polish_speech_emotions.zip"
NK = [sys.executable, "-c", "import sys; from nk.cli import main; sys.exit(main(sys.argv[1:]))"]


def _sdist(dest: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "nkululeko==1.14.1",
                    "-d", str(dest), "-q"], check=True)
    return next(dest.glob("nkululeko-*.tar.gz"))


def _nk(work: Path, *args: str) -> Path:
    """Run nk in ``work``; the run folder it wrote (the newest results.json)."""
    before = set(work.glob("results/*/*/results.json"))
    done = subprocess.run([*NK, *args, "n_jobs=1"], cwd=work, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"nk {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    (new,) = set(work.glob("results/*/*/results.json")) - before
    return new.parent


def _summary(run: Path) -> dict[str, object]:
    import pandas as pd

    results = json.loads((run / "results.json").read_text())
    pred = pd.read_csv(run / "predictions.csv")
    names = pred.file.map(lambda f: Path(f).name)
    return {"uar": float(results["test"]["uar"]["value"]), "model": results["components"]["model"][0],
            "rows": results["data"]["rows"], "labels": results["data"]["labels"],
            "test_files": sorted(names), "pred": dict(zip(names, pred.pred, strict=True))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sdist", type=Path, help="nkululeko-1.14.1.tar.gz (default: pip download)")
    parser.add_argument("--zip", type=Path, help="polish_speech_emotions.zip for nk data prepare")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    import pandas as pd

    tmp = tempfile.TemporaryDirectory()
    work = (args.keep or Path(tmp.name)).resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.environ["NK_CACHE_DIR"] = str(work / "cache")
    sdist = args.sdist or _sdist(work)
    folder = work / "data" / "polish"
    with tarfile.open(sdist) as tar:
        tar.extractall(work / "sdist", filter="data")
    source = next((work / "sdist").glob("nkululeko-*/data/polish"))
    zip_path = args.zip or (SHARED_ZIP if SHARED_ZIP.is_file() else source / "polish_speech_emotions.zip")
    if not (folder / "polish.csv").is_file():
        subprocess.run([*NK, "data", "prepare", "polish", "--source", str(zip_path)], cwd=work, check=True,
                       capture_output=True)
    for name in ("exp.ini", "polish_train.csv", "polish_dev.csv", "polish_test.csv"):
        shutil.copy(source / name, folder / name)
    link = folder / "POLISH"
    if not link.exists():
        link.symlink_to(Path("source") / "POLISH", target_is_directory=True)
    # the prepared table in the INI's row order (its train, dev, test files one after the other)
    prepared = pd.read_csv(folder / "polish.csv")
    order = pd.concat([pd.read_csv(folder / f"polish_{s}.csv") for s in ("train", "dev", "test")]).file
    prepared.set_index(prepared.file.str.removeprefix("source/")).loc[order].reset_index(drop=True).to_csv(
        folder / "polish_ini_order.csv", index=False)

    runs = {
        "1 nk run --config data/polish/exp.ini": ("run", "--config", "data/polish/exp.ini"),
        "2 nk run experiment=polish": ("run", "experiment=polish"),
        "3 nk run experiment=polish model=svm": ("run", "experiment=polish", "model=svm"),
        "4 nk run --config data/polish/exp.ini model=svm": ("run", "--config", "data/polish/exp.ini", "model=svm"),
        "5 nk run experiment=polish (rows in the INI's order)": (
            "run", "experiment=polish", "data.polish.path=data/polish/polish_ini_order.csv",
            "name=polish_ini_order"),
    }
    got = {label: _summary(_nk(work, *argv)) for label, argv in runs.items()}
    for label, s in got.items():
        print(f"{label:66s} {s['model']:4s} UAR {s['uar']:.4f}  rows {s['rows']}")
    labels = list(got)
    ok = True
    for a, b, must in ((0, 1, True), (0, 4, True), (2, 3, True)):
        x, y = got[labels[a]], got[labels[b]]
        same_split = x["test_files"] == y["test_files"] and x["rows"] == y["rows"] and x["labels"] == y["labels"]
        agree = sum(x["pred"][f] == y["pred"][f] for f in x["test_files"]) if same_split else 0
        print(f"{labels[a][:1]} vs {labels[b][:1]}: same split {same_split}; UAR {x['uar']:.4f} vs {y['uar']:.4f}; "
              f"same prediction for {agree}/{len(x['test_files'])} test files")
        if must and not (same_split and x["uar"] == y["uar"] and agree == len(x["test_files"])):
            ok = False
    print("the pairs that must agree (1 = 2, 1 = 5, 3 = 4):", "agree" if ok else "DIFFER")
    if args.keep:
        print(f"work folder kept: {work}")
    tmp.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
