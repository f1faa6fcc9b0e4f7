"""Built-in subcommand ``nk cache``: list, inspect and prune the feature cache."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from nk.hookspecs import hookimpl

if TYPE_CHECKING:
    from nk.cache import CacheEntry, FeatureCache
    from nk.cli import App

CACHE_EPILOG = """\
examples:
  nk cache ls                              one line per featurizer spec
  nk cache info 91be6884                   its sidecar (what the key was made of) and stats
  nk cache prune --older-than 30           remove entries not used for 30 days
  nk cache prune --component egemaps       remove every egemaps entry
  nk cache prune --all                     empty the feature cache
"""


@hookimpl
def nk_add_commands(subparsers: argparse._SubParsersAction) -> None:
    cache = subparsers.add_parser(
        "cache", help="list, inspect and prune the feature cache", epilog=CACHE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The feature cache keeps one folder per featurizer spec (component, version, "
                    "parameters, sampling rate) with the features of every row extracted with it.",
    )
    cache.set_defaults(handler=lambda args, app: _usage(cache))
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--cache-dir", metavar="DIR",
                        help="the cache folder (default: $NK_CACHE_DIR, else ~/.cache/nk)")
    actions = cache.add_subparsers(title="actions", metavar="ACTION")

    ls = actions.add_parser("ls", help="list cached featurizer specs", parents=[common])
    ls.set_defaults(handler=_ls)

    info = actions.add_parser("info", help="show one entry's sidecar and statistics", parents=[common])
    info.add_argument("key", metavar="KEY", help="an entry's key (or a unique prefix), as `nk cache ls` shows it")
    info.set_defaults(handler=_info)

    prune = actions.add_parser("prune", help="remove entries (asks nothing; prints what it removed)",
                               parents=[common])
    prune.add_argument("--older-than", type=float, metavar="DAYS",
                       help="remove entries last used more than DAYS days ago")
    prune.add_argument("--component", metavar="NAME", help="remove the entries of this featurizer")
    prune.add_argument("--all", action="store_true", help="remove everything in the feature cache")
    prune.set_defaults(handler=_prune)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _cache(args: argparse.Namespace) -> FeatureCache:
    from nk.cache import FeatureCache, cache_root
    from nk.errors import UserError

    root = cache_root(args.cache_dir, create=False)
    if root.exists() and not root.is_dir():
        raise UserError(f"The cache folder {str(root)!r} is not a folder", where="nk cache --cache-dir",
                        todo="give a folder (or set NK_CACHE_DIR to one)")
    return FeatureCache(root)


def _params_text(params: Any, width: int = 120) -> str:
    if not isinstance(params, dict):
        return "?"
    text = ", ".join(f"{k}={v}" for k, v in sorted(params.items())) or "-"
    return text if len(text) <= width else text[: width - 1] + "…"


def _describe(entry: CacheEntry) -> dict[str, Any]:
    from nk.cache import age_text, size_text

    side = entry.sidecar() or {}
    stats = entry.stats()
    return {
        "key": entry.key,
        "component": side.get("component", entry.folder.parent.name),
        "version": f"{side.get('provider', '?')} {side.get('version', '?')}",
        "params": _params_text(side.get("params")),
        "rows": stats.rows,
        "size": size_text(stats.bytes),
        "bytes": stats.bytes,
        "last used": age_text(stats.last_used),
        "stats": stats,
    }


def _ls(args: argparse.Namespace, app: App) -> int:
    from rich import box
    from rich.table import Table

    from nk.cache import size_text

    cache = _cache(args)
    listed = cache.entries()
    entries = [_describe(e) for e in listed]
    if not entries:
        app.console.print(f"The feature cache {cache.root} is empty.", highlight=False)
    else:
        table = Table(title=f"feature cache {cache.root}", title_justify="left", expand=True,
                      box=box.SIMPLE_HEAD)
        columns = ("key", "component", "version", "rows", "size", "last used", "params")
        rows = [(e["key"][:12], e["component"], e["version"], str(e["rows"]), e["size"], e["last used"],
                 e["params"]) for e in sorted(entries, key=lambda e: (e["component"], -e["stats"].last_used))]
        widths = [max(len(col), *(len(r[i]) for r in rows)) for i, col in enumerate(columns)]
        # params are never cut (entries that differ in one parameter must look different): in
        # their column when it has room to wrap them, else on their own lines below the table
        room = app.console.width - sum(w + 3 for w in widths[:-1]) - 3
        inline = room >= min(widths[-1], 30)
        shown = columns if inline else columns[:-1]
        for i, col in enumerate(shown):
            table.add_column(col, justify="right" if col in ("rows", "size") else "left",
                             no_wrap=col != "params", overflow="fold", ratio=1 if col == "params" else None,
                             min_width=None if col == "params" else widths[i])
        for row in rows:
            table.add_row(*row[:len(shown)])
        app.console.print(table)
        if not inline:
            app.console.print("params:", highlight=False)
            for row in rows:
                app.console.print(f"  {row[0]}  {row[1]}: {row[-1] or '(none)'}", highlight=False,
                                  markup=False, overflow="fold")
        total = sum(e["bytes"] for e in entries)
        noun = "entry" if len(entries) == 1 else "entries"
        app.console.print(f"{len(entries)} {noun}, {size_text(total)}", highlight=False)
    stray = cache.stray(listed)
    if stray:
        app.console.print(f"{len(stray)} other files or folders (an older cache format, leftovers); "
                          "`nk cache prune --all` removes them", highlight=False)
    return 0


def _find(cache: FeatureCache, key: str) -> CacheEntry:
    from nk.errors import UserError

    entries = cache.entries()
    wanted = key.strip().split("/")[-1]
    matches = [e for e in entries if wanted and e.key.startswith(wanted)]
    if "/" in key:
        matches = [e for e in matches if e.folder.parent.name == key.strip().split("/")[0]]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(f"{e.key[:12]} ({e.folder.parent.name})" for e in entries[:20]) or "none: the cache is empty"
    if not matches:
        raise UserError(f"No feature cache entry has the key {key!r}", where=f"nk cache info, cache {cache.root}",
                        allowed=known, todo="copy a key from `nk cache ls`")
    raise UserError(f"The key {key!r} matches {len(matches)} entries",
                    where=f"nk cache info, cache {cache.root}",
                    allowed=", ".join(e.key for e in matches), todo="give more characters of the key")


def _info(args: argparse.Namespace, app: App) -> int:
    import datetime as dt
    import json

    from rich.table import Table

    from nk.cache import age_text, size_text

    entry = _find(_cache(args), args.key)
    side = entry.sidecar()
    check = entry.verify(side)
    stats = entry.stats(rows=check["rows"])
    app.console.print(f"[bold]{entry.folder.parent.name}[/] {entry.key}  ({entry.folder})", highlight=False)
    if side is None:
        app.console.print("[yellow]spec.json is missing or damaged[/]")
    else:
        shown = {k: v for k, v in side.items() if k != "feature_names"}
        names = side.get("feature_names") or []
        shown["feature_names"] = names[:8] + (["…"] if len(names) > 8 else [])
        app.console.print_json(json.dumps(shown, default=str))
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()

    def when(t: float) -> str:
        return dt.datetime.fromtimestamp(t).isoformat(sep=" ", timespec="seconds") if t else "-"

    for label, value in (("rows", str(check["rows"])), ("audio files", str(check["files"])),
                         ("chunks", str(stats.chunks)), ("size on disk", size_text(stats.bytes)),
                         ("created", when(stats.created)),
                         ("last used", f"{when(stats.last_used)} ({age_text(stats.last_used)})"),
                         ("damaged chunks", str(len(check["damaged"])))):
        table.add_row(label, value)
    app.console.print(table)
    for name, reason in check["damaged"].items():
        app.console.print(f"[yellow]damaged:[/] {entry.chunks_dir / name}: {reason} "
                          "(recomputed by the next run that needs it)", highlight=False)
    return 0


def _prune(args: argparse.Namespace, app: App) -> int:
    import shutil
    import time

    from nk.cache import disk_usage, size_text
    from nk.errors import UserError

    if not (args.all or args.older_than is not None or args.component):
        raise UserError("`nk cache prune` needs to be told what to remove", where="nk cache prune",
                        allowed="--older-than DAYS, --component NAME (both: entries matching both), --all",
                        todo="add one of these options; `nk cache ls` shows what is cached")
    if args.all and (args.older_than is not None or args.component):
        raise UserError("--all removes everything and cannot be combined with --older-than or --component",
                        where="nk cache prune", todo="give either --all or the filters")
    if args.older_than is not None and not args.older_than >= 0:
        raise UserError(f"--older-than must be a number of days ≥ 0; got {args.older_than:g}",
                        where="nk cache prune --older-than", allowed="0, 0.5, 30, …",
                        todo="give the age in days")
    cache = _cache(args)
    entries = cache.entries()
    if args.component:
        known = {e.folder.parent.name for e in entries} | set(app.pm.registry.names("feats"))
        if args.component not in known:
            raise UserError(f"No featurizer named {args.component!r} is installed or cached",
                            where="nk cache prune --component", allowed=", ".join(sorted(known)),
                            todo="check the spelling; `nk cache ls` shows what is cached")
        entries = [e for e in entries if e.folder.parent.name == args.component]
    if args.older_than is not None:
        limit = time.time() - args.older_than * 86400
        entries = [e for e in entries if e.last_used() < limit]
    removed = freed = 0
    for entry in entries:
        info = _describe(entry)
        if entry.remove():
            removed += 1
            freed += info["bytes"]
            app.console.print(f"removed {info['component']} {entry.key[:12]} ({info['params']}; "
                              f"{info['rows']} rows, {info['size']}, last used {info['last used']})",
                              highlight=False)
    if args.all:  # listed afresh: an entry another run created meanwhile is not stray
        for path in cache.stray():
            freed += disk_usage(path)
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
            app.console.print(f"removed {path}", highlight=False)
        for folder in list(cache.root.iterdir()) if cache.root.is_dir() else []:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    if removed:
        noun = "entry" if removed == 1 else "entries"
        app.console.print(f"Removed {removed} {noun} ({size_text(freed)}) from {cache.root}", highlight=False)
    else:
        app.console.print("Nothing to remove.")
    return 0
