"""Feature cache: one folder per featurizer spec, rows stored per row in chunked parquet.

Layout::

    <cache>/features/<component>/<spec key>/
        spec.json              sidecar: what the spec key was made of, the feature names, and
                               how row keys are made
        chunks/<sha256>.parquet  rows: _key, _file, _start, _end, values (list<float32>[n])
        index.jsonl            one line per committed chunk: {"chunk", "rows", "keys"}
        .lock                  fcntl lock: exclusive to write or repair, shared to read the index
        .extracting            fcntl lock: held by the one run extracting this spec's missing rows
        .used                  its mtime is when the entry was last used

The *spec key* hashes the component's name, provider (distribution), version, every
parameter, the sampling rate and the installed versions of the libraries the featurizer lists
in ``cache_dependencies`` (e.g. opensmile): a changed parameter or an upgraded library gets a
different folder and can never reuse stale features. Each *row key* hashes the audio file's absolute path, size and mtime
(plus a sha256 of its content with ``NK_CACHE_CONTENT_HASH=1`` or
``FeatureCache(content_hash=True)``) and the segment's start and end. Rows are looked up one by
one, so an interrupted extraction resumes with the rows it had committed, and a grown corpus
extracts only its new files.

Chunks are content-addressed (named by the sha256 of their bytes) and written atomically
(:func:`nk.fsutil.atomic_write_bytes`: temporary file, fsync, ``os.replace``) while holding
the folder's lock, so two runs can share a
cache. A chunk whose bytes no longer match its name, or that parquet cannot read, is reported
with a warning naming the file, removed, and its rows are recomputed. The index is only an
accelerator: chunks it does not list are found by listing the folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import EllipsisType
from typing import TYPE_CHECKING, Any, NamedTuple

from nk.env import env_flag
from nk.fsutil import TMP_PREFIX, atomic_write_bytes, sha256_file

if TYPE_CHECKING:  # numpy and pyarrow are imported where used: `nk cache ls` needs neither
    import numpy as np

FORMAT = 1
CONTENT_HASH_ENV = "NK_CACHE_CONTENT_HASH"
ROW_KEY_RECIPE = ("sha256 of JSON [absolute path, size in bytes, mtime in ns, sha256 of the "
                  "content (only with content hashing), segment start s, segment end s]")
_log = logging.getLogger("nk.cache")


def cache_root(configured: str | None, *, create: bool = True) -> Path:
    """The cache folder: the config's ``cache_dir``, else ``$NK_CACHE_DIR``, else ~/.cache/nk."""
    root = configured or os.environ.get("NK_CACHE_DIR") or "~/.cache/nk"
    path = Path(root).expanduser()
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


class RowRef(NamedTuple):
    """One row to featurize: an audio file and optionally a segment of it (seconds)."""

    file: str
    start: float | None = None
    end: float | None = None


