"""Shared fixtures: seeded random matrices for the running example Z = A H W."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261126)


@pytest.fixture
def example(rng: np.random.Generator) -> Callable[..., tuple[np.ndarray, ...]]:
    """A, H, W of the given sizes (non-square by default), seeded."""

    def make(V: int = 4, d1: int = 3, d2: int = 2) -> tuple[np.ndarray, ...]:
        return (
            rng.standard_normal((V, V)),
            rng.standard_normal((V, d1)),
            rng.standard_normal((d1, d2)),
        )

    return make
