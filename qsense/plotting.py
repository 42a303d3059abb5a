r"""Figures used by the chapters. Drawing only: every number plotted is computed elsewhere in qsense.

Each function draws on a matplotlib ``Axes`` it is given and returns it, so chapters can compose
panels freely.
"""
from __future__ import annotations

import numpy as np

from ._validation import as_float_array

__all__ = ["plot_staircase", "plot_signal_error", "show_message"]


def _check_ax(ax):
    if not hasattr(ax, "plot") or not hasattr(ax, "set_xscale"):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    return ax


def plot_staircase(ax, steps, curves, eigenvalues, *, predicted=None, logx=True, label="$z_k^\\top U_tU_t^\\top z_k$"):
    r"""Incremental learning: the components of :math:`U_tU_t^\top` against t, one curve per eigenvalue.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    steps : array_like (n,)
        Recorded steps t (``Run.steps``).
    curves : array_like (n, r)
        The quantity to plot per eigen-direction, e.g. ``Run.records["signal_diag"]`` or the
        leading eigenvalues ``Run.eigenvalues[:, :r]``.
    eigenvalues : array_like (r,)
        Targets :math:`\lambda_k`, drawn as dotted horizontal lines.
    predicted : array_like (r,), optional
        Predicted learning times :math:`t_k`, drawn as dashed vertical lines.
    logx : bool
        Log-scaled time axis (the plateaus are then evenly spaced for a geometric spectrum).
    label : str
        Legend label prefix of the curves.
    """
    ax = _check_ax(ax)
    t = as_float_array(steps, "steps", ndim=1)
    c = as_float_array(curves, "curves", ndim=2)
    lam = as_float_array(eigenvalues, "eigenvalues", ndim=1)
    if c.shape != (t.shape[0], lam.shape[0]):
        raise ValueError(f"curves must have shape (len(steps), r) = ({t.shape[0]}, {lam.shape[0]}), got {c.shape}")
    tt = np.maximum(t, 1) if logx else t
    for k in range(lam.shape[0]):
        color = f"C{k % 10}"
        ax.plot(tt, c[:, k], color=color, lw=2, label=fr"$k={k + 1}$")
        ax.axhline(lam[k], color=color, ls=":", lw=1)
        if predicted is not None:
            ax.axvline(float(np.asarray(predicted)[k]), color=color, ls="--", lw=1)
    if logx:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step $t$")
    ax.set_ylabel(label)
    return ax


def plot_signal_error(ax, steps, records, *, alpha=None, d=None):
    r"""The signal/error split along a run, on a log axis.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    steps : array_like (n,)
        Recorded steps.
    records : dict
        ``Run.records`` from :func:`qsense.analysis.signal_error_observers` (uses ``"signal_min"``,
        ``"error_fro"`` and ``"error_op"``).
    alpha, d : float, int, optional
        When both are given, the initial scale :math:`\alpha\sqrt d` of :math:`\|E_0\|_F` is drawn
        as a reference line.
    """
    ax = _check_ax(ax)
    t = as_float_array(steps, "steps", ndim=1)
    for key in ("signal_min", "error_fro", "error_op"):
        if key not in records:
            raise ValueError(f"records must contain {key!r} (use qsense.analysis.signal_error_observers)")
    ax.semilogy(t, records["signal_min"], "C0", lw=2, label=r"signal $\sigma_{\min}(Z^\top U_t)$")
    ax.semilogy(t, records["error_fro"], "C3", lw=2, label=r"error $\|E_t\|_F$")
    ax.semilogy(t, records["error_op"], "C3", ls="--", lw=1.5, label=r"error $\|E_t\|_2$")
    if alpha is not None and d is not None:
        ax.axhline(float(alpha) * np.sqrt(d), color="0.4", ls=":", lw=1, label=r"$\alpha\sqrt{d}$")
    ax.set_xlabel("step $t$")
    return ax


def show_message(ax, text: str, *, color: str = "C3"):
    """Clear ``ax`` and write ``text`` in its middle (used for errors in the explorers)."""
    ax = _check_ax(ax)
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    ax.clear()
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, color=color, fontsize=11,
            transform=ax.transAxes)
    return ax