def _canonical(value: Any) -> Any:
    """A JSON-able, stable form of a parameter value (enums by name, paths as strings)."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_canonical(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    numpy = sys.modules.get("numpy")  # a numpy scalar implies numpy is imported
    if numpy is not None and isinstance(value, numpy.generic):
        return value.item()
    return str(value)


def spec_key(spec: Mapping[str, Any]) -> str:
    """Hex key of a featurizer spec (component, provider, version, params, sampling rate)."""
    text = json.dumps(_canonical(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def disk_usage(path: Path) -> int:
    """Bytes of a file, or of every file below a folder (files vanishing meanwhile count 0)."""
    if not path.is_dir():
        with contextlib.suppress(OSError):
            return path.stat().st_size
        return 0
    size = 0
    for item in path.rglob("*"):
        with contextlib.suppress(OSError):
            size += item.stat().st_size if item.is_file() else 0
    return size


def _feature_names(sidecar: Mapping[str, Any] | None) -> list[str] | None:
    names = sidecar.get("feature_names") if sidecar else None
    return [str(n) for n in names] if isinstance(names, list) else None


@dataclass
class EntryStats:
    """What ``nk cache ls`` shows about one spec folder."""

    rows: int
    chunks: int
    bytes: int
    last_used: float
    created: float


class DamagedChunk(Exception):
    """A chunk file that cannot be trusted (unreadable, wrong hash, wrong shape)."""


class CacheEntry:
    """The cached rows of one featurizer spec: a folder of chunks plus an index."""

    def __init__(self, folder: Path, spec: Mapping[str, Any] | None = None) -> None:
        self.folder = folder
        self.key = folder.name
        self._spec = dict(spec) if spec is not None else None

    # --- paths and locking ---------------------------------------------------------------------

    @property
    def chunks_dir(self) -> Path:
        return self.folder / "chunks"

    @property
    def sidecar_path(self) -> Path:
        return self.folder / "spec.json"

    @property
    def index_path(self) -> Path:
        return self.folder / "index.jsonl"

    def exists(self) -> bool:
        return self.sidecar_path.exists() or self.chunks_dir.is_dir()

    @contextlib.contextmanager
    def _locked(self, *, exclusive: bool, create: bool = False) -> Iterator[bool]:
        """Hold the folder's lock; yields False when the folder does not exist (and create is False).

        ``nk cache prune`` may remove the folder while we wait for the lock: after locking we
        check that the lock file is still the folder's, and start over if not.
        """
        while True:
            if create:
                self.chunks_dir.mkdir(parents=True, exist_ok=True)
            elif not self.folder.is_dir():
                yield False
                return
            lock_path = self.folder / ".lock"
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:  # removed between the check and the open
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                try:
                    same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    yield True
                    return
            finally:
                os.close(fd)  # also releases the lock

    @contextlib.contextmanager
    def extracting(self, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold this spec's extraction lock: one run at a time extracts the rows it misses.

        Runs of a sweep started side by side (a Hydra launcher) all miss the same rows; the
        first takes this lock and extracts, the others wait here (``on_wait`` is called once
        when they have to) and then find the rows in the cache. Separate from ``.lock``, which
        is only held for the moment of a read or a commit, so waiting runs never block readers.
        """
        while True:
            self.folder.mkdir(parents=True, exist_ok=True)
            lock_path = self.folder / ".extracting"
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except FileNotFoundError:  # nk cache prune removed the folder meanwhile
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if on_wait is not None:
                        on_wait()
                        on_wait = None
                    fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    yield
                    return
            finally:
                os.close(fd)  # also releases the lock

    # --- sidecar ---------------------------------------------------------------------------------

    def sidecar(self) -> dict[str, Any] | None:
        """The spec.json content, or None when it is missing or unreadable."""
        try:
            data = json.loads(self.sidecar_path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _write_sidecar(self, feature_names: Sequence[str]) -> None:
        spec = _canonical(self._spec or {})
        sidecar = {"format": FORMAT, "key": self.key, **spec, "feature_names": list(feature_names),
                   "n_features": len(feature_names), "row_key": ROW_KEY_RECIPE, "created": _now_iso()}
        from nk import __version__

        sidecar["nk_version"] = __version__
        atomic_write_bytes(self.sidecar_path, json.dumps(sidecar, indent=1, sort_keys=True).encode())

    def feature_names(self) -> list[str] | None:
        """Feature names recorded in the sidecar (None when there is no valid sidecar)."""
        return _feature_names(self.sidecar())

    def touch(self) -> None:
        """Record that the entry was used now (``nk cache ls``/``prune --older-than`` read it)."""
        used = self.folder / ".used"
        with contextlib.suppress(OSError):
            used.touch()  # sets the mtime of an existing file too

    def last_used(self) -> float:
        for path in (self.folder / ".used", self.sidecar_path, self.folder):
            with contextlib.suppress(OSError):
                return path.stat().st_mtime
        return 0.0

    # --- index -----------------------------------------------------------------------------------

    def _read_index(self) -> tuple[dict[str, list[str]], int]:
        """(chunk name → row keys, number of unreadable lines) from index.jsonl."""
        chunks: dict[str, list[str]] = {}
        bad = 0
        try:
            text = self.index_path.read_text(errors="replace")
        except FileNotFoundError:
            return chunks, 0
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                name, keys = item["chunk"], item["keys"]
                if not (isinstance(name, str) and isinstance(keys, list)):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                bad += 1  # a torn or garbled line: the chunk is found by listing the folder
                continue
            chunks[name] = [str(k) for k in keys]
        return chunks, bad

    def _listing(self) -> set[str]:
        try:
            return {n for n in os.listdir(self.chunks_dir) if n.endswith(".parquet") and not n.startswith(".")}
        except FileNotFoundError:
            return set()

    def _rewrite_index(self, chunks: Mapping[str, Sequence[str]]) -> None:
        """Replace index.jsonl (the caller holds the exclusive lock)."""
        lines = "".join(json.dumps({"chunk": n, "rows": len(k), "keys": list(k)}) + "\n"
                        for n, k in sorted(chunks.items()))
        atomic_write_bytes(self.index_path, lines.encode())

    def chunk_map(self, log: logging.Logger | None = None) -> dict[str, list[str]]:
        """Chunk name → row keys of every chunk on disk (repairs the index when it drifted)."""
        with self._locked(exclusive=False) as present:
            if not present:
                return {}
            indexed, bad = self._read_index()
            on_disk = self._listing()
        chunks = {n: k for n, k in indexed.items() if n in on_disk}
        unindexed = sorted(on_disk - set(indexed))
        for name in unindexed:  # written by a run that died before indexing it, or a lost index
            try:
                keys, _ = self._parse_chunk(self._load_table(name), n_features=None, keys_only=True)
            except FileNotFoundError:
                continue
            except DamagedChunk as exc:
                self.discard(name, str(exc), log)
                continue
            chunks[name] = keys
        if bad or unindexed or len(chunks) != len(indexed):
            with self._locked(exclusive=True) as present:
                if present:  # merge with what other runs indexed meanwhile
                    current = self._listing()
                    merged = {**self._read_index()[0], **chunks}
                    self._rewrite_index({n: k for n, k in merged.items() if n in current})
        return chunks

    # --- chunks ----------------------------------------------------------------------------------

    def _load_table(self, name: str) -> Any:
        """The chunk's pyarrow Table; raises DamagedChunk when its bytes do not match its name."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = (self.chunks_dir / name).read_bytes()
        if hashlib.sha256(data).hexdigest()[:32] != name.removesuffix(".parquet"):
            raise DamagedChunk("its content does not match its checksum")
        try:
            # no arrow threads: tiny files, and the process may fork extraction workers next
            return pq.read_table(pa.BufferReader(data), use_threads=False)
        except Exception as exc:  # any parquet/arrow failure means the file is damaged
            raise DamagedChunk(f"parquet cannot read it: {type(exc).__name__}: {exc}") from None

    @staticmethod
    def _parse_chunk(table: Any, n_features: int | None, *, keys_only: bool = False
                     ) -> tuple[list[str], np.ndarray | None]:
        """(row keys, values matrix) of a chunk's table; raises DamagedChunk when it cannot be trusted."""
        import numpy as np

        try:
            keys = [str(k) for k in table.column("_key").to_pylist()]
            if keys_only:
                return keys, None
            column = table.column("values").combine_chunks()
            width = column.type.list_size
            values = column.flatten().to_numpy(zero_copy_only=False).reshape(-1, width)
        except Exception as exc:  # missing columns, wrong types
            raise DamagedChunk(f"unexpected layout: {type(exc).__name__}: {exc}") from None
        if n_features is not None and width != n_features:
            raise DamagedChunk(f"it holds {width} features per row, the spec has {n_features}")
        if len(values) != len(keys):
            raise DamagedChunk("its key and value columns differ in length")
        return keys, values.astype(np.float32, copy=False)

    def discard(self, name: str, reason: str, log: logging.Logger | None = None) -> None:
        """Remove a damaged chunk (its rows will be recomputed) and say so."""
        path = self.chunks_dir / name
        (log or _log).warning("Damaged feature cache file %s (%s): removed; its rows will be recomputed",
                              path, reason)
        with self._locked(exclusive=True) as present:
            if not present:
                return
            path.unlink(missing_ok=True)
            indexed, _ = self._read_index()
            if name in indexed:
                del indexed[name]
                self._rewrite_index(indexed)

    def read_into(self, positions: Mapping[str, Sequence[int]], out: np.ndarray,
                  log: logging.Logger | None = None) -> set[str]:
        """Copy the cached rows of ``positions`` (row key → rows of ``out``) into ``out``.

        Returns the keys found. Reads one chunk at a time, and only chunks holding wanted rows
        (memory stays flat; chunks missing from the index are read once more for their keys).
        """
        found: set[str] = set()
        if not positions:
            return found
        wanted = sorted(name for name, keys in self.chunk_map(log).items() if any(k in positions for k in keys))
        for name in wanted:
            try:
                keys, values = self._parse_chunk(self._load_table(name), n_features=out.shape[1])
            except FileNotFoundError:  # pruned meanwhile: recompute
                continue
            except DamagedChunk as exc:
                self.discard(name, str(exc), log)
                continue
            assert values is not None
            for i, key in enumerate(keys):
                rows = positions.get(key)
                if rows is not None and key not in found:
                    out[list(rows)] = values[i]
                    found.add(key)
        return found

    def commit(self, keys: Sequence[str], refs: Sequence[RowRef], values: np.ndarray,
               feature_names: Sequence[str]) -> str:
        """Write one chunk of rows (atomically) and index it; returns the chunk's name."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        values = np.ascontiguousarray(values, dtype=np.float32)
        table = pa.table({
            "_key": pa.array(list(keys), pa.string()),
            "_file": pa.array([r.file for r in refs], pa.string()),
            "_start": pa.array([r.start for r in refs], pa.float64()),
            "_end": pa.array([r.end for r in refs], pa.float64()),
            "values": pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1]),
        })
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        data = sink.getvalue().to_pybytes()
        name = hashlib.sha256(data).hexdigest()[:32] + ".parquet"
        with self._locked(exclusive=True, create=True):
            if self.sidecar() is None:
                self._write_sidecar(feature_names)
            # every writer holds the lock while its temporary files exist: these are leftovers
            for stale in [*self.chunks_dir.glob(f"{TMP_PREFIX}*"), *self.folder.glob(f"{TMP_PREFIX}*")]:
                stale.unlink(missing_ok=True)
            atomic_write_bytes(self.chunks_dir / name, data)
            with open(self.index_path, "a") as fh:
                fh.write(json.dumps({"chunk": name, "rows": len(keys), "keys": list(keys)}) + "\n")
        return name

    def ensure(self, feature_names: Sequence[str]) -> None:
        """Create the folder and its sidecar if needed, and mark the entry as used."""
        with self._locked(exclusive=True, create=True):
            if self.sidecar() is None:
                self._write_sidecar(feature_names)
        self.touch()

    # --- inspection and removal ------------------------------------------------------------------

    def stats(self, rows: int | None = None) -> EntryStats:
        """Rows (distinct keys), chunks and bytes on disk, last use and creation time.

        :param rows: the row count when the caller knows it already (from :meth:`verify`),
            which spares counting it.
        """
        if rows is None:
            with self._locked(exclusive=False) as present:
                indexed, _ = self._read_index() if present else ({}, 0)
                on_disk = self._listing()
            keys: set[str] = set()
            extra = 0
            for name in on_disk:
                if name in indexed:
                    keys.update(indexed[name])
                else:
                    import pyarrow.parquet as pq

                    with contextlib.suppress(Exception):
                        extra += pq.read_metadata(self.chunks_dir / name).num_rows
            rows = len(keys) + extra
        else:
            on_disk = self._listing()
        try:
            created = self.sidecar_path.stat().st_mtime
        except OSError:
            created = 0.0
        return EntryStats(rows, len(on_disk), disk_usage(self.folder), self.last_used(), created)

    def verify(self, sidecar: Mapping[str, Any] | EllipsisType | None = ...) -> dict[str, Any]:
        """Read every chunk: rows, distinct files, damaged chunks (reported, not removed).

        :param sidecar: the entry's :meth:`sidecar` when the caller has read it already.
        """
        names = self.feature_names() if isinstance(sidecar, EllipsisType) else _feature_names(sidecar)
        n_features = len(names or []) or None
        files: set[str] = set()
        keys: set[str] = set()
        damaged: dict[str, str] = {}
        for name in sorted(self._listing()):
            try:
                table = self._load_table(name)
                chunk_keys, _ = self._parse_chunk(table, n_features)
                chunk_files = table.column("_file").to_pylist()
            except (DamagedChunk, OSError) as exc:
                damaged[name] = str(exc)
                continue
            keys.update(chunk_keys)
            files.update(str(f) for f in chunk_files)
        return {"rows": len(keys), "files": len(files), "damaged": damaged}

    def remove(self) -> bool:
        """Delete the folder (waits for runs writing to it to release the lock)."""
        trash = self.folder.parent.parent / f".trash-{uuid.uuid4().hex}"
        with self._locked(exclusive=True) as present:
            if not present:
                return False
            os.replace(self.folder, trash)
        shutil.rmtree(trash, ignore_errors=True)
        return True


class FeatureCache:
    """Feature cache below ``<root>/features``: spec folders, row keys, and their listing.

    :param root: the cache folder (see :func:`cache_root`).
    :param content_hash: add a sha256 of each file's content to its row keys (catches changes
        that keep a file's size and mtime, at the cost of reading every file on every run);
        None: as the environment variable ``NK_CACHE_CONTENT_HASH`` says (:func:`nk.env.env_flag`:
        ``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``).
    """

    def __init__(self, root: Path, *, content_hash: bool | None = None) -> None:
        self.root = Path(root) / "features"
        self.content_hash = env_flag(CONTENT_HASH_ENV) if content_hash is None else content_hash

    def entry(self, spec: Mapping[str, Any]) -> CacheEntry:
        """The folder of a featurizer spec (which need not exist yet)."""
        return CacheEntry(self.root / str(spec["component"]) / spec_key(spec), spec)

    def entries(self) -> list[CacheEntry]:
        """Every spec folder in the cache."""
        out: list[CacheEntry] = []
        if not self.root.is_dir():
            return out
        for component in sorted(self.root.iterdir()):
            if not component.is_dir() or component.name.startswith("."):
                continue
            for folder in sorted(component.iterdir()):
                if folder.is_dir() and not folder.name.startswith("."):
                    entry = CacheEntry(folder)
                    if entry.exists():
                        out.append(entry)
        return out

    def row_keys(self, refs: Sequence[RowRef]) -> tuple[list[str | None], dict[int, str]]:
        """(row key or None, {position: error}) for each row; a file that cannot be read has no key."""
        identities: dict[str, list[Any] | str] = {}
        keys: list[str | None] = []
        errors: dict[int, str] = {}
        for i, ref in enumerate(refs):
            ident = identities.get(ref.file)
            if ident is None:
                path = os.path.abspath(ref.file)
                try:
                    st = os.stat(path)
                    ident = [path, st.st_size, st.st_mtime_ns]
                    if self.content_hash:
                        ident.append(sha256_file(path))
                except OSError as exc:
                    ident = f"cannot read the file: {exc.strerror or exc}"
                identities[ref.file] = ident
            if isinstance(ident, str):
                keys.append(None)
                errors[i] = ident
                continue
            text = json.dumps([*ident, ref.start, ref.end], separators=(",", ":"))
            keys.append(hashlib.sha256(text.encode()).hexdigest()[:32])
        return keys, errors

    def stray(self, entries: Sequence[CacheEntry] | None = None) -> list[Path]:
        """Files and folders below ``features`` that are not spec folders (old formats, trash).

        :param entries: :meth:`entries` when the caller has just listed them.
        """
        if not self.root.is_dir():
            return []
        keep = {e.folder for e in (self.entries() if entries is None else entries)}
        out = []
        for path in sorted(self.root.iterdir()):
            if path.is_dir() and not path.name.startswith("."):
                out += [p for p in sorted(path.iterdir()) if p not in keep]
            else:
                out.append(path)
        return out


def age_text(seconds_since_epoch: float, now: float | None = None) -> str:
    """'3 min ago', '5 h ago', '2 d ago' (for tables)."""
    if not seconds_since_epoch:
        return "never"
    delta = max(0.0, (now or time.time()) - seconds_since_epoch)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if delta >= size:
            return f"{delta / size:.0f} {unit} ago"
    return "just now"


def size_text(n: int) -> str:
    """Bytes as '12.3 MB'."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"
