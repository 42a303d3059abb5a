import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from qsense.plotting import plot_staircase, show_message  # noqa: E402
from qsense.widgets import ExplorerSettings, alpha_animation, draw_explorer, dynamics_explorer  # noqa: E402


def texts(fig):
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_explorer_draws_a_run():
    fig = plt.figure()
    out = draw_explorer(fig, alpha=1e-3, eta=0.1, m=300, r=3, kappa=4.0)
    assert out["status"] == "ok" and out["final_error"] < 0.1
    assert len(fig.axes) == 2 and all(ax.lines for ax in fig.axes)
    plt.close(fig)


def test_explorer_reports_divergence_in_the_plot_area():
    fig = plt.figure()
    out = draw_explorer(fig, alpha=1e-3, eta=0.9, m=300, r=3, kappa=4.0)
    assert out["status"] == "diverged"
    assert "diverged" in texts(fig) and "eta" in texts(fig)
    plt.close(fig)


@pytest.mark.parametrize("kwargs, match", [
    (dict(alpha=0.9), "alpha"), (dict(eta=0.0), "eta"), (dict(m=10_000), "m"), (dict(r=0), "r"),
    (dict(kappa=0.5), "kappa"), (dict(alpha=float("nan")), "alpha"),
])
def test_explorer_validates_its_inputs(kwargs, match):
    base = dict(alpha=1e-3, eta=0.1, m=300, r=3, kappa=4.0)
    base.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        ExplorerSettings(**base)
    fig = plt.figure()
    out = draw_explorer(fig, **base)
    assert out["status"] == "invalid" and match in out["message"]
    assert "Invalid setting" in texts(fig)
    plt.close(fig)


def test_live_explorer_builds_sliders():
    ui = dynamics_explorer()
    descriptions = {w.description for box in ui.children[0].children for w in box.children
                    if hasattr(w, "description")}
    assert {"α", "η", "m", "r", "κ"} <= descriptions
    plt.close("all")


def test_animation_has_one_frame_per_alpha_and_a_js_player():
    anim = alpha_animation([1e-2, 1e-4], d=12, m=60, r=2, dpi=30)
    html = anim.to_jshtml()
    assert "<script" in html and html.count("data:image/png;base64") == 2
    with pytest.raises(ValueError, match="alphas"):
        alpha_animation([1e-2])


def test_plotting_validates_shapes():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="curves"):
        plot_staircase(ax, np.arange(3), np.ones((3, 2)), [1.0])
    with pytest.raises(TypeError, match="ax"):
        show_message("not an axes", "x")
    plt.close(fig)
