"""Step time and memory of a quadratic-network training run at d = 200, k = 200, n = 20 000.

    .venv/bin/python benchmarks/quadratic_scale.py

A measurement, not a test: compares one gradient step on the matrix-free RankOneOperator with a
plain matrix product of the same shape, (n x d) @ (d x k). A step does two such products (X U,
kept between measure_factor and adjoint_apply, and X^T (r * X U)) plus O(n k) elementwise work,
so it should cost about two products. Timings on a shared machine vary by 2x or more. Also reports
the peak resident memory of the whole process (a d x d x n array would be 6.4 GB in float64).
"""
import resource
import time

import numpy as np

from qsense import quadratic
from qsense.descent import gradient_descent, loss_and_gradient


def best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), float(np.median(times))


def main(d=200, k=200, n=20_000, r=2, steps=20):
    P = quadratic.teacher(d, r, seed=0)
    x, y = quadratic.sample(P, n, seed=1)
    op = quadratic.operator(x)
    U = np.random.default_rng(2).standard_normal((d, k)) * 1e-3

    mm_best, mm_med = best_of(lambda: x @ U)
    grad_best, grad_med = best_of(lambda: loss_and_gradient(op, y, U))
    t = time.perf_counter()
    run = gradient_descent(op, y, eta=0.01, steps=steps, alpha=1e-3, width=k, record=[])
    per_step = (time.perf_counter() - t) / steps
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    flops = 2 * n * d * k
    print(f"d={d}, k={k}, n={n}")
    print(f"plain product (n x d) @ (d x k): best {mm_best*1e3:.1f} ms, median {mm_med*1e3:.1f} ms "
          f"({flops / mm_best / 1e9:.1f} GFLOP/s)")
    print(f"loss + gradient (one GD step's work): best {grad_best*1e3:.1f} ms, median {grad_med*1e3:.1f} ms "
          f"= {grad_best / mm_best:.2f} plain products")
    print(f"gradient_descent, {steps} steps: {per_step*1e3:.1f} ms per step = {per_step / mm_best:.2f} plain products")
    print(f"data x: {op.nbytes / 1e6:.0f} MB; peak RSS of this process: {peak_mb:.0f} MB "
          f"(a d x d x n array would be {8 * d * d * n / 1e9:.1f} GB)")
    print(f"final loss {run.final_loss:.3g} (from {run.loss[0]:.3g})")


if __name__ == "__main__":
    main()
