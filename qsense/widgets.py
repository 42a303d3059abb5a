r"""Explorers for the chapters: a live ipywidgets version and a kernel-free animation for the site.

No maths here: the runs come from :func:`qsense.descent.gradient_descent`, the quantities from
:mod:`qsense.analysis`, the drawing from :mod:`qsense.plotting`.

The dynamics explorer sets up a planted rank-r truth with condition number :math:`\kappa`
(eigenvalues geometrically spaced from 1 to :math:`1/\kappa`), m Gaussian measurements, and runs
gradient descent from :math:`U_0 = \alpha I` with step :math:`\eta` (qsense's convention
:math:`U \leftarrow U - \eta\nabla f(U)`, :math:`\nabla f = 2MU`).
"""
from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass

import numpy as np

from ._validation import check_int, check_positive
from .analysis import predicted_learning_times, signal_error_observers
from .descent import DivergenceError, gradient_descent
from .plotting import plot_signal_error, plot_staircase, show_message
from .problems import planted_psd, spectrum_with_condition
from .sensing import GaussianOperator
from .symmetric import sym_dim

__all__ = ["ExplorerSettings", "explorer_run", "draw_explorer", "dynamics_explorer", "alpha_animation"]

MAX_STEPS = 4000


@dataclass(frozen=True)
class ExplorerSettings:
    r"""Validated settings of the dynamics explorer.

    Attributes
    ----------
    alpha : float
        Initial scale :math:`0 < \alpha < 1/\sqrt\kappa` (small initialisation: below every
        :math:`\sqrt{\lambda_k}`).
    eta : float
        Step size :math:`\eta > 0`.
    m : int
        Number of measurements, :math:`1 \le m \le d(d+1)/2`.
    r : int
        Rank :math:`1 \le r \le d`.
    kappa : float
        Condition number :math:`\kappa \ge 1`.
    d : int
        Dimension :math:`d \ge 2`.
    steps : int or None
        Number of steps; ``None`` picks 1.5 times the predicted time of the last eigenvalue
        (at most 4000).
    seed : int
        Seed of the truth and the measurements.
    """

    alpha: float
    eta: float
    m: int
    r: int
    kappa: float
    d: int = 30
    steps: int | None = None
    seed: int = 0

    def __post_init__(self):
        d = check_int(self.d, "d", minimum=2)
        kappa = check_positive(self.kappa, "kappa")
        if kappa < 1:
            raise ValueError(f"kappa must be >= 1, got {kappa}")
        alpha = check_positive(self.alpha, "alpha")
        if alpha >= 1 / math.sqrt(kappa):
            raise ValueError(f"alpha must be below sqrt(lambda_r) = {1 / math.sqrt(kappa):.3g} "
                             f"(a small initialisation), got {alpha}")
        check_positive(self.eta, "eta")
        check_int(self.m, "m", minimum=1, maximum=sym_dim(d))
        check_int(self.r, "r", minimum=1, maximum=d)
        if self.steps is not None:
            check_int(self.steps, "steps", minimum=1, maximum=100_000)
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) or self.seed < 0:
            raise TypeError(f"seed must be a non-negative int, got {self.seed!r}")

    @property
    def eigenvalues(self) -> np.ndarray:
        r""":math:`\lambda_k`, geometric from 1 to :math:`1/\kappa`."""
        return spectrum_with_condition(self.r, self.kappa)

    @property
    def predicted(self) -> np.ndarray:
        """Predicted learning times of the population dynamics."""
        return predicted_learning_times(self.eigenvalues, self.alpha, self.eta)

    @property
    def n_steps(self) -> int:
        """The number of steps to run."""
        if self.steps is not None:
            return int(self.steps)
        return int(min(MAX_STEPS, max(50, math.ceil(1.5 * float(self.predicted[-1])))))


def explorer_run(settings: ExplorerSettings, *, alpha=None):
    r"""Run gradient descent for the explorer; returns ``(truth, run)``.

    ``alpha`` may be an array to run a batch that shares the truth and the operator (the
    animation uses this); by default ``settings.alpha``. Raises
    :class:`~qsense.DivergenceError` when the step size is too large.
    """
    if not isinstance(settings, ExplorerSettings):
        raise TypeError(f"settings must be an ExplorerSettings, got {type(settings).__name__}")
    s = settings
    truth = planted_psd(s.d, s.r, kappa=s.kappa, seed=s.seed)
    op = GaussianOperator(s.d, s.m, seed=s.seed + 1)
    run = gradient_descent(op, op.measure(truth.X), eta=s.eta, steps=s.n_steps,
                           alpha=s.alpha if alpha is None else alpha, target=truth,
                           observers=signal_error_observers(truth.Z, keys=["signal_min", "signal_diag", "error_fro", "error_op"]),
                           record="log")
    return truth, run


