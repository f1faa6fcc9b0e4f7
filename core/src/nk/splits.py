"""Splits and cross-validation folds, speaker-independent by default, and leakage checks.

A :class:`Fold` assigns each row to ``train``, ``dev`` or ``test`` (or leaves it out). A plain
split is one fold; cross-validation yields one fold per held-out speaker group. Rows of a
database with a fixed role (``data.<db>.role=train|dev|test``) keep it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nk.config import CV_METHODS, SplitMethod, as_enum
from nk.errors import UserError
from nk.fsutil import sha256_file

if TYPE_CHECKING:
    from nk.context import RunContext


@dataclass
class Fold:
    """One train/dev/test assignment (a Series over the corpus index; '' = not used)."""

    name: str
    split: pd.Series



def make_folds(frame: pd.DataFrame, target: str, task: str, ctx: RunContext) -> list[Fold]:
    """The folds of the configured split method (one for plain splits), checked."""
    from nk.corpus import with_database_keys

    try:
        return _make_folds(frame, target, task, ctx)
    except UserError as err:
        names = sorted(map(str, frame["db"].unique())) if "db" in frame.columns else []
        raise with_database_keys(err, names) from None


def _make_folds(frame: pd.DataFrame, target: str, task: str, ctx: RunContext) -> list[Fold]:
    cfg = ctx.cfg.split
    method = as_enum(cfg.method, SplitMethod)
    seed = ctx.seed
    none = pd.Series(np.nan, index=frame.index, dtype=object)
    roles = frame["_role"] if "_role" in frame.columns else none  # data.<db>.role: always kept
    fixed = roles.where(roles.isin(["train", "dev", "test"]))
    if method is SplitMethod.given and "split" in frame.columns:
        given = frame["split"].where(frame["split"].isin(["train", "dev", "test"]))
        fixed = fixed.fillna(given)
    elif "split" in frame.columns:
        ctx.log.info("split.method=%s: the data's split column is not used", method.value)
    free = fixed.isna()
    if method is SplitMethod.speaker:
        _check_columns(frame, list(cfg.stratify), "split.stratify", ["gender"], ctx)
    elif method is SplitMethod.balanced:
        _check_columns(frame, list(cfg.balance_on), "split.balance_on", ["gender"], ctx)
    if method is SplitMethod.given:
        if free.any():
            examples = ", ".join(map(str, frame.index[free][:5]))
            raise UserError(
                f"split.method=given needs a split (train/dev/test) for every row; {int(free.sum())} "
                f"rows have none (e.g. {examples})",
                where="the data's split column and the databases' roles",
                allowed="train, dev, test",
                todo="fill the split column, give each database a role (data.<db>.role=train), "
                "or use split.method=speaker",
            )
        folds = [Fold("given", fixed.astype(str))]
    elif method in CV_METHODS:
        folds = _cv_folds(frame, fixed, target, task, method, ctx)
    elif not free.any():  # every row has its database's role
        folds = [Fold(method.value, fixed.astype(str))]
    else:
        sub = frame[free]
        if method is SplitMethod.random:
            assignment = random_split(sub, float(cfg.test_size), float(cfg.dev_size), seed)
        else:
            _need_speakers(frame, method)
            speakers = _speaker_table(sub, target, task)
            if method is SplitMethod.balanced:
                spk_split = _balanced(sub, speakers, target, list(cfg.balance_on), cfg, seed)
            else:
                spk_split = _stratified(speakers, list(cfg.stratify), float(cfg.test_size),
                                        float(cfg.dev_size), seed)
            assignment = sub["speaker"].map(spk_split)
        split = fixed.copy().astype(object)
        split[free] = assignment
        folds = [Fold(method.value, split.astype(str))]
    if cfg.merge_dev:
        folds = [Fold(f.name, f.split.replace("dev", "train")) for f in folds]
    for fold in folds:
        _check_fold(frame, fold, target, task, method, ctx, cv=method in CV_METHODS)
    if method in CV_METHODS:
        _check_pooled(frame, folds, target, task)
    return folds


def _check_columns(frame: pd.DataFrame, columns: list[str], key: str, default: list[str],
                   ctx: RunContext) -> None:
    """Columns a split balances over must exist; only the default (gender) may be absent, which the
    log says. A typo would otherwise silently give an unbalanced split."""
    missing = [c for c in columns if c not in frame.columns]
    if not missing:
        return
    if [str(c) for c in columns] == default:
        ctx.log.info("%s=%s: the data has no such column; the split balances over the target only",
                     key, default)
        return
    raise UserError(
        f"{key} names columns that are not in the data: {missing}",
        where=f"config key {key}",
        allowed=", ".join(repr(str(c)) for c in frame.columns if not str(c).startswith("_")),
        todo=f"use existing columns (case matters), or {key}=[] to balance over the target only",
    )


def _target_is_speaker(frame: pd.DataFrame, target: str) -> bool:
    """Whether the target names the speaker (one label per speaker and one speaker per label)."""
    if target == "speaker":
        return True
    if "speaker" not in frame.columns:
        return False
    if pd.to_numeric(frame[target], errors="coerce").notna().all():  # ages, scores: not identities
        return False
    pairs = frame[["speaker", target]].dropna().astype(str)
    return bool(len(pairs)) and pairs.groupby("speaker")[target].nunique().max() == 1 and \
        pairs.groupby(target)["speaker"].nunique().max() == 1 and pairs[target].nunique() > 2


SPEAKER_TARGET_TODO = ("the target {target!r} names the speaker, so a speaker-disjoint split can never test "
                       "a class it trained on: for speaker identification use split.method=random (each "
                       "speaker's rows shared between train and test; speakers then overlap on purpose) "
                       "or split.method=given with a split column that does so")


def _need_speakers(frame: pd.DataFrame, method: SplitMethod) -> None:
    if "speaker" not in frame.columns or frame["speaker"].isna().all():
        raise UserError(
            f"split.method={method.value} needs a 'speaker' column",
            where="the data",
            todo="add a speaker column (or rename one with data.<db>.rename), or use "
            "split.method=random (speakers then overlap between splits)",
        )
    missing = frame["speaker"].isna()
    if missing.any():
        raise UserError(
            f"{int(missing.sum())} rows have no speaker (e.g. {list(frame.index[missing][:3])})",
            where="the data's speaker column",
            todo="fill the speaker column, or drop these rows with filter.required=[speaker]",
        )


def _speaker_table(frame: pd.DataFrame, target: str, task: str) -> pd.DataFrame:
    """One row per speaker: its majority label (classification) and first covariate values."""
    speakers = frame.groupby("speaker", sort=True, observed=True).first()
    if task == "classification":
        labels = frame.groupby("speaker", sort=True, observed=True)[target].agg(
            lambda s: s.value_counts().index[0])
        purity = frame.groupby("speaker", sort=True, observed=True)[target].nunique()
        speakers["_label"] = labels
        speakers["_single_label"] = purity == 1
    return speakers


_PARTS = np.array(["train", "dev", "test"], dtype=object)  # the part codes of _draw


def _stratified(speakers: pd.DataFrame, stratify: list[str], test_size: float, dev_size: float,
                seed: int) -> dict[Any, str]:
    """Speaker-disjoint split, proportional in each stratum.

    Speakers are shuffled within strata (the chosen covariates, plus the label when most
    speakers have a single label), strata are laid end to end, and test/dev speakers are picked
    at evenly spaced positions, so every stratum contributes its share.
    """
    parts = _draw(_strata(speakers, stratify), test_size, dev_size, np.random.default_rng(seed))
    return dict(zip(speakers.index, _PARTS[parts], strict=True))


def _strata(speakers: pd.DataFrame, stratify: list[str]) -> list[np.ndarray]:
    """The strata of :func:`_stratified`: positions in ``speakers``, each stratum sorted by str(id)."""
    keys = [c for c in stratify if c in speakers.columns]
    if "_single_label" in speakers.columns and speakers["_single_label"].mean() >= 0.8:
        keys = ["_label", *keys]
    numbered = speakers.assign(_pos=np.arange(len(speakers)))
    groups = numbered.groupby(keys, sort=True, observed=True, dropna=False) if keys else [(None, numbered)]
    strata = []
    for _, members in groups:
        ids = [str(spk) for spk in members.index]
        by_id = sorted(range(len(ids)), key=ids.__getitem__)  # stable, like sorted(index, key=str)
        strata.append(members["_pos"].to_numpy()[by_id])
    return strata


def _draw(strata: list[np.ndarray], test_size: float, dev_size: float,
          rng: np.random.Generator) -> np.ndarray:
    """One seeded split of :func:`_stratified`: a part code (index into _PARTS) per speaker position."""
    shuffled = []
    for stratum in strata:
        ids = stratum.copy()
        rng.shuffle(ids)
        shuffled.append(ids)
    order = np.concatenate(shuffled) if shuffled else np.zeros(0, dtype=np.intp)
    n = len(order)
    n_test = round(test_size * n) if test_size > 0 else 0
    n_test = max(n_test, 1) if test_size > 0 else 0
    n_dev = max(round(dev_size * n), 1) if dev_size > 0 else 0
    if n_test + n_dev >= n:
        raise UserError(
            f"Too few speakers ({n}) for a speaker-disjoint split with test_size={test_size} "
            f"and dev_size={dev_size}",
            where="config key split",
            todo="lower split.test_size / split.dev_size, use more speakers, or use "
            "cross-validation (split.method=loso)",
        )
    parts = np.zeros(n, dtype=np.int8)  # train
    taken = sorted(_spaced(n, n_test, offset=rng.random()))
    parts[order[taken]] = 2  # test
    rest = np.setdiff1d(np.arange(n), taken)
    parts[order[rest[sorted(_spaced(len(rest), n_dev, offset=rng.random()))]]] = 1  # dev
    return parts


def _spaced(n: int, k: int, *, offset: float) -> set[int]:
    """k evenly spaced positions in range(n)."""
    if k <= 0:
        return set()
    return {min(n - 1, int((i + offset) * n / k)) for i in range(k)}


def random_split(frame: pd.DataFrame, test_size: float, dev_size: float, seed: int) -> pd.Series:
    """Seeded train/dev/test per row, ignoring speakers; the segments of one file stay together
    (one draw per file), so that no file is in two splits."""
    rng = np.random.default_rng(seed)
    if isinstance(frame.index, pd.MultiIndex):
        files = frame.index.get_level_values("file")
        unique = pd.unique(files)
        u = pd.Series(rng.random(len(unique)), index=unique).loc[files].to_numpy()
    else:
        u = rng.random(len(frame))
    labels = np.where(u < test_size, "test", np.where(u < test_size + dev_size, "dev", "train"))
    return pd.Series(labels, index=frame.index)


def _balanced(frame: pd.DataFrame, speakers: pd.DataFrame, target: str, covariates: list[str],
              cfg: Any, seed: int) -> dict[Any, str]:
    """The speaker-disjoint split (of 500 seeded candidates) that best balances target and covariates.

    The first candidate with the lowest :func:`_distances` wins.
    """
    strata = _strata(speakers, [])
    candidates = np.stack([
        _draw(strata, float(cfg.test_size), float(cfg.dev_size), np.random.default_rng(seed * 1000 + i))
        for i in range(500)
    ])
    speaker_of_row = speakers.index.get_indexer(frame["speaker"])
    scores = _distances(frame, speaker_of_row, candidates, [target, *covariates])
    return dict(zip(speakers.index, _PARTS[candidates[int(np.argmin(scores))]], strict=True))


def _distances(frame: pd.DataFrame, speaker_of_row: np.ndarray, candidates: np.ndarray,
               columns: list[str]) -> np.ndarray:
    """How differently train and the held-out parts are distributed over ``columns``, per candidate.

    ``candidates`` (candidates × speakers) holds part codes; ``speaker_of_row`` each row's speaker
    position. For every column and every part a candidate uses, the score adds the total variation
    distance between the part's and the whole corpus's distribution of the column's values
    (numeric columns with more than 10 values: their quartiles). Counts come from one
    speakers × values matrix, so a candidate costs a matrix product; the arithmetic (and so
    every tie) is that of pandas' ``value_counts(normalize=True)`` per part.
    """
    n_speakers = candidates.shape[1]
    total = np.zeros(len(candidates))
    in_part = [candidates == code for code in range(len(_PARTS))]
    used = [member.any(axis=1) for member in in_part]  # every speaker has rows
    for col in columns:
        if col not in frame.columns:
            continue
        values = frame[col]
        numeric = pd.api.types.is_numeric_dtype(values) and values.nunique() > 10
        if numeric:
            values = pd.qcut(values.rank(method="first"), 4, labels=False)
        overall = values.value_counts(normalize=True)
        share = overall.to_numpy(dtype=np.float64, na_value=np.nan)
        k = len(overall)
        code = overall.index.get_indexer(values)
        known = code >= 0  # value_counts leaves missing values out
        counts = np.bincount(speaker_of_row[known] * k + code[known],
                             minlength=n_speakers * k).reshape(n_speakers, k).astype(np.float64)
        # a part whose rows all lack the value: what pandas gives (dtype-dependent, e.g. categorical)
        missing = values[values.isna()]
        empty = 0.5 * float(np.abs(missing.value_counts(normalize=True).reindex(
            overall.index, fill_value=0) - overall).sum()) if len(missing) else 0.0
        for member, use in zip(in_part, used, strict=True):
            part = member.astype(np.float64) @ counts  # candidates × values
            n_part = part.sum(axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                dist = 0.5 * np.nansum(np.abs(part / n_part - share), axis=1)
            total += np.where(use, np.where(n_part[:, 0] > 0, dist, empty), 0.0)
    return total


def _cv_folds(frame: pd.DataFrame, fixed: pd.Series, target: str, task: str, method: SplitMethod,
              ctx: RunContext) -> list[Fold]:
    cfg = ctx.cfg.split
    if fixed.isin(["dev", "test"]).any():
        raise UserError(
            f"Cross-validation (split.method={method.value}) holds out every speaker once; "
            "databases with role dev or test do not fit it",
            where="config key data.<db>.role",
            todo="give those databases role all or train, or use split.method=given",
        )
    _need_speakers(frame, method)
    free = fixed.isna()
    sub = frame[free]
    speakers = np.array(sorted(sub["speaker"].unique(), key=str), dtype=object)
    rng = np.random.default_rng(ctx.seed)
    if method is SplitMethod.loso:
        groups = [[s] for s in speakers]
    elif method is SplitMethod.lsgo:
        k = int(cfg.n_folds)
        if k > len(speakers):
            raise UserError(f"split.n_folds={k} exceeds the {len(speakers)} speakers",
                            where="config key split.n_folds", todo="lower it, or use loso")
        shuffled = speakers.copy()
        rng.shuffle(shuffled)
        groups = [list(shuffled[i::k]) for i in range(k)]
    else:
        from sklearn.model_selection import StratifiedGroupKFold

        k = int(cfg.n_folds)
        if k > len(speakers):
            raise UserError(f"split.n_folds={k} exceeds the {len(speakers)} speakers",
                            where="config key split.n_folds", todo="lower it, or use loso")
        y = sub[target].astype(str) if task == "classification" else pd.qcut(
            sub[target].rank(method="first"), min(k, 4), labels=False).astype(str)
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=ctx.seed)
        groups = []
        for _, test_idx in splitter.split(np.zeros(len(sub)), y, sub["speaker"].astype(str)):
            groups.append(sorted(sub["speaker"].iloc[test_idx].unique(), key=str))
    folds = []
    for i, held_out in enumerate(groups):
        split = pd.Series("train", index=frame.index, dtype=object)
        split[sub.index[sub["speaker"].isin(held_out)]] = "test"
        if float(cfg.dev_size) > 0:
            train_spk = [s for s in speakers if s not in set(held_out)]
            n_dev = max(1, round(float(cfg.dev_size) * len(train_spk)))
            dev = set(np.random.default_rng(ctx.seed + i).permutation(np.array(train_spk, dtype=object))[:n_dev])
            split[sub.index[sub["speaker"].isin(dev)]] = "dev"
        name = f"fold{i + 1}:" + ",".join(map(str, held_out[:3])) + ("…" if len(held_out) > 3 else "")
        folds.append(Fold(name, split.astype(str)))
    return folds


def _check_fold(frame: pd.DataFrame, fold: Fold, target: str, task: str, method: SplitMethod,
                ctx: RunContext, *, cv: bool) -> None:
    split = fold.split
    for part in ("train", "test"):
        if not (split == part).any():
            raise UserError(f"The {part} split is empty ({fold.name})", where="config key split",
                            todo="check split.test_size, the databases' roles and the split column")
    if "speaker" in frame.columns:
        train_spk = set(frame.loc[split == "train", "speaker"].dropna())
        for part in ("dev", "test"):
            overlap = train_spk & set(frame.loc[split == part, "speaker"].dropna())
            if not overlap:
                continue
            text = (f"{len(overlap)} speakers are in train and in {part} "
                    f"(e.g. {sorted(map(str, overlap))[:5]}): results will be optimistic")
            if method in (SplitMethod.random, SplitMethod.given):
                ctx.log.warning("%s (split.method=%s)", text, method.value)
            else:
                raise UserError(text, where=f"split.method={method.value} and the databases' roles",
                                todo="give the databases disjoint speakers, or use split.method=given")
    if task != "classification":
        return
    train_classes = set(frame.loc[split == "train", target])
    for part in ("dev", "test"):
        absent = sorted(set(frame.loc[split == part, target]) - train_classes)
        if absent:
            todo = "use more speakers, another seed, or split.method=balanced"
            if _target_is_speaker(frame, target) and method is not SplitMethod.random:
                todo = SPEAKER_TARGET_TODO.format(target=target)
            elif pd.to_numeric(pd.Series(sorted(train_classes | set(absent))), errors="coerce").notna().all():
                todo = (f"{target!r} is numeric but classified: to predict numbers choose a regression "
                        f"model (e.g. model=svr), or group the values with bins.edges; or {todo}")
            raise UserError(f"Classes {absent} occur in {part} but not in train ({fold.name})",
                            where="the split", todo=todo)
    if not cv:
        missing = sorted(set(frame[target]) - set(frame.loc[split == "test", target]))
        if missing:
            raise UserError(
                f"Classes {missing} do not occur in the test split",
                where=f"split.method={method.value}",
                todo=SPEAKER_TARGET_TODO.format(target=target)
                if _target_is_speaker(frame, target) and method is not SplitMethod.random else
                "use more test speakers (split.test_size), split.method=balanced, another "
                "seed, or cross-validation (split.method=loso)",
            )


def _check_pooled(frame: pd.DataFrame, folds: list[Fold], target: str, task: str) -> None:
    tested = pd.concat([f.split[f.split == "test"] for f in folds])
    counts = tested.index.value_counts()
    if (counts > 1).any():
        raise UserError("A row is tested in more than one fold", where="split")


def duplicate_audio(frame: pd.DataFrame, fold: Fold, log: Any) -> list[list[str]]:
    """Warn (on ``log``) when identical audio content appears in more than one split; return
    the groups of identical files (the split stage records them in results.json).

    Only files of equal size can be identical, and only a size group whose files lie in more
    than one split can leak: only those files are hashed, in blocks (memory stays flat).
    """
    import os

    files = (frame.index.get_level_values("file") if isinstance(frame.index, pd.MultiIndex)
             else frame.index)
    split_of = dict(zip(files, fold.split.to_numpy(), strict=False))
    by_size: dict[int, list[str]] = defaultdict(list)
    for file in split_of:
        try:
            by_size[os.path.getsize(file)].append(file)
        except OSError:
            continue
    by_hash: dict[str, list[str]] = defaultdict(list)
    for same in by_size.values():
        if len({split_of[f] for f in same}) < 2:  # a single file, or all in one split
            continue
        for file in same:
            by_hash[sha256_file(file)].append(file)
    clashes = [group for group in by_hash.values() if len({split_of[f] for f in group}) > 1]
    if clashes:
        listing = "; ".join(" = ".join(f"{f} ({split_of[f]})" for f in group) for group in clashes[:10])
        log.warning("Identical audio in more than one split (%d groups): %s", len(clashes), listing)
    return [list(g) for g in clashes]


def summary(frame: pd.DataFrame, split: pd.Series, target: str, task: str) -> dict[str, Any]:
    """Rows and speakers per split × label, durations, gender counts."""
    out: dict[str, Any] = {"rows": split[split != ""].value_counts().to_dict()}
    parts = frame.assign(_split=split.to_numpy())
    if "speaker" in frame.columns:
        out["speakers"] = parts.groupby("_split", observed=True)["speaker"].nunique().to_dict()
    if task == "classification":
        out["labels"] = pd.crosstab(parts["_split"], parts[target]).to_dict(orient="index")
        if "speaker" in frame.columns:
            out["speakers_per_label"] = (parts.groupby(["_split", target], observed=True)["speaker"]
                                         .nunique().unstack(fill_value=0).to_dict(orient="index"))
    else:
        out["target"] = parts.groupby("_split", observed=True)[target].describe()[
            ["mean", "std", "min", "max"]].round(3).to_dict(orient="index")
    if "duration" in frame.columns:
        out["duration_s"] = {
            "total": round(float(frame["duration"].sum()), 1),
            "mean": round(float(frame["duration"].mean()), 3),
            "per_split": parts.groupby("_split", observed=True)["duration"].sum().round(1).to_dict(),
        }
    if "gender" in frame.columns:
        out["gender"] = pd.crosstab(parts["_split"], parts["gender"].astype(str)).to_dict(orient="index")
    return out
