"""Shared helpers for the NN op tests: the finite-difference checks of
tests/passes/test_autodiff.py (IR level) and tests/frontend/test_gradients.py
(kl.gradients), loaded from their files so there is one version of each."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

import kiln as kl

TESTS = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


autodiff_helpers = _load("kiln_tests_autodiff", TESTS / "passes" / "test_autodiff.py")
frontend_helpers = _load("kiln_tests_frontend_gradients", TESTS / "frontend" / "test_gradients.py")


@pytest.fixture
def fresh_graph():
    with kl.Graph().as_default() as g:
        yield g