def _draw_run(axes, s, truth, run):
    ax0, ax1 = axes
    plot_staircase(ax0, run.steps, run.records["signal_diag"], truth.eigenvalues, predicted=s.predicted)
    ax0.set_ylim(min(s.alpha ** 2, 1e-12) / 3, 3)
    ax0.set_title("eigen-directions of $X_\\star$ (dashed: predicted $t_k$)", fontsize=10)
    plot_signal_error(ax1, run.steps, run.records, alpha=s.alpha, d=s.d)
    ax1.semilogy(run.steps, run.error, "k", lw=1.5, label="relative error")
    ax1.set_xscale("symlog", linthresh=10)
    ax1.legend(fontsize=7, frameon=False, loc="lower right")
    ax1.set_title(f"final relative error {run.final_error:.2g}", fontsize=10)


def draw_explorer(fig, *, alpha, eta, m, r, kappa, d=30, steps=None, seed=0) -> dict:
    r"""Draw one explorer frame on ``fig`` (two panels). Never raises for bad values of the sliders:
    invalid settings and diverging runs are reported in the plot area and in the returned dict.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    alpha, eta, m, r, kappa, d, steps, seed
        See :class:`ExplorerSettings`.

    Returns
    -------
    dict
        ``{"status": "ok" | "diverged" | "invalid", "message": str, "final_error": float or None,
        "seconds": float}``.
    """
    start = time.perf_counter()
    if not hasattr(fig, "add_subplot"):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    fig.clear()
    out = {"status": "ok", "message": "", "final_error": None}
    try:
        s = ExplorerSettings(alpha=alpha, eta=eta, m=m, r=r, kappa=kappa, d=d, steps=steps, seed=seed)
        truth, run = explorer_run(s)
    except DivergenceError as exc:
        out.update(status="diverged", message=(
            f"Gradient descent diverged at step {exc.step} with eta = {exc.eta:.3g}.\n"
            "Lower the step size eta."))
    except (ValueError, TypeError) as exc:
        out.update(status="invalid", message=f"Invalid setting: {exc}")
    else:
        _draw_run(fig.subplots(1, 2), s, truth, run)
        out["final_error"] = float(run.final_error)
    if out["status"] != "ok":
        show_message(fig.add_subplot(1, 1, 1), out["message"])
    out["seconds"] = time.perf_counter() - start
    return out


