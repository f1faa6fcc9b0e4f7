"""What every recipe shares: where the corpus comes from, archives, downloads, the table.

``Recipe.prepare(dest, source=, console=)``:

1. **obtain** the corpus: ``source`` is a downloaded archive (zip or tar, extracted into
   ``dest/source/``) or a folder (used where it is: nothing is copied, and the table holds
   absolute paths); without ``source`` the recipe downloads its archives into
   ``dest/downloads/`` (checked against a sha256 where the recipe knows one) and extracts them.
   Recipes of licensed corpora have no downloads and say how to get the corpus.
2. **parse** the corpus's naming scheme and label files into rows (:meth:`Recipe.parse`);
   speakers are prefixed with the recipe's name (``emodb_03``), so speaker ids of two databases
   never collide. Audio files whose names do not follow the scheme are listed, not dropped
   silently; a folder with none that does is an error naming the folder and the layout.
3. **write** ``dest/<name>.csv`` (written whole, then renamed into place) and beside it
   ``dest/<name>.about.txt`` with the licence, the citation, the source and the code mapping.

The one thing that leaves the machine is :func:`open_url` (tests replace it).
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

from nk.errors import UserError

STAGING_PREFIX = ".source-"
Row = dict[str, Any]
"""One table row: ``file`` (a Path), then the columns."""

USER_AGENT = "nk-dataset-recipe (https://github.com/; python urllib)"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Download:
    """One file a recipe downloads.

    :param url: where it is.
    :param filename: the name it is saved under in ``dest/downloads/``.
    :param sha256: its checksum, where known for certain; ``None``: the archive's member layout
        is checked instead (the parse step must find the corpus's files in it).
    :param extract: whether it is an archive to extract (else it is copied into ``source/``).
    """

    url: str
    filename: str
    sha256: str | None = None
    extract: bool = True


@dataclass
class RecipeConfig:
    """Recipes take no parameters: ``nk data prepare NAME [--source PATH] [--dest DIR]``."""


def open_url(url: str) -> IO[bytes]:
    """Open ``url`` for reading (the one network access of the recipes; tests replace it)."""
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    return urllib.request.urlopen(request, timeout=60)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(download: Download, folder: Path, console: Any, *, homepage: str = "") -> Path:
    """Download ``download`` into ``folder`` (kept there: a second prepare reuses it), checking
    its sha256 when the recipe knows it. Written to ``<name>.part`` first, so an interrupted
    download never looks complete."""
    import urllib.error

    folder.mkdir(parents=True, exist_ok=True)
    target = folder / download.filename
    if target.is_file() and (download.sha256 is None or sha256_of(target) == download.sha256):
        console.print(f"Using the downloaded {target}", highlight=False, markup=False)
        return target
    part = target.with_name(target.name + ".part")
    console.print(f"Downloading {download.url} …", highlight=False, markup=False)
    try:
        with open_url(download.url) as response, open(part, "wb") as out:
            shutil.copyfileobj(response, out, CHUNK)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        part.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise UserError(f"Could not download {download.url}: {reason}",
                        todo="check the network connection, or download it yourself"
                        + (f" (from {homepage})" if homepage else "")
                        + " and pass the archive or folder with --source PATH") from None
    if download.sha256 is not None:
        actual = sha256_of(part)
        if actual != download.sha256:
            part.unlink()
            raise UserError(f"The download of {download.url} has sha256 {actual}, not the expected "
                            f"{download.sha256}: the file is damaged or was changed",
                            where=str(target),
                            todo="try again; if it persists, download it yourself and check it "
                            "before passing it with --source PATH")
    os.replace(part, target)
    return target


def is_archive(path: Path) -> bool:
    import tarfile
    import zipfile

    return zipfile.is_zipfile(path) or tarfile.is_tarfile(path)


def _safe_member(name: str, archive: Path) -> None:
    parts = Path(name).parts
    if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
        raise UserError(f"The archive {str(archive)!r} holds the member {name!r}, which would be written "
                        "outside the target folder", todo="check where the archive comes from")


def extract(archive: Path, into: Path, *, layout: str) -> None:
    """Extract a zip or tar archive into ``into`` (members checked to stay inside it)."""
    import tarfile
    import zipfile

    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    _safe_member(name, archive)
                zf.extractall(into)
            return
        if tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tar:
                for member in tar.getmembers():
                    _safe_member(member.name, archive)
                tar.extractall(into, filter="data")
            return
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise UserError(f"The archive {str(archive)!r} is damaged and cannot be extracted: {exc}",
                        allowed=layout, todo="download it again") from None
    raise UserError(f"{str(archive)!r} is not a zip or tar archive (damaged, or another kind of file)",
                    allowed=f"the corpus's archive (zip or tar), or its folder: {layout}",
                    todo="give the downloaded archive, or the folder it was extracted to")


def audio_files(root: Path, suffixes: Iterable[str] = (".wav",)) -> list[Path]:
    """Audio files below ``root`` (sorted; macOS ``__MACOSX`` and ``._`` copies skipped)."""
    wanted = {s.lower() for s in suffixes}
    out = []
    for path in root.rglob("*"):
        if path.suffix.lower() not in wanted or path.name.startswith("._") or "__MACOSX" in path.parts:
            continue
        if path.is_file():
            out.append(path)
    return sorted(out)


def read_text(path: Path) -> str:
    """A label file's text (UTF-8, else Latin-1: some corpora's files predate UTF-8)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


