"""Time one delta_r estimate at the issue's reference size: d = 50, r = 5, m = 5 d r (Gaussian).

    .venv/bin/python benchmarks/rip_estimate.py            # default BLAS threading
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/rip_estimate.py

Prints wall-clock and CPU seconds per estimate. On a shared, oversubscribed machine wall time is
inflated by the load; CPU time is the better measure of the work done.
"""
import time

from qsense import rip
from qsense.sensing import GaussianOperator

d, r = 50, 5
op = GaussianOperator(d, 5 * d * r, seed=3)
for seed in range(3):
    wall, cpu = time.perf_counter(), time.process_time()
    est = rip.estimate_rip(op, r, seed=seed)
    print(f"{est}  wall {time.perf_counter() - wall:.2f} s  cpu {time.process_time() - cpu:.2f} s")
