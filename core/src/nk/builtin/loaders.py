"""Built-in loaders: ``demo`` (synthetic corpus made in code), ``csv`` and ``audformat``."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nk.errors import UserError
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
    degrade: str | None = param(None, help="an emotion whose recordings get white noise at degrade_snr "
                                "(a recording-quality confound); None: none")
    degrade_snr: float = param(5.0, ge=-10, le=60, help="SNR in dB of the noise added to the degraded emotion")


class DemoLoader:
    """Synthesises the demo corpus once into ``<cache>/demo/<key>/`` and loads it from there."""

    def __init__(self, *, n_speakers: int, n_utterances: int, seed: int, confound: float,
                 degrade: str | None, degrade_snr: float) -> None:
        self.n_speakers = n_speakers
        self.n_utterances = n_utterances
        self.seed = seed
        self.confound = confound
        self.degrade = degrade
        self.degrade_snr = degrade_snr

    def _key(self, sampling_rate: int) -> str:
        from nk.builtin.demo_audio import SYNTHESIS_VERSION

        spec: dict[str, Any] = {"n_speakers": self.n_speakers, "n_utterances": self.n_utterances,
                                "seed": self.seed, "confound": self.confound,
                                "sampling_rate": sampling_rate, "synthesis": SYNTHESIS_VERSION}
        if self.degrade is not None:  # only then: an undegraded corpus keeps the folder it had
            spec.update(degrade=self.degrade, degrade_snr=self.degrade_snr)
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]

    def load(self, ctx: RunContext) -> Corpus:
        import pandas as pd

        from nk.builtin.demo_audio import EMOTIONS
        from nk.data import Corpus

        if self.degrade is not None and self.degrade not in EMOTIONS:
            raise UserError(f"data.demo.degrade={self.degrade!r} is not an emotion of the demo corpus",
                            where="config key data.demo.degrade", allowed=", ".join(EMOTIONS),
                            todo="name one of those emotions, or leave degrade unset (null)")
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
                    sampling_rate=rate, seed=self.seed, confound=self.confound, degrade=self.degrade,
                    degrade_snr=self.degrade_snr, progress=report,
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


@dataclass
class CsvConfig:
    path: str = param("???", help="the CSV file (relative paths: from the folder you run nk in)")
    root: str | None = param(None, help="folder audio paths are relative to; None: the CSV's folder")
    file_column: str = param("file", help="column holding the audio paths")
    start_column: str = param("start", help="segment start column (seconds), used when present")
    end_column: str = param("end", help="segment end column (seconds), used when present")
    separator: str = param(",", help="field separator")


class CsvLoader:
    """A CSV table: one row per file (or segment), a ``file`` column and label columns."""

    def __init__(self, *, path: str, root: str | None, file_column: str, start_column: str,
                 end_column: str, separator: str) -> None:
        self.path = path
        self.root = root
        self.file_column = file_column
        self.start_column = start_column
        self.end_column = end_column
        self.separator = separator

    def load(self, ctx: RunContext) -> Corpus:
        import pandas as pd

        from nk.data import Corpus
        from nk.paths import path_problem

        path = Path(self.path).expanduser()
        problem = path_problem(path, want="file")
        if problem is not None:
            raise UserError(
                f"The CSV file {str(path)!r} cannot be read: {problem}"
                + (f" (looked in {Path.cwd()})" if not path.is_absolute() else ""),
                where="config key data.<db>.path",
                todo="give the CSV's path, absolute or relative to the folder you run nk in",
            )
        separator = SEPARATOR_NAMES.get(self.separator, self.separator)
        header = _check_header(path, separator, self.file_column)
        try:
            # every cell as text, and only an empty cell is missing: a class named NA stays "NA",
            # codes such as 01 stay "01" (numbers are converted below, column by column)
            frame = pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False, na_values=[""],
                                encoding="utf-8-sig")
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise UserError(f"Cannot read the CSV file {str(path)!r}: {str(exc).splitlines()[0]}",
                            allowed=f"a table with a header row, fields separated by {separator!r} "
                            "(data.<db>.separator), UTF-8 text",
                            todo="check the file; set data.<db>.separator for another separator") from None
        if frame.empty:
            raise UserError(f"The CSV file {str(path)!r} has no rows", todo="add rows, or remove the database")
        if self.file_column not in frame.columns:
            raise UserError(
                f"The CSV file {str(path)!r} has no column {self.file_column!r}",
                where="its header row",
                allowed=", ".join(map(repr, header)),
                todo="name the audio path column 'file', or set data.<db>.file_column",
            )
        frame = _typed(frame, skip={self.file_column})
        root = Path(self.root).expanduser() if self.root else path.resolve().parent
        if not root.is_absolute():
            root = root.resolve()
        empty = frame[self.file_column].isna() | (frame[self.file_column].astype(str).str.strip() == "")
        if empty.any():
            raise UserError(f"{int(empty.sum())} rows of {str(path)!r} have an empty file path "
                            f"(CSV lines {[int(i) + 2 for i in frame.index[empty][:5]]})",
                            todo="fill or delete these rows")
        files = [str(p) if os.path.isabs(p) else os.path.normpath(str(root / p))
                 for p in frame[self.file_column].astype(str).str.strip()]
        frame = frame.drop(columns=[self.file_column]).assign(file=files)
        segmented = self.start_column in frame.columns or self.end_column in frame.columns
        if segmented:
            start = _seconds(frame.get(self.start_column), len(frame), default=0.0)
            end = _seconds(frame.get(self.end_column), len(frame), default=None)
            frame = frame.drop(columns=[c for c in (self.start_column, self.end_column) if c in frame.columns])
            frame = frame.assign(start=start, end=end).set_index(["file", "start", "end"])
        else:
            frame = frame.set_index("file")
        duplicated = frame.index.duplicated()
        if duplicated.any():
            raise UserError(
                f"{int(duplicated.sum())} rows of {str(path)!r} repeat a file"
                + (" and segment" if segmented else "") + f": {list(frame.index[duplicated][:3])}",
                todo="remove the duplicate rows (or give segments start/end columns)")
        return Corpus(frame=frame, name=path.stem, default_target=None)


SEPARATOR_NAMES = {"\\t": "\t", "tab": "\t", "semicolon": ";", "comma": ",", "pipe": "|", "space": " "}


def _check_header(path: Path, separator: str, file_column: str) -> list[str]:
    """The header's column names, checked: no duplicates, no spaces around names, and the
    separator fits (a ';' table read with ',' has one column)."""
    import csv

    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        first = fh.readline()
    names = next(csv.reader([first], delimiter=separator), []) if first.strip() else []
    where = f"the header row of {str(path)!r}"
    if len(names) <= 1:
        counts = {sep: first.count(sep) for sep in (";", "\t", "|", ",") if sep != separator}
        guess = max(counts, key=lambda k: counts[k]) if counts and max(counts.values()) > 0 else None
        if guess is not None and file_column not in names:
            shown = {"\t": "tab", ";": "';'", "|": "'|'", ",": "','"}[guess]
            option = {"\t": "tab", ";": "';'", "|": "'|'", ",": "','"}[guess]
            raise UserError(
                f"The CSV file {str(path)!r} looks {shown}-separated: its header {first.strip()[:80]!r} "
                f"is one column when split at {separator!r}",
                where=where,
                allowed="data.<db>.separator: any one character, or tab / semicolon / comma / pipe",
                todo=f"set \"data.<db>.separator={option}\"",
            )
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise UserError(
            f"The CSV file {str(path)!r} has repeated column names: {duplicated}",
            where=where, todo="give every column its own name (pandas would silently rename the copies)")
    spaced = [n for n in names if n != n.strip()]
    if spaced:
        raise UserError(
            f"Column names of {str(path)!r} have spaces around them: {', '.join(map(repr, spaced))}",
            where=where,
            todo="remove the spaces after the separators in the header (and in the rows), "
            "e.g. 'file,emotion' instead of 'file, emotion'",
        )
    return names


_PADDED = r"^\s*[+-]?0\d"  # 01, -02: codes, not numbers


def _typed(frame: Any, *, skip: set[str]) -> Any:
    """Columns whose every non-empty cell is a number become numeric, unless a value is
    zero-padded (01, 02: codes whose padding a number would lose). Others stay text."""
    import pandas as pd

    out = {}
    for column in frame.columns:
        values = frame[column]
        text = values.dropna()
        if column in skip or text.empty:
            out[column] = values
            continue
        numbers = pd.to_numeric(text, errors="coerce")
        if numbers.notna().all() and not text.str.match(_PADDED).any():
            out[column] = pd.to_numeric(values)
        else:
            out[column] = values
    return pd.DataFrame(out, index=frame.index)


def _seconds(values: Any, n: int, *, default: float | None) -> Any:
    import pandas as pd

    if values is None:
        return pd.to_timedelta([default] * n, unit="s") if default is not None else pd.to_timedelta([pd.NaT] * n)
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all() or (numeric.notna() == values.notna()).all():
        return pd.to_timedelta(numeric, unit="s")
    try:
        return pd.to_timedelta(values)
    except ValueError as exc:
        raise UserError(f"Cannot read segment times: {exc}", allowed="seconds (1.5) or durations (00:00:01.5)",
                        todo="fix the start/end columns") from None


@dataclass
class AudformatConfig:
    path: str = param("???", help="the database folder (with db.yaml)")
    tables: list[str] = param(default_factory=list,
                              help="tables holding the target; empty: every table that has it")
    map_speaker: bool = param(True, help="add speaker properties (gender, age …) from schemes/misc tables")


class AudformatLoader:
    """An audformat database: target from the chosen tables, splits from the tables' split ids."""

    def __init__(self, *, path: str, tables: list[str], map_speaker: bool) -> None:
        self.path = path
        self.tables = tables
        self.map_speaker = map_speaker

    def load(self, ctx: RunContext) -> Corpus:
        import pandas as pd

        from nk.data import Corpus

        try:
            import audformat
        except ImportError:
            raise UserError("The audformat loader needs the audformat package",
                            todo="pip install audformat") from None
        folder = Path(self.path).expanduser().resolve()
        if not (folder / "db.yaml").is_file():
            raise UserError(f"{str(folder)!r} is not an audformat database (no db.yaml)",
                            where="config key data.<db>.path", todo="point to the folder holding db.yaml")
        db = audformat.Database.load(str(folder), load_data=True)
        target = ctx.cfg.target
        names = list(self.tables) or [t for t in db.tables if target is None or target in db[t].columns]
        unknown = [t for t in names if t not in db.tables]
        if unknown or not names:
            raise UserError(
                f"Tables {unknown or names} are not in the audformat database {db.name!r}"
                if unknown else f"No table of {db.name!r} has the target column {target!r}",
                where="config key data.<db>.tables",
                allowed=", ".join(db.tables),
                todo="list the tables that hold the target",
            )
        frames = []
        for name in names:
            table = db[name]
            frame = table.get()
            if self.map_speaker:
                frame = self._map_schemes(db, frame)
            split_id = getattr(table, "split_id", None)
            if split_id and split_id in db.splits:
                kind = str(db.splits[split_id].type)
                if kind in ("train", "dev", "test"):
                    frame = frame.assign(split=kind)
            frames.append(frame)
        frame = pd.concat(frames)
        frame = frame[~frame.index.duplicated(keep="first")]
        frame.index = self._absolute(frame.index, db.root)
        return Corpus(frame=frame, name=db.name, default_target=target)

    @staticmethod
    def _absolute(index: Any, root: str) -> Any:
        import pandas as pd

        def absolute(f: str) -> str:
            return f if os.path.isabs(f) else os.path.normpath(os.path.join(root, f))

        if isinstance(index, pd.MultiIndex):
            files = [absolute(f) for f in index.get_level_values("file")]
            return pd.MultiIndex.from_arrays(
                [files, index.get_level_values("start"), index.get_level_values("end")],
                names=["file", "start", "end"])
        return pd.Index([absolute(f) for f in index], name="file")

    @staticmethod
    def _map_schemes(db: Any, frame: Any) -> Any:
        """Expand columns whose scheme labels are a misc table or a dict of properties."""
        import pandas as pd

        for column in list(frame.columns):
            scheme_id = None
            for table in db.tables.values():
                if column in table.columns:
                    scheme_id = table.columns[column].scheme_id
                    break
            if scheme_id is None or scheme_id not in db.schemes:
                continue
            labels = db.schemes[scheme_id].labels
            if isinstance(labels, str) and labels in db.misc_tables:
                props = db.misc_tables[labels].get()
            elif isinstance(labels, dict) and labels and all(isinstance(v, dict) for v in labels.values()):
                props = pd.DataFrame.from_dict(labels, orient="index")
            else:
                continue
            for prop in props.columns:
                if prop not in frame.columns:
                    frame[prop] = frame[column].map(props[prop]).to_numpy()
        return frame


@hookimpl
def nk_register_loaders(register: Register) -> None:
    register("demo", DemoLoader, DemoConfig,
             description="synthetic emotional speech (4 emotions, 12 speakers), made in code")
    register("csv", CsvLoader, CsvConfig,
             description="a CSV table: file column (absolute or relative paths) and labels")
    register("audformat", AudformatLoader, AudformatConfig,
             description="an audformat database folder (db.yaml): tables, splits, speaker schemes")