def dynamics_explorer(*, d: int = 30, seed: int = 0, alpha: float = 1e-3, eta: float = 0.1,
                      m: int | None = None, r: int = 3, kappa: float = 4.0):
    r"""The live explorer: sliders for :math:`\alpha, \eta, m, r, \kappa` and a two-panel figure.

    Needs a running kernel (Jupyter, Binder, Colab). Left panel: the components
    :math:`z_k^\top U_tU_t^\top z_k` against t with the predicted :math:`t_k`; right panel: the
    signal/error split and the relative error. A diverging step size or an invalid combination
    shows a message in the plot area.

    Returns
    -------
    ipywidgets.VBox
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    d = check_int(d, "d", minimum=2, maximum=60)
    m = 10 * d if m is None else m
    ExplorerSettings(alpha=alpha, eta=eta, m=m, r=r, kappa=kappa, d=d, seed=seed)  # validate defaults
    style = {"description_width": "3em"}
    layout = widgets.Layout(width="320px")
    common = dict(continuous_update=False, style=style, layout=layout)
    controls = {
        "alpha": widgets.FloatLogSlider(value=alpha, base=10, min=-7, max=-1, step=0.25, description="α",
                                        readout_format=".1e", **common),
        "eta": widgets.FloatSlider(value=eta, min=0.01, max=1.0, step=0.01, description="η", **common),
        "m": widgets.IntSlider(value=m, min=d, max=sym_dim(d), step=d, description="m", **common),
        "r": widgets.IntSlider(value=r, min=1, max=min(6, d), description="r", **common),
        "kappa": widgets.FloatSlider(value=kappa, min=1.0, max=20.0, step=0.5, description="κ", **common),
    }
    status = widgets.HTML()
    out = widgets.Output()

    def update(**values):
        with out:
            out.clear_output(wait=True)
            fig = plt.figure(figsize=(10, 3.6), layout="constrained")
            info = draw_explorer(fig, d=d, seed=seed, **values)
            plt.show()
            plt.close(fig)
        msg = f"redrawn in {info['seconds']:.2f} s"
        if info["final_error"] is not None:
            msg += f"; final relative error {info['final_error']:.2g}"
        status.value = f"<small>{msg}</small>"

    for w in controls.values():
        w.observe(lambda change: update(**{k: c.value for k, c in controls.items()}), names="value")
    update(**{k: c.value for k, c in controls.items()})
    ui = widgets.VBox([widgets.HBox([widgets.VBox(list(controls.values())[:3]),
                                     widgets.VBox(list(controls.values())[3:] + [status])]), out])
    return ui


def alpha_animation(alphas, *, eta=0.1, m=None, r=3, kappa=4.0, d=30, steps=None, seed=0,
                    interval: int = 700, dpi: int = 72):
    r"""A kernel-free stand-in for the explorer: one frame per :math:`\alpha`, precomputed.

    All frames come from one batched run (same truth, same measurements). Use
    ``IPython.display.HTML(anim.to_jshtml())`` to show it with a JavaScript player.

    Parameters
    ----------
    alphas : array_like of float
        Initial scales, one frame each (ordered as given).
    eta, m, r, kappa, d, steps, seed
        As in :class:`ExplorerSettings`; ``steps`` defaults to the one of the smallest alpha.
    interval : int
        Milliseconds between frames.
    dpi : int
        Resolution of the frames (they are embedded as PNG images).

    Returns
    -------
    matplotlib.animation.FuncAnimation
    """
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation
    from matplotlib.ticker import LogFormatter, NullFormatter

    dpi = check_int(dpi, "dpi", minimum=10, maximum=300)
    alphas = np.asarray(alphas, dtype=float)
    if alphas.ndim != 1 or alphas.size < 2:
        raise ValueError(f"alphas must be a 1-D array of at least two initial scales, got shape {alphas.shape}")
    m = 10 * d if m is None else m
    settings = [ExplorerSettings(alpha=float(a), eta=eta, m=m, r=r, kappa=kappa, d=d, steps=steps, seed=seed)
                for a in alphas]
    longest = max(settings, key=lambda s: s.n_steps)
    truth, run = explorer_run(longest, alpha=alphas)
    # a fixed layout (no constrained layout) keeps the axes still between frames; frames only move
    # the data of lines drawn once, so no tick label or legend is laid out again (that is slow)
    fig = plt.figure(figsize=(10, 3.6), dpi=dpi)
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.15, top=0.84, wspace=0.25)
    ax0, ax1 = fig.subplots(1, 2)
    first = run[0]
    plot_staircase(ax0, run.steps, first.records["signal_diag"], truth.eigenvalues,
                   predicted=settings[0].predicted)
    ax0.set_ylim(float(np.min(alphas)) ** 2 / 3, 3)
    ax0.set_title("eigen-directions of $X_\\star$ (dashed: predicted $t_k$)", fontsize=10)
    curves = ax0.get_lines()[0::3]
    marks = ax0.get_lines()[2::3]
    plot_signal_error(ax1, run.steps, first.records, alpha=alphas[0], d=d)
    ax1.semilogy(run.steps, first.error, "k", lw=1.5, label="relative error")
    ax1.set_xscale("symlog", linthresh=10)
    ax1.set_ylim(float(np.min(alphas)) / 3, 10)
    ax1.legend(fontsize=7, frameon=False, loc="lower right")
    sig, efro, eop, ref, err = ax1.get_lines()
    for ax in (ax0, ax1):  # plain-text tick labels: mathtext labels are re-parsed on every frame
        ax.xaxis.set_major_formatter(LogFormatter())
        ax.yaxis.set_major_formatter(LogFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
    title = ax1.set_title("", fontsize=10)
    head = fig.suptitle("", fontsize=11)

    def frame(i):
        one = run[i]
        for k, line in enumerate(curves):
            line.set_ydata(one.records["signal_diag"][:, k])
            marks[k].set_xdata([settings[i].predicted[k]] * 2)
        sig.set_ydata(one.records["signal_min"])
        efro.set_ydata(one.records["error_fro"])
        eop.set_ydata(one.records["error_op"])
        ref.set_ydata([alphas[i] * np.sqrt(d)] * 2)
        err.set_ydata(one.error)
        title.set_text(f"final relative error {one.final_error:.2g}")
        head.set_text(f"alpha = {alphas[i]:.1e}")
        return []

    frame(0)
    anim = FuncAnimation(fig, frame, frames=len(alphas), interval=check_int(interval, "interval", minimum=1),
                         blit=False, repeat=True)
    plt.close(fig)
    return anim
