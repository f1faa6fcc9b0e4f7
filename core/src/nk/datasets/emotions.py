"""The common emotion names every recipe maps its corpus's codes to.

Each recipe writes two columns: ``emotion``, one of the names below, and ``emotion_code``, the
corpus's own code (``W`` in EmoDB, ``05`` in RAVDESS, ``ANG`` in CREMA-D), so that nothing of
the original labelling is lost. With the same names in every table, databases combine without
label maps::

    nk run 'data=[emodb,ravdess]' 'labels=[anger,happiness,neutral,sadness]'

The mapping is the corpora's documented meaning of each code; where a corpus's term differs
from the common name it is mapped to, the README's "Public databases" table says so (CREMA-D
and RAVDESS "happy" → happiness, TESS "pleasant surprise" → surprise, IEMOCAP "exc" →
excitement, which many papers merge into happiness: ``data.iemocap.label_map={excitement:
happiness}``). Codes of no emotion (IEMOCAP ``xxx``, MSP ``X``: the annotators did not agree)
become ``no_agreement``, and ``oth``/``O`` become ``other``: the rows are kept, and
``labels=[...]`` selects the classes to use.
"""

from __future__ import annotations

COMMON: tuple[str, ...] = (
    "anger", "happiness", "sadness", "neutral", "fear", "disgust", "surprise", "boredom", "calm",
    "contempt", "excitement", "frustration",
)
"""The common set (the Big Six, neutral, and the few more that several corpora label)."""

CORPUS_SPECIFIC: tuple[str, ...] = (
    "anxiety", "apology", "assertiveness", "concern", "encouragement", "other", "no_agreement",
)
"""Names a single corpus uses (JL-corpus's secondary emotions) or non-emotions (other,
no_agreement); allowed in a table, but not part of the common set."""

ALLOWED: frozenset[str] = frozenset(COMMON + CORPUS_SPECIFIC)


def check_mapping(recipe: str, mapping: dict[str, str]) -> None:
    """A recipe maps to allowed names only (the recipes' tests call this for every recipe)."""
    bad = sorted(set(mapping.values()) - ALLOWED)
    if bad:
        raise ValueError(f"recipe {recipe!r} maps to names outside nk's emotion set: {bad}")


__all__ = ["ALLOWED", "COMMON", "CORPUS_SPECIFIC", "check_mapping"]
