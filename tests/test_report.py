"""Reports: HTML (self-contained, escaped, rendered in a browser), LaTeX (escaped, compiled to
PDF), the run report written by every run and the sweep report."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

import nk.report.latex as latex
from nk.errors import UserError
from nk.pipeline import run_experiment
from nk.report import (
    Figure,
    ReportDoc,
    Section,
    Table,
    data_hash,
    environment_info,
    git_revision,
    write_reports,
)

SMALL = ["data.demo.n_utterances=1", "feats=mfcc", "n_jobs=1", "model=knn"]
CHROMIUM = shutil.which("chromium")
ENGINE = latex.find_engine()
NASTY = "50% & <script>alert(1)</script> a_b #1 $5 {x} ^ ~ \\ |"
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it "
                                    "as root); the screenshot tests need a headless browser")
needs_latex = pytest.mark.skipif(ENGINE is None, reason="no LaTeX engine (pdflatex/lualatex/xelatex) is "
                                 "installed (.ci/run installs TeX Live as root)")


# --- helpers ---------------------------------------------------------------------------------------

def solid_png(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> Path:
    from PIL import Image

    Image.new("RGB", size, colour).save(path)
    return path


def screenshot(html: Path, png: Path, tmp_path: Path, *, width: int = 1200, height: int = 2000) -> np.ndarray:
    """Render ``html`` in headless Chromium; the screenshot as an RGB array."""
    from PIL import Image

    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--hide-scrollbars", "--force-device-scale-factor=1", f"--user-data-dir={tmp_path / 'chromium'}",
           f"--screenshot={png}", f"--window-size={width},{height}", html.resolve().as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    assert png.is_file(), f"no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    return np.asarray(Image.open(png).convert("RGB")).astype(int)


def pdf_pages(path: Path) -> int:
    if shutil.which("pdfinfo"):
        out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
        return int(re.search(r"^Pages:\s+(\d+)", out, re.MULTILINE).group(1))
    # nk writes uncompressed page objects (\pdfobjcompresslevel=0), so pages can be counted
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", path.read_bytes()))


def self_contained(html: str) -> None:
    assert "<script" not in html.lower(), "scripts are not allowed (and user text must be escaped)"
    external = re.findall(r'(?:src|href)\s*=\s*"(?!data:|#)([^"]*)"', html)
    assert not external, f"external resources: {external}"
    assert "<link" not in html.lower() and "@import" not in html


@pytest.fixture
def run(nk_compose, nk_pm, tmp_path):
    def _run(overrides):
        cfg = nk_compose(overrides)
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        return run_experiment(cfg, nk_pm, run_dir, Console(quiet=True)), run_dir

    return _run


def nasty_doc(tmp_path: Path) -> ReportDoc:
    frame = pd.DataFrame({"label": [NASTY, "plain"], "value": [0.5, 2.0]}).set_index("label")
    return ReportDoc(
        title=f"Title {NASTY}", author="O'Neil & Söhne", subtitle="sub_title",
        sections=[Section("Intro " + NASTY, f"Paragraph {NASTY}\n\n- item {NASTY}\n- second",
                          tables=[Table("Cells " + NASTY, frame, note="note " + NASTY)],
                          figures=[Figure("Red " + NASTY, solid_png(tmp_path / "red.png", (60, 30), (255, 0, 0)))],
                          code=f"key: {NASTY}\n  indented: yes")],
        metadata={"tool": NASTY},
    )


# --- HTML ------------------------------------------------------------------------------------------

def test_html_is_self_contained_and_escapes_all_text(tmp_path):
    paths = write_reports(nasty_doc(tmp_path), tmp_path / "out", pdf="never")
    assert set(paths) == {"html", "tex"}
    html = paths["html"].read_text(encoding="utf-8")
    self_contained(html)
    assert "data:image/png;base64," in html
    escaped = "50% &amp; &lt;script&gt;alert(1)&lt;/script&gt; a_b #1 $5 {x} ^ ~ \\ |"
    # title, heading, paragraph, list item, caption, cell, note, code, environment value
    assert html.count(escaped) >= 9
    for part in ("Contents", "Environment", "<pre>", "Table 1.", "Figure 1.", "O&#x27;Neil &amp; Söhne"):
        assert part in html


def test_html_renders_tables_from_frames(tmp_path):
    frame = pd.DataFrame({"n": [3, 4], "share": [0.12345, np.nan], "name": ["x", "y"]},
                         index=pd.Index(["a", "b"], name="class"))
    doc = ReportDoc("T", None, sections=[Section("S", tables=[Table("counts", frame)])])
    html = write_reports(doc, tmp_path, pdf="never")["html"].read_text()
    assert '<th scope="col">class</th>' in html  # a named index is shown
    assert '<td class="num">0.123</td>' in html and '<td class="num">–</td>' in html
    assert "<td>y</td>" in html


# --- LaTeX -----------------------------------------------------------------------------------------

def test_latex_escapes_special_characters(tmp_path):
    tex = write_reports(nasty_doc(tmp_path), tmp_path / "out", pdf="never")["tex"].read_text()
    body = tex[tex.index(r"\begin{document}"):].replace(r"\allowbreak{}", "")  # break points in long words
    expected = (r"50\% \& \textless{}script\textgreater{}alert(1)\textless{}/script\textgreater{} a\_b \#1 \$5 "
                r"\{x\} \textasciicircum{} \textasciitilde{} \textbackslash{} \textbar{}")
    assert body.count(expected) >= 6  # section, paragraph, item, caption, cell, note, environment
    assert "<script>" not in tex
    for raw in ("50% ", "& <", " a_b", " #1", " $5"):
        assert raw not in body, raw
    assert r"\nkfigure{" in body and "{report-figures/figure1.png}" in body  # copied next to the .tex


def test_latex_escape_function():
    assert latex.escape("%&_#$") == r"\%\&\_\#\$"
    assert latex.escape("naïve café ß") == r"na{\"{\i}}ve caf{\'{e}} \ss{}"
    assert latex.escape("ə") == r"\nkchar{0259}"  # no glyph in LaTeX's standard fonts
    assert latex.escape("a--b") == "a-{}-{}b"  # no en-dash ligature from user text
    long = latex.escape("results/demo/2026-11-25_23-46-17/confusion_matrix.png")
    assert r"/\allowbreak{}" in long and latex.escape("0.500") == "0.500"


def test_latex_limits_wide_tables_and_copies_outside_figures(tmp_path):
    wide = pd.DataFrame(np.arange(40 * 20).reshape(40, 20), columns=[f"f{i}" for i in range(20)])
    few = pd.DataFrame(np.arange(3 * 20).reshape(3, 20), columns=[f"g{i}" for i in range(20)])
    outside = solid_png(tmp_path / "my figure.png", (40, 40), (0, 0, 255))
    doc = ReportDoc("T", None, sections=[Section("S", tables=[Table("wide", wide), Table("few rows", few)],
                                                 figures=[Figure("outside", outside)])])
    tex = write_reports(doc, tmp_path / "out", pdf="never")["tex"].read_text()
    assert "more columns not shown here" in tex and "f8" in tex and "f9 " not in tex
    assert "Transposed to fit the page" in tex and "g19" in tex
    assert (tmp_path / "out" / "report-figures" / "figure1.png").is_file()
    assert "{report-figures/figure1.png}" in tex


# --- PDF -------------------------------------------------------------------------------------------

def test_pdf_modes_without_a_latex_engine(tmp_path, monkeypatch):
    monkeypatch.setattr(latex, "find_engine", lambda: None)
    doc = ReportDoc("T", None, sections=[Section("S", "text")])
    assert set(write_reports(doc, tmp_path, pdf="auto")) == {"html", "tex"}
    assert set(write_reports(doc, tmp_path, pdf="never")) == {"html", "tex"}
    with pytest.raises(UserError, match="needs a LaTeX engine"):
        write_reports(doc, tmp_path, pdf="always")
    with pytest.raises(UserError, match="auto, always, never"):
        write_reports(doc, tmp_path, pdf="sometimes")


def test_failed_pdf_is_a_warning_in_auto_mode_and_an_error_in_always_mode(tmp_path, monkeypatch, caplog):
    fake = tmp_path / "fakelatex"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do f="$a"; done\n'
                    'printf "! Undefined control sequence.\\n" > "${f%.tex}.log"\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setattr(latex, "find_engine", lambda: str(fake))
    doc = ReportDoc("T", None, sections=[Section("S", "text")])
    with caplog.at_level(logging.WARNING, logger="nk.report"):
        paths = write_reports(doc, tmp_path / "out", pdf="auto")
    assert "pdf" not in paths and paths["log"] == tmp_path / "out" / "report.log"
    assert "Undefined control sequence" in caplog.text and "report.log" in caplog.text
    with pytest.raises(UserError, match="Undefined control sequence"):
        write_reports(doc, tmp_path / "out", pdf="always")


@needs_latex
def test_pdf_compiles_with_expected_page_count(tmp_path):
    doc = nasty_doc(tmp_path)
    doc.sections.append(Section("A long table", tables=[Table("150 rows", pd.DataFrame(
        {"file": [f"/data/spk{i % 7}/utt_{i}.wav" for i in range(150)], "score": np.linspace(0, 1, 150)}))]))
    doc.sections.append(Section("A figure", figures=[Figure("blue", solid_png(tmp_path / "blue.png", (600, 400),
                                                                              (0, 0, 255)))]))
    paths = write_reports(doc, tmp_path / "out", pdf="always")
    assert paths["pdf"].read_bytes().startswith(b"%PDF")
    assert 4 <= pdf_pages(paths["pdf"]) <= 8  # title, 3 pages of table, figure
    assert not (tmp_path / "out" / "report.aux").exists()  # auxiliary files are cleaned up


@needs_latex
@pytest.mark.parametrize("n_sections", [2, latex.TOC_MIN_SECTIONS])
def test_pdf_passes_contents_and_outline(tmp_path, caplog, n_sections):
    """Short documents get no contents list and compile in one pass; longer ones get a contents
    list (and so a second pass); both have a PDF outline (bookmarks)."""
    doc = ReportDoc(title="Passes", author=None, sections=[Section(f"Part {i}", f"Text {i}.") for i in range(n_sections)])
    with caplog.at_level(logging.INFO, logger="nk.report"):
        paths = write_reports(doc, tmp_path, pdf="always")
    has_toc = n_sections >= latex.TOC_MIN_SECTIONS
    assert ("\\tableofcontents" in paths["tex"].read_text()) == has_toc
    expected = "(2 passes)" if has_toc else "(1 pass)"
    assert any(expected in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
    assert b"/Outlines" in paths["pdf"].read_bytes()
    assert not (tmp_path / "report.toc").exists()


# --- environment and data identity -----------------------------------------------------------------

def test_data_hash_ignores_order_and_sees_every_change():
    frame = pd.DataFrame({"speaker": ["a", "b", "c"], "emotion": ["x", "y", "x"], "age": [20, 30, 40]},
                         index=pd.Index(["f1.wav", "f2.wav", "f3.wav"], name="file"))
    h = data_hash(frame)
    assert re.fullmatch(r"[0-9a-f]{64}", h)
    assert data_hash(frame.iloc[::-1]) == h and data_hash(frame[["age", "emotion", "speaker"]]) == h
    assert data_hash(frame.assign(age=[20, 30, 41])) != h
    assert data_hash(frame.rename(index={"f3.wav": "f4.wav"})) != h
    assert data_hash(frame.rename(columns={"age": "years"})) != h
    assert data_hash(frame.assign(tags=[["a"], [], ["b"]])) != h  # unhashable cells work


def test_environment_info(nk_pm, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # no repository above tmp_path
    info = environment_info(nk_pm)
    assert info["nk"] and info["Python"] and info["platform"]
    assert any(k.startswith("plugin nk-") for k in info)
    assert info["git revision"] == "not a git repository"
    if shutil.which("git") is None:
        return
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "a.txt").write_text("a")
    subprocess.run([*git, "add", "a.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert git_revision() == head
    (tmp_path / "a.txt").write_text("b")
    assert git_revision() == head + " (modified)"


def _library_model():
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=3)


_library_model.library_dependencies = ("pluggy",)  # a learner naming the library it computes with


class _RecordPlugin:
    from nk import hookimpl

    @hookimpl
    def nk_register_learners(self, register):
        from dataclasses import dataclass

        @dataclass
        class NoParams:
            """No parameters."""

        register("libknn", _library_model, NoParams, description="knn that names its library")


def test_results_json_and_report_hold_one_reproducibility_record(nk_compose, nk_pm, nk_register_plugin):
    """Issue 10: results.json carried no environment, and the report listed no library that
    computes the numbers. Both now show the same record: components' libraries and the seed."""
    from importlib import metadata

    from nk.cli import main
    from nk.report import environment_table

    nk_register_plugin(_RecordPlugin(), name="nk-record-test")
    nk_compose([])
    assert main(["run", *SMALL[:-1], "model=libknn", "seed=7", "results_root=res", "document.pdf=never"],
                pm=nk_pm) == 0
    (run_dir,) = Path("res/demo").iterdir()
    record = json.loads((run_dir / "results.json").read_text())["environment"]
    assert record["seed"] == 7 and record["nk"]
    for dist in ("numpy", "pandas", "scikit-learn", "scipy", "hydra-core"):
        assert record["libraries"][dist] == metadata.version(dist)
    model = record["components"]["model.libknn"]
    assert model["provider"] == "nk-record-test" and model["libraries"] == {"pluggy": metadata.version("pluggy")}
    assert record["libraries"]["pluggy"] == metadata.version("pluggy")
    assert "feats.mfcc" in record["components"] and record["python"] and record["platform"]
    text = _html_text(run_dir / "report.html")
    for key, value in environment_table(record).items():
        if key not in ("working directory",):
            assert f"{key} {value}" in text, key
    assert "pluggy " + metadata.version("pluggy") + " (used by model.libknn)" in text


