"""qsense: the package behind the course on algorithmic regularisation in over-parameterised
matrix sensing (Li, Ma and Zhang, COLT 2018).

Modules
-------
problems   ground truths (planted low-rank PSD matrices)
sensing    measurement operators with one small interface
descent    the one gradient-descent engine
analysis   errors, norms, ranks, the signal/error split, predicted learning times
rip        isometry ratios and lower-bound estimates of the restricted isometry constant
baselines  methods on X itself: the convex min-nuclear-norm solution (cvxpy), GD on X, PSD-projected GD
quadratic  one-hidden-layer networks with quadratic activations, as rank-one sensing
diagonal   the diagonal warm-up model of chapter 4
plotting   figures used by the chapters
widgets    explorers (ipywidgets) and their kernel-free animations
"""
from . import analysis, baselines, descent, problems, quadratic, rip, sensing
from .descent import DivergenceError, gradient_descent, loss_and_gradient
from .problems import LowRankPSD, planted_psd
from .sensing import DenseOperator, GaussianOperator, PopulationOperator

__version__ = "0.1.0"

__all__ = [
    "analysis", "baselines", "descent", "problems", "quadratic", "rip", "sensing",
    "DivergenceError", "gradient_descent", "loss_and_gradient",
    "LowRankPSD", "planted_psd",
    "DenseOperator", "GaussianOperator", "PopulationOperator",
]
