"""qsense: the package behind the course on algorithmic regularisation in over-parameterised
matrix sensing (Li, Ma and Zhang, COLT 2018).

Modules
-------
problems   ground truths (planted low-rank PSD matrices)
sensing    measurement operators with one small interface
descent    the one gradient-descent engine
analysis   errors, norms, ranks, the signal/error split, predicted learning times
diagonal   the diagonal warm-up model of chapter 4
plotting   figures used by the chapters
widgets    explorers (ipywidgets) and their kernel-free animations
"""
from . import analysis, descent, problems, sensing
from .descent import DivergenceError, gradient_descent, loss_and_gradient
from .problems import LowRankPSD, planted_psd
from .sensing import DenseOperator, GaussianOperator, PopulationOperator

__version__ = "0.1.0"

__all__ = [
    "analysis", "descent", "problems", "sensing",
    "DivergenceError", "gradient_descent", "loss_and_gradient",
    "LowRankPSD", "planted_psd",
    "DenseOperator", "GaussianOperator", "PopulationOperator",
]