class Recipe:
    """Base class of the recipes; a subclass sets the class attributes and :meth:`parse`."""

    name: ClassVar[str]
    title: ClassVar[str]
    licence: ClassVar[str]
    citation: ClassVar[str]
    homepage: ClassVar[str]
    layout: ClassVar[str]
    """The expected layout in words (shown when a folder or archive does not fit)."""
    downloads: ClassVar[tuple[Download, ...]] = ()
    instructions: ClassVar[str] = ""
    """How to obtain the corpus when nk cannot download it (licensed corpora)."""
    emotions: ClassVar[dict[str, str]] = {}
    """The corpus's emotion codes → nk's common names (:mod:`nk.datasets.emotions`)."""
    suffixes: ClassVar[tuple[str, ...]] = (".wav",)

    # --- what `nk data list` shows ----------------------------------------------------------

    @classmethod
    def source_text(cls) -> str:
        return "download" if cls.downloads or cls.can_download() else "--source only"

    @classmethod
    def can_download(cls) -> bool:
        return bool(cls.downloads)

    # --- prepare ----------------------------------------------------------------------------

    def prepare(self, dest: Path, *, source: Path | None, console: Any) -> Path:
        dest = Path(dest)
        root = self.obtain(dest, source, console)
        staged = root.name.startswith(STAGING_PREFIX)  # an extraction, not yet in dest/source
        try:
            rows, skipped = self.collect(root)
            if not rows:
                shown = source if source is not None else dest / "source"
                raise UserError(
                    f"{str(shown)!r} holds no audio files of {self.title} named as the corpus names them"
                    + (f" ({len(skipped)} other audio files, e.g. {[str(p.name) for p in skipped[:3]]})"
                       if skipped else ""),
                    where=f"nk data prepare {self.name}" + (f" --source {source}" if source else ""),
                    allowed=self.layout,
                    todo="give the corpus's original archive or folder (`nk data list` shows the source)",
                )
            if staged:  # only an archive that holds the corpus replaces an earlier extraction
                rows = self._commit(root, dest / "source", rows)
        except BaseException:
            if staged:
                shutil.rmtree(root, ignore_errors=True)
            raise
        if skipped:
            console.print(f"Skipped {len(skipped)} audio files whose names do not follow {self.title}'s "
                          f"scheme, e.g. {', '.join(p.name for p in skipped[:5])}", highlight=False, markup=False)
        table = self.write(dest, rows)
        console.print(f"Prepared {len(rows)} files of {self.title} in {dest}", highlight=False, markup=False)
        return table

    def obtain(self, dest: Path, source: Path | None, console: Any) -> Path:
        """The folder holding the corpus: ``source`` itself, or a staging folder in ``dest``
        holding the extracted archive(s) (moved to ``dest/source`` once the corpus is found)."""
        if source is None:
            archives = self.fetch_sources(dest / "downloads", console)
            return self._extract_all(archives, dest)
        source = Path(source).expanduser()
        if source.is_dir():
            return source.resolve()
        if not source.exists():
            raise UserError(f"{str(source)!r} does not exist",
                            where=f"nk data prepare {self.name} --source",
                            allowed=f"the corpus's archive or its folder: {self.layout}",
                            todo="give the path of the downloaded archive or of its extracted folder")
        return self._extract_all([source], dest)

    def _extract_all(self, archives: list[Path], dest: Path) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=dest))
        try:
            for archive in archives:
                if is_archive(archive) or archive.suffix.lower() in (".zip", ".tar", ".gz", ".tgz"):
                    extract(archive, partial, layout=self.layout)
                else:
                    shutil.copy2(archive, partial / archive.name)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        return partial.resolve()

    @staticmethod
    def _commit(partial: Path, into: Path, rows: list[Row]) -> list[Row]:
        """Move the staged extraction to ``into`` (replacing an earlier one); rows follow."""
        if into.exists():
            shutil.rmtree(into)
        os.replace(partial, into)
        out = []
        for row in rows:
            path = Path(row["file"])
            if path.is_relative_to(partial):
                path = into.resolve() / path.relative_to(partial)
            out.append({**row, "file": path})
        return out

    def fetch_sources(self, folder: Path, console: Any) -> list[Path]:
        """Download the recipe's files; a recipe without downloads explains how to get them."""
        if not self.downloads:
            raise UserError(
                f"{self.title} cannot be downloaded by nk: {self.instructions or 'see ' + self.homepage}",
                where=f"nk data prepare {self.name}",
                todo=f"then run `nk data prepare {self.name} --source PATH` with the archive or folder",
            )
        return [fetch(d, folder, console, homepage=self.homepage) for d in self.downloads]

    def collect(self, root: Path) -> tuple[list[Row], list[Path]]:
        """(rows, audio files that do not follow the scheme)."""
        return self.parse(root)

    def parse(self, root: Path) -> tuple[list[Row], list[Path]]:
        raise NotImplementedError

    # --- helpers for parse ------------------------------------------------------------------

    def speaker(self, ident: object) -> str:
        """The speaker id in nk's tables: the recipe's name, ``_``, the corpus's id."""
        return f"{self.name}_{ident}"

    def emotion(self, code: str) -> str:
        return self.emotions[code]

    def match_names(self, root: Path, pattern: str | re.Pattern[str],
                    make: Callable[[Path, re.Match[str]], Row | None], *, flags: int = 0,
                    ) -> tuple[list[Row], list[Path]]:
        """Rows of the audio files whose name (without suffix) matches ``pattern``."""
        regex = re.compile(pattern, flags) if isinstance(pattern, str) else pattern
        rows, skipped = [], []
        for path in audio_files(root, self.suffixes):
            match = regex.fullmatch(path.stem)
            row = make(path, match) if match else None
            if row is None:
                skipped.append(path)
            else:
                rows.append({"file": path, **row})
        return rows, skipped

    # --- writing ------------------------------------------------------------------------------

    def write(self, dest: Path, rows: list[Row]) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        columns: list[str] = []
        for row in rows:
            columns += [c for c in row if c not in columns]
        base = dest.resolve()

        def where(path: Path) -> str:
            path = Path(path).resolve()
            return path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)

        table = dest / f"{self.name}.csv"
        fd, tmp = tempfile.mkstemp(prefix=f".{self.name}-", suffix=".csv", dir=dest)
        try:
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=columns)
                writer.writeheader()
                for row in sorted(rows, key=lambda r: str(r["file"])):
                    writer.writerow({**row, "file": where(row["file"])})
            os.replace(tmp, table)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        (dest / f"{self.name}.about.txt").write_text(self.about(len(rows)), encoding="utf-8")
        return table

    def about(self, n_rows: int) -> str:
        codes = "\n".join(f"  {code} → {name}" for code, name in self.emotions.items())
        return (f"{self.title}\n\nLicence: {self.licence}\nCitation: {self.citation}\nSource: {self.homepage}\n"
                f"Rows: {n_rows}\n\nEmotion codes → nk's common names (column emotion; emotion_code "
                f"keeps the corpus's code):\n{codes}\n\nSpeaker ids are prefixed with {self.name}_, so "
                "they never collide with another database's.\nPrepared by `nk data prepare "
                f"{self.name}`.\n")


__all__ = ["Download", "Recipe", "RecipeConfig", "Row", "audio_files", "extract", "fetch", "is_archive",
           "open_url", "read_text", "sha256_of"]
