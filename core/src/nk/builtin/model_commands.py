"""Built-in subcommands that use a trained model: ``nk test``, ``nk demo``, ``nk serve``,
``nk export``. Each takes a run folder (or its ``model/``) or a bundle made by ``nk export``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from nk.hookspecs import hookimpl

if TYPE_CHECKING:
    from nk.cli import App

TEST_EPILOG = """\
examples:
  nk test results/demo/2026-01-01_12-00-00 --data polish
  nk test RUN --data polish 'data.polish.label_map={fear: angry}'    map labels the model never saw
  nk test BUNDLE --data emodb bootstrap.n_resamples=2000

Every row of the databases is test data; nothing is fitted. Other key=value overrides work as for
`nk run` (data options, filter.*, labels=, bootstrap.*). Results go to
<results_root>/<name>/<time>-test/ (predictions.csv, results.json, plot, report).
"""

DEMO_EPILOG = """\
examples:
  nk demo RUN some.wav other.flac         one or more files
  nk demo RUN recordings/                 every audio file in a folder (recursively)
  nk demo RUN --list files.txt            one path a line (relative to the list's folder)
  nk demo RUN --mic 3                     record 3 s from the microphone (needs sounddevice)
  nk demo BUNDLE some.wav --out pred.csv  a bundle from nk export; also write a CSV
"""


@hookimpl
def nk_add_commands(subparsers: argparse._SubParsersAction) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    test = subparsers.add_parser("test", help="evaluate a trained model on another database", epilog=TEST_EPILOG,
                                 formatter_class=raw,
                                 description="Evaluate a run's (or a bundle's) saved model on a new labelled "
                                             "database: the same metrics, CIs, plots and report as nk run.")
    test.add_argument("run", help="run folder, its model/ folder, or a bundle")
    test.add_argument("--data", nargs="+", required=True, metavar="NAME", help="database(s) to test on")
    test.add_argument("overrides", nargs="*", help="key=value overrides (Hydra syntax)")
    test.set_defaults(handler=_test)

    demo = subparsers.add_parser("demo", help="predict audio files with a trained model", epilog=DEMO_EPILOG,
                                 formatter_class=raw,
                                 description="Predict files, a folder, a list or the microphone with a run's "
                                             "(or a bundle's) model; prints a table with probabilities.")
    demo.add_argument("run", help="run folder, its model/ folder, or a bundle")
    demo.add_argument("inputs", nargs="*", metavar="FILE|FOLDER", help="audio files or folders")
    demo.add_argument("--list", dest="listing", metavar="FILE", help="a text file with one audio path a line")
    demo.add_argument("--mic", type=float, metavar="SECONDS", help="record from the microphone (sounddevice)")
    demo.add_argument("--out", metavar="CSV", help="also write the predictions to this new CSV file")
    demo.set_defaults(handler=_demo)

    serve = subparsers.add_parser("serve", help="a local web page to try a trained model",
                                  description="Serve a web page (upload or record audio, see the prediction, "
                                              "probabilities and the model card) and POST /predict. Needs the "
                                              "serve extra: pip install 'nk[serve]'.")
    serve.add_argument("run", help="run folder, its model/ folder, or a bundle")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--max-mb", type=float, default=20.0, help="largest upload in MB (default 20)")
    serve.set_defaults(handler=_serve)

    export = subparsers.add_parser("export", help="write a portable bundle of a run's model",
                                   description="Write a run's model, feature spec, preprocessing, labels, a "
                                               "Markdown model card and versions, with sha256 hashes, into a new "
                                               "folder that nk test, demo and serve accept in place of a run.")
    export.add_argument("run", help="run folder (or its model/ folder)")
    export.add_argument("out", help="the bundle folder to create (must be new or empty)")
    export.set_defaults(handler=_export)


def _test(args: argparse.Namespace, app: App) -> int:
    from nk.apply import test_command

    data = [d for d in args.data if "=" not in d]  # --data swallows the overrides that follow it
    overrides = [d for d in args.data if "=" in d] + list(args.overrides)
    results = test_command(args.run, data, overrides, app)
    primary = results["primary"]
    entry = results["test"][primary]
    from nk.metrics import ci_method_text

    # the headline marks a rows-within-speakers interval itself; name the method only otherwise
    method = "" if entry.get("ci_method") == "rows_within_speakers" else f" ({ci_method_text(entry)})"
    app.console.print(f"Test on {', '.join(data)}: {results['summary']}{method}; "
                      + (f"accuracy {results['test']['accuracy']:.3f}" if results["task"] == "classification"
                         else f"MAE {results['test']['mae']:.3f}"), highlight=False, markup=False)
    app.console.print(f"Results in [bold]{results['run_dir']}[/]", highlight=False)
    return 0


def _demo(args: argparse.Namespace, app: App) -> int:
    from nk.apply import demo_command

    demo_command(args.run, list(args.inputs), args.listing, args.mic, args.out, app)
    return 0


def _serve(args: argparse.Namespace, app: App) -> int:
    from nk.errors import UserError
    from nk.serve import serve

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be 1–65535; got {args.port}")
    if args.max_mb <= 0:
        raise UserError(f"--max-mb must be positive; got {args.max_mb}")
    return serve(args.run, args.host, args.port, args.max_mb, app)


def _export(args: argparse.Namespace, app: App) -> int:
    from nk.bundle import export_bundle

    out = export_bundle(args.run, args.out, app.pm)
    app.console.print(f"Bundle in [bold]{out}[/] (model, spec, model card, hashes); use it with nk demo/test/serve",
                      highlight=False)
    return 0