def test_component_libraries_come_from_attributes_and_the_distributions_requirements():
    from nk.registry import Component
    from nk.report import component_libraries

    class Feat:
        cache_dependencies = ("numpy",)

    comp = Component("feats", "f", Feat, object, "", "nk", "0")
    assert component_libraries(comp) == {"numpy": np.__version__}
    comp = Component("model", "m", Feat, object, "", "nk", "0")  # nk itself: its requirements are the base
    assert set(component_libraries(comp)) == {"numpy"}
    try:
        from importlib import metadata

        metadata.version("nk-xgboost")
    except metadata.PackageNotFoundError:
        return
    comp = Component("model", "xgb", _library_model, object, "", "nk-xgboost", "0")
    libs = component_libraries(comp)
    assert "xgboost-cpu" in libs and "pluggy" in libs and "nk" not in libs


# --- run and sweep reports -------------------------------------------------------------------------

def test_run_writes_its_report(run):
    results, run_dir = run([*SMALL, "name=rep", "document.title='<script>alert(1)</script> 50% & more'",
                            "document.author=Ann"])
    for name in ("report.html", "report.tex"):
        assert name in results["artefacts"] and (run_dir / name).is_file()
    saved = json.loads((run_dir / "results.json").read_text())
    assert saved["artefacts"] == results["artefacts"] and re.fullmatch(r"[0-9a-f]{64}", saved["data_sha256"])
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    self_contained(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 50% &amp; more" in html  # the title from the config
    assert html.count("data:image/png;base64,") == 1  # the confusion matrix
    for part in ("Summary", "Data", "Metrics", "Configuration", "Environment", "UAR", "Chance level",
                 "Per class on the test data", "Rows (speakers) per split and emotion", "Gender per split",
                 "n_neighbors", saved["data_sha256"], "Ann"):
        assert part in html, part
    tex = (run_dir / "report.tex").read_text().replace(r"\allowbreak{}", "")
    assert r"\textless{}script\textgreater{}alert(1)\textless{}/script\textgreater{} 50\% \& more" in tex
    assert r"{confusion\_matrix.png}" not in tex and "{confusion_matrix.png}" in tex  # relative to the folder
    if ENGINE is not None:  # document.pdf=auto
        assert "report.pdf" in results["artefacts"]
        assert 3 <= pdf_pages(run_dir / "report.pdf") <= 8
    else:
        assert "report.pdf" not in results["artefacts"]


def test_run_report_of_cross_validation_and_regression(run):
    results, run_dir = run([*SMALL[:-1], "model=knn_reg", "target=age", "split.method=kfold",
                            "split.n_folds=3", "document.pdf=never"])
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "Cross-validation folds (kfold)" in html and "CCC" in html
    assert "The target age per split" in html and "data:image/png;base64," in html
    assert not (run_dir / "report.pdf").exists() and "report.pdf" not in results["artefacts"]


def test_a_failing_report_does_not_lose_the_run(run, monkeypatch):
    import nk.report.run

    def broken(*args, **kwargs):
        raise RuntimeError("report bug")

    monkeypatch.setattr(nk.report.run, "build_run_doc", broken)
    results, run_dir = run([*SMALL, "document.pdf=never"])
    assert (run_dir / "results.json").is_file() and "report.html" not in results["artefacts"]
    assert "report bug" in (run_dir / "nk.log").read_text()


def test_pdf_always_without_latex_fails_before_running(nk_compose, nk_pm, monkeypatch):
    from nk.cli import main

    nk_compose([])  # working directory and cache below tmp_path
    monkeypatch.setattr(latex, "find_engine", lambda: None)
    assert main(["run", *SMALL, "document.pdf=always", "results_root=res"], pm=nk_pm) == 2
    assert not Path("res").exists()


def test_sweep_writes_a_comparison_report(nk_compose, nk_pm):
    from nk.cli import main

    nk_compose([])
    assert main(["run", "-m", "model=knn,tree", *SMALL[:-1], "results_root=res", "document.pdf=never"],
                pm=nk_pm) == 0
    (sweep,) = Path("res/demo").iterdir()
    ranking = pd.read_csv(sweep / "ranking.csv")
    assert (sweep / "sweep_ranking.png").stat().st_size > 5000
    html = (sweep / "report.html").read_text(encoding="utf-8")
    self_contained(html)
    assert html.count("data:image/png;base64,") == 2  # the ranking and the plot by swept setting
    assert (sweep / "sweep_factors.png").stat().st_size > 5000
    assert "Common to all runs" in html and "model=knn" in html and "model=tree" in html
    for value in ranking["value"]:
        assert f"{value:.3f}" in html
    assert (sweep / "report.tex").is_file()
    for run_dir in ranking["run_dir"]:
        assert (sweep / run_dir / "report.html").is_file()


def _html_text(path: Path) -> str:
    import html

    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8"))).split())


def test_few_test_speakers_are_said_in_results_console_log_and_report(nk_compose, nk_pm, capsys):
    """Issue 10: 4 test speakers (the demo's default split) are too few for a speaker bootstrap:
    results.json, the console, nk.log and the report all say which interval was computed instead."""
    from nk.cli import main

    nk_compose([])
    assert main(["run", *SMALL, "results_root=res", "document.pdf=never"], pm=nk_pm) == 0
    out = " ".join(capsys.readouterr().out.split())
    (run_dir,) = Path("res/demo").iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    entry = results["test"]["uar"]
    assert entry["ci_method"] == "rows_within_speakers" and entry["n_speakers"] == 4
    assert "only 4 speakers" in entry["ci_note"]
    assert results["summary"].endswith("(CI within 4 speakers only)")
    assert "95% CI (rows within 4 speakers)" in out and "Note: test UAR interval: only 4 speakers" in out
    assert "WARNING test UAR interval: only 4 speakers" in (run_dir / "nk.log").read_text()
    text = _html_text(run_dir / "report.html")
    assert "rows within 4 speakers, 1000 resamples" in text and "other recordings of these 4 speakers" in text
    assert "other speakers like these" not in text and "no speaker" not in text

    assert main(["run", *SMALL, "results_root=res2", "document.pdf=never", "bootstrap.min_speakers=4"],
                pm=nk_pm) == 0
    out = " ".join(capsys.readouterr().out.split())
    (run_dir,) = Path("res2/demo").iterdir()
    entry = json.loads((run_dir / "results.json").read_text())["test"]["uar"]
    assert entry["ci_method"] == "speaker" and entry["ci_note"] is None
    assert "speaker bootstrap, 4 speakers" in out and "Note:" not in out
    assert "other speakers like these" in _html_text(run_dir / "report.html")


def test_a_single_test_speaker_is_not_reported_as_no_speaker_column(nk_compose, nk_pm, capsys, tmp_path):
    """Issue 10: one test speaker (a given split) was reported as 'bootstrap over rows (no speaker
    column)', and its warning reached neither the console nor nk.log."""
    from nk.cli import main
    from nk.testing import write_tone

    rows = []
    for s in range(4):
        for c, label in enumerate(("low", "high")):
            for u in range(3):
                rel = f"audio/s{s}/{label}_{u}.wav"
                write_tone(tmp_path / "db" / rel, f0=120 * (1 + 0.4 * c) + 5 * u, seconds=0.4, seed=9 * s + u)
                rows.append({"file": rel, "emotion": label, "speaker": f"s{s}",
                             "split": "test" if s == 3 else "train"})
    pd.DataFrame(rows).to_csv(tmp_path / "db" / "db.csv", index=False)
    nk_compose([])
    assert main(["run", "data=csv", f"data.csv.path={tmp_path / 'db' / 'db.csv'}", "target=emotion",
                 "split.method=given", *SMALL[1:], "results_root=res", "document.pdf=never"], pm=nk_pm) == 0
    out = " ".join(capsys.readouterr().out.split())
    (run_dir,) = Path("res").glob("*/*")
    entry = json.loads((run_dir / "results.json").read_text())["test"]["uar"]
    assert entry["ci_method"] == "rows_within_speakers" and entry["n_speakers"] == 1
    assert "Note: test UAR interval: a single speaker" in out and "95% CI (rows within 1 speaker)" in out
    assert "test UAR interval: a single speaker" in (run_dir / "nk.log").read_text()
    text = _html_text(run_dir / "report.html")
    assert "no speaker column" not in text and "other speakers like these" not in text
    assert "other recordings of this one speaker" in text and "With a single test speaker" in text


def _sweep_out(capsys) -> str:
    return " ".join(capsys.readouterr().out.split())


def test_a_sweep_with_dev_splits_ranks_and_chooses_on_dev(nk_compose, nk_pm, capsys):
    """Issue 10: a sweep printed 'Sweep ranking (UAR on test)' and named a best run by its test
    score although every run had a dev score. Dev ranks and chooses; test is quoted once, for the pick."""
    from nk.cli import main

    nk_compose([])
    assert main(["run", "-m", "model=knn,tree", *SMALL[:-1], "split.dev_size=0.25", "split.test_size=0.25",
                 "results_root=res", "document.pdf=never"], pm=nk_pm) == 0
    out = _sweep_out(capsys)
    (sweep,) = Path("res/demo").iterdir()
    ranking = pd.read_csv(sweep / "ranking.csv")
    assert set(ranking["ranked_on"]) == {"dev"}
    runs = {d: json.loads((sweep / d / "results.json").read_text()) for d in ranking["run_dir"]}
    assert list(ranking["value"]) == [runs[d]["dev"]["uar"]["value"] for d in ranking["run_dir"]]
    assert ranking["value"].is_monotonic_decreasing
    pick = runs[ranking["run_dir"].iloc[0]]
    assert "Sweep ranking (UAR on dev)" in out and "on test" not in out.split("Sweep ranking")[1]
    assert f"Chosen on dev: {ranking['overrides'].iloc[0].split()[0]}" in out
    assert f"its test UAR: {pick['test']['uar']['value']:.3f}" in out
    text = _html_text(sweep / "report.html")
    assert "ranked by UAR on dev" in text and "Chosen on dev" in text and "Best:" not in text
    assert f"UAR {pick['test']['uar']['value']:.3f}" in text


def test_a_sweep_without_dev_says_its_test_ranking_must_not_choose(nk_compose, nk_pm, capsys):
    from nk.cli import main

    nk_compose([])
    assert main(["run", "-m", "model=knn,tree", *SMALL[:-1], "results_root=res", "document.pdf=never"],
                pm=nk_pm) == 0
    out = _sweep_out(capsys)
    (sweep,) = Path("res/demo").iterdir()
    assert set(pd.read_csv(sweep / "ranking.csv")["ranked_on"]) == {"test"}
    assert "Sweep ranking (UAR on test, not for choosing)" in out and "Do not use it to choose" in out
    text = _html_text(sweep / "report.html")
    assert "ranked by UAR on test" in text and "Do not use it to choose a setting" in text
    assert "Best:" not in text and "Chosen on dev" not in text


def test_the_ranking_plot_reads_like_the_table_when_values_tie():
    from nk.report.sweep import plot_order

    ranking = pd.DataFrame({"rank": [1, 2, 3, 4], "value": [0.8, 0.8, 0.5, 0.5]})
    assert list(plot_order(ranking)["rank"]) == [4, 3, 2, 1]  # bottom to top: rank 1 at the top


def test_console_says_once_why_there_is_no_pdf(nk_compose, nk_pm, capsys, monkeypatch):
    """Issue 10: the console did not say why there was no PDF (no LaTeX installed)."""
    from nk.cli import main

    nk_compose([])
    monkeypatch.setattr(latex, "find_engine", lambda: None)
    assert main(["run", "-m", "model=knn,tree", *SMALL[:-1], "results_root=res"], pm=nk_pm) == 0
    out = _sweep_out(capsys)
    assert out.count("No PDF report: no LaTeX engine") == 1
    assert "apt-get install texlive-latex-base" in out and "document.pdf=never" in out
    assert main(["run", *SMALL, "results_root=res2", "document.pdf=never"], pm=nk_pm) == 0
    assert "No PDF report" not in _sweep_out(capsys)


def test_console_prints_the_parameters_a_grid_search_chose(nk_compose, nk_pm, capsys):
    """Issue 10: a grid search's chosen parameters were not on the console."""
    from nk.cli import main

    nk_compose([])
    assert main(["run", *SMALL, "split.dev_size=0.25", "search.params={n_neighbors: [1, 3, 5]}",
                 "results_root=res", "document.pdf=never"], pm=nk_pm) == 0
    out = _sweep_out(capsys)
    (run_dir,) = Path("res/demo").iterdir()
    search = json.loads((run_dir / "results.json").read_text())["search"]
    best = max(t["dev_score"] for t in search["trials"])
    assert (f"Grid search (search.params) chose on dev: n_neighbors={search['chosen']['n_neighbors']} "
            f"(dev UAR {best:.3f}, best of 3 settings)") in out
    assert "dev UAR interval: likewise rows within" in out  # the reason is given once, for test


# --- rendering in a browser ------------------------------------------------------------------------

@needs_chromium
def test_screenshot_shows_the_embedded_figure(tmp_path):
    red = solid_png(tmp_path / "red.png", (600, 300), (255, 0, 0))
    doc = ReportDoc("Red figure", "nk", sections=[Section("Figure", "A red block follows.",
                                                          figures=[Figure("red", red)])])
    html = write_reports(doc, tmp_path / "out", pdf="never")["html"]
    red.unlink()  # the page must not need the file: the image is embedded
    shot = screenshot(html, tmp_path / "shot.png", tmp_path, height=1200)
    is_red = (shot[..., 0] > 200) & (shot[..., 1] < 60) & (shot[..., 2] < 60)
    assert is_red.sum() >= 0.9 * 600 * 300, "the embedded image was not rendered"
    rows, cols = np.nonzero(is_red)
    assert abs((cols.max() - cols.min() + 1) - 600) <= 4 and abs((rows.max() - rows.min() + 1) - 300) <= 4
    assert (shot.min(axis=2) > 245).mean() > 0.5  # and the rest of the page is a normal, white page


@needs_chromium
def test_screenshot_of_a_run_report(run, tmp_path):
    _, run_dir = run([*SMALL, "document.pdf=never"])
    html = run_dir / "report.html"
    shot = screenshot(html, tmp_path / "run.png", tmp_path, height=4000)
    assert shot.std() > 20, "blank page"
    assert (shot.min(axis=2) < 200).mean() > 0.02, "almost no content"
    # the confusion matrix (blue colour map) shows; compare with the page without its images
    stripped = tmp_path / "stripped.html"
    stripped.write_text(re.sub(r'src="data:image/png;base64,[^"]*"', 'src=""', html.read_text()))
    bare = screenshot(stripped, tmp_path / "bare.png", tmp_path, height=4000)

    def blue(img: np.ndarray) -> int:
        return int(((img[..., 2] > 150) & (img[..., 2] - img[..., 0] > 80)).sum())

    assert blue(shot) > blue(bare) + 5000, (blue(shot), blue(bare))
