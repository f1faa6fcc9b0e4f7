"""Every hook is documented, and every hook is exercised by a test."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from nk import hookspecs

HOOKS = sorted(name for name, fn in vars(hookspecs).items() if name.startswith("nk_") and callable(fn))
TESTS = Path(__file__).parent
TEST_SOURCES = "\n".join(p.read_text() for p in [*TESTS.glob("test_*.py"),
                                                  *TESTS.parent.glob("plugins/*/tests/test_*.py")])


def test_hooks_exist():
    assert len(HOOKS) >= 13


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc) > 40, f"{hook} needs a docstring"
    for arg in inspect.signature(getattr(hookspecs, hook)).parameters:
        assert f":param {arg}:" in doc, f"{hook} does not document {arg!r}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_tested(hook):
    assert f"def {hook}(" in TEST_SOURCES, f"no test implements {hook}"


@pytest.mark.parametrize("hook", sorted(hookspecs.REGISTRATION_HOOKS))
def test_registration_hooks_map_to_groups(hook):
    assert hook in HOOKS


def test_every_kind_has_a_hook_a_protocol_and_a_contract_suite():
    from nk import api
    from nk.kinds import KINDS
    from nk.testing.contracts import CONTRACTS

    registration = {h for h in HOOKS if h.startswith("nk_register_")}
    assert {k.hook for k in KINDS} == registration
    for kind in KINDS:
        assert getattr(api, kind.protocol.__name__) is kind.protocol
        assert CONTRACTS[kind.contract].group == (kind.group or "dataset")
