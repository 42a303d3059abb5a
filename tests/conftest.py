import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def random_symmetric(rng, d, rank=None):
    """A random symmetric matrix, of the given rank when asked."""
    if rank is None:
        G = rng.standard_normal((d, d))
        return (G + G.T) / 2
    V = rng.standard_normal((d, rank))
    s = rng.choice([-1.0, 1.0], size=rank) * rng.uniform(0.5, 2.0, size=rank)
    return (V * s) @ V.T
