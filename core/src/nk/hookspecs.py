"""Every hook nk calls, typed and documented.

Plugins implement these with ``@nk.hookimpl``. Registration hooks are *broadcast*: every
implementation is called with its own ``register`` object and returns nothing. Lifecycle hooks
are broadcast too; their return values are ignored. Adding a keyword argument to a hook is
compatible; removing one is a breaking change.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import pluggy

from nk.kinds import KINDS, registry_group

if TYPE_CHECKING:
    from nk.context import RunContext
    from nk.registry import AddSection, Register

hookspec = pluggy.HookspecMarker("nk")
hookimpl = pluggy.HookimplMarker("nk")


# --- registration -------------------------------------------------------------------------


@hookspec
def nk_register_loaders(register: Register) -> None:
    """Register data loaders (config group ``data``).

    A loader's factory returns an object with ``load(ctx) -> nk.data.Corpus``.

    :param register: call ``register(name, factory, ConfigDataclass, description=...)``.
    """


@hookspec
def nk_register_segmenters(register: Register) -> None:
    """Register segmenters (config group ``segment``).

    A segmenter's factory returns an object with ``segment(frame, ctx) -> DataFrame`` whose
    index is segmented (``file``, ``start``, ``end``).

    :param register: call ``register(name, factory, ConfigDataclass, description=...)``.
    """


@hookspec
def nk_register_augmenters(register: Register) -> None:
    """Register augmenters (config group ``augment``).

    An augmenter's factory returns an object with ``augment(frame, ctx) -> DataFrame`` that
    returns new training rows (new files written under ``ctx.work_dir``) with the same columns.

    :param register: call ``register(name, factory, ConfigDataclass, description=...)``.
    """


@hookspec
def nk_register_featurizers(register: Register) -> None:
    """Register feature extractors (config group ``feats``; several may be selected at once).

    A featurizer's factory returns an object following :class:`nk.api.Featurizer`.

    :param register: call ``register(name, factory, ConfigDataclass, description=...)``.
    """


@hookspec
def nk_register_learners(register: Register) -> None:
    """Register learners (config group ``model``).

    A learner's factory returns a scikit-learn compatible estimator (classifier or regressor).

    :param register: call ``register(name, factory, ConfigDataclass, description=...)``.
    """


@hookspec
def nk_register_predictors(register: Register) -> None:
    """Register predictors of speaker characteristics for unlabelled data (group ``predict``).

    A predictor's factory returns an object with ``predict(frame, ctx) -> DataFrame``.

    :param register: call ``register(name, factory, ConfigDataclass, description=...)``.
    """


@hookspec
def nk_register_ensemblers(register: Register) -> None:
    """Register ensemble methods that combine the predictions of runs (group ``ensemble``).

    An ensembler's factory returns an object with ``combine(predictions, ctx) -> DataFrame``.

    :param register: call ``register(name, factory, ConfigDataclass, description=...)``.
    """


@hookspec
def nk_register_reporters(register: Register) -> None:
    """Register reporters that write artefacts from a finished run (group ``report``).

    A reporter's factory returns an object with ``report(result, ctx) -> list[Path]``.

    :param register: call ``register(name, factory, ConfigDataclass, description=...)``.
    """


@hookspec
def nk_register_datasets(register: Register) -> None:
    """Register dataset recipes for ``nk data prepare NAME`` (not a config group).

    A recipe's factory returns an object with
    ``prepare(dest: Path, *, source: Path | None, console) -> Path`` that builds the database
    (audio and a CSV table) below ``dest`` from ``source`` (e.g. a downloaded archive) or from
    the network, and returns the table's path.

    :param register: call ``register(name, factory, ConfigDataclass, description=...)``.
    """


@hookspec
def nk_add_config_sections(add: AddSection) -> None:
    """Add a section of its own to nk's config (``explore``, ``predict``, ``serve`` …).

    A command that needs options of its own declares them here instead of in core's schema:
    ``add(name, ConfigDataclass, help=...)`` makes ``<name>.<field>`` a config key of every
    composition (``nk explore explore.top_k=5``), checked like core's own sections (types,
    enums, ``param()`` bounds; a typo is an error). Section names must not clash with core's
    keys, a config group or another plugin's section.

    :param add: call ``add(name, ConfigDataclass, help=...)``.
    """


@hookspec
def nk_add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add subcommands to the ``nk`` command line (``nk run``, ``nk plugins``, ``nk explore`` …).

    Add a parser with ``subparsers.add_parser(name, help=...)`` and set its handler with
    ``parser.set_defaults(handler=fn)``, where ``fn(args, app) -> int`` returns the exit code
    and ``app`` is an :class:`nk.cli.App` (plugin manager, console). Import heavy modules
    inside ``fn``, not here: ``nk --help`` calls this hook.

    :param subparsers: the ``nk`` parser's subparsers.
    """


# --- lifecycle ----------------------------------------------------------------------------


@hookspec
def nk_run_start(ctx: RunContext) -> None:
    """Called once a run (``nk run`` or ``nk explore``) has its config and folder, before any stage.

    :param ctx: the run's context (config, run directory, logger, seed).
    """


@hookspec
def nk_stage_end(ctx: RunContext, stage: str, info: dict[str, Any]) -> None:
    """Called after each pipeline stage finished and its output passed the contract check.

    :param ctx: the run's context.
    :param stage: the stage's name (``load``, ``split``, ``segment``, ``augment``,
        ``featurize``, ``scale``, ``fit``, ``predict``, ``evaluate``, ``report``).
    :param info: a small summary of the stage (row counts, shapes, seconds taken).
    """


@hookspec
def nk_run_end(ctx: RunContext, results: dict[str, Any]) -> None:
    """Called when a run finished successfully.

    :param ctx: the run's context.
    :param results: the content of ``results.json``.
    """


@hookspec
def nk_run_error(ctx: RunContext, error: BaseException) -> None:
    """Called when a run failed, before the error is reported.

    :param ctx: the run's context.
    :param error: the exception that ended the run.
    """


REGISTRATION_HOOKS: dict[str, str] = {kind.hook: registry_group(kind) for kind in KINDS}
"""Registration hook → the registry group its components belong to (from :data:`nk.kinds.KINDS`)."""
