"""The kinds of component nk knows, declared once.

Every place that needs the list of kinds reads :data:`KINDS`: the registration hooks the plugin
manager calls (:mod:`nk.plugins`), the config groups and their place in the config
(:mod:`nk.registry`, :mod:`nk.config`), the defaults list of the primary config, the check of a
built component against its Protocol (:meth:`nk.registry.Component.build`) and the contract
suites plugin authors subclass (:mod:`nk.testing.contracts`). Adding a kind is one row here plus
its hook spec in :mod:`nk.hookspecs` (a meta-test checks that the two agree).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from nk import api


@dataclass(frozen=True)
class Kind:
    """One kind of component.

    :param hook: the registration hook plugins implement (``nk_register_<kinds>``).
    :param group: the config group whose options the components become (``None``: not a
        config option, e.g. dataset recipes, which ``nk data prepare`` runs).
    :param multi: several components of the group can be selected at once
        (``feats=[egemaps,praat]``); they then live at ``<group>.<name>``. A single-select
        group holds one component at ``<group>`` with a ``name`` field.
    :param protocol: the interface a built component must satisfy (:mod:`nk.api`).
    :param contract: the contract suite in :mod:`nk.testing.contracts` for this kind.
    :param default: the options selected when the user selects none (core components only,
        so that nk runs without plugins; a plugin can ask to be the default with
        ``register(..., default=True)``). ``()`` for a multi-select group means none,
        ``None`` for a single-select group means the group is off.
    :param required: a run needs at least one component of this group.
    """

    hook: str
    group: str | None
    multi: bool
    protocol: type
    contract: str
    default: tuple[str, ...] | str | None = None
    required: bool = False

    @property
    def noun(self) -> str:
        """The component kind in words, for messages (``featurizer``)."""
        return self.hook.removeprefix("nk_register_").removesuffix("s")


KINDS: tuple[Kind, ...] = (
    Kind("nk_register_loaders", "data", True, api.Loader, "LoaderContract", ("demo",), required=True),
    Kind("nk_register_segmenters", "segment", False, api.Segmenter, "SegmenterContract"),
    Kind("nk_register_augmenters", "augment", False, api.Augmenter, "AugmenterContract"),
    Kind("nk_register_featurizers", "feats", True, api.Featurizer, "FeaturizerContract", ("mfcc",),
         required=True),
    Kind("nk_register_learners", "model", False, api.Learner, "LearnerContract", "svm", required=True),
    Kind("nk_register_predictors", "predict", True, api.Predictor, "PredictorContract", ()),
    Kind("nk_register_ensemblers", "ensemble", False, api.Ensembler, "EnsemblerContract"),
    Kind("nk_register_reporters", "report", True, api.Reporter, "ReporterContract", ("plots",)),
    Kind("nk_register_datasets", None, False, api.DatasetRecipe, "DatasetContract"),
)

BY_HOOK: Mapping[str, Kind] = MappingProxyType({k.hook: k for k in KINDS})
BY_GROUP: Mapping[str, Kind] = MappingProxyType({k.group: k for k in KINDS if k.group is not None})
DATASET_GROUP = "dataset"
"""The registry's group for dataset recipes (not a config group)."""


def registry_group(kind: Kind) -> str:
    """The registry's name for a kind's components: its config group, or ``dataset``."""
    return kind.group if kind.group is not None else DATASET_GROUP


CONFIG_GROUPS: tuple[str, ...] = tuple(k.group for k in KINDS if k.group is not None)
"""Config groups whose options are components, in the order of the primary defaults list."""

MULTI_SELECT_GROUPS: frozenset[str] = frozenset(k.group for k in KINDS if k.group is not None and k.multi)
"""Groups of which several options can be chosen at once (``feats=[egemaps,praat]``).

Their options live at ``<group>.<name>``; every other group holds one option at ``<group>``
with a ``name`` field saying which component it is. In ``data`` the key is the database's
name and the ``loader`` field names the component (``conf/data/emodb.yaml`` can say
``defaults: [csv@emodb]``).
"""


def kind_of(group: str) -> Kind:
    """The kind whose components live in the registry group ``group``."""
    for kind in KINDS:
        if registry_group(kind) == group:
            return kind
    raise KeyError(group)
