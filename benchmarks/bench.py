"""qsense speed benchmarks (run by ``make bench``; not a test).

In one process, on the same operator and problem, times one gradient-descent step of

(a) qsense (the engine, :func:`qsense.descent.gradient_descent`, per step),
(b) a per-measurement Python loop over the full d x d matrices,
(c) plain numpy on the full d x d layout (two matrix-vector products over m x d^2 numbers),
(d) PyTorch autograd on the CPU over the full layout (skipped with a note when torch is missing),
(e) the memory-traffic floor: two raw matrix-vector products over qsense's stored operator,

then batched runs against sequential ones, float32 against float64, and the rank-one operator's
step against two plain matrix products of the same shapes (when qsense.sensing has
RankOneOperator). Every method is checked against the plain full-layout step before it is timed.
Methods are timed round-robin (one sample of each per round, each sample >= 0.1 s of CPU time)
so that load changes on a shared machine hit all of them alike; the tables give wall-clock medians,
their spread (min and max) over rounds, and the median CPU time of the process (BLAS single-threaded
under ``make bench``), which does not count the time other processes held the cores.

Usage: python benchmarks/bench.py [--out benchmarks/results.md] [--quick]
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

import numpy as np

import qsense
import qsense.sensing as sensing
from qsense.descent import gradient_descent, initial_factor, loss_and_gradient
from qsense.problems import planted_psd
from qsense.sensing import GaussianOperator
from qsense.symmetric import svec

TOL = 1e-10
MIN_SAMPLE = 0.1  # seconds of CPU time per timed sample


# ------------------------------------------------------------------------------------------ utils
def rel(a, b):
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - b) / np.linalg.norm(b))


def check(name, got, ref, tol=TOL):
    err = rel(got, ref)
    if not err <= tol:
        raise AssertionError(f"{name}: differs from the plain reference step by {err:.2e} (> {tol:.0e})")
    return err


def round_robin(cases, rounds, per_sample=None):
    """Time each callable once per round, interleaved. Returns name -> array of seconds per unit."""
    per_sample = per_sample or {}
    times = {name: [] for name in cases}
    number = {}
    for name, fn in cases.items():     # warm-up (allocations, BLAS buffers, torch init), calibration
        fn()
        c0 = time.process_time()
        fn()
        # Every sample lasts >= MIN_SAMPLE s of CPU time: on a loaded machine a short sample often
        # falls inside one time slice and misses the descheduled periods that long ones include,
        # which would bias wall-clock ratios between cheap and expensive methods.
        number[name] = max(1, int(np.ceil(MIN_SAMPLE / max(time.process_time() - c0, 1e-6))))
    for _ in range(rounds):
        for name, fn in cases.items():
            n = number[name]
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in range(n):
                fn()
            t1, c1 = time.perf_counter(), time.process_time()
            unit = n * per_sample.get(name, 1)
            times[name].append(((t1 - t0) / unit, (c1 - c0) / unit))
    return {name: np.array(ts) for name, ts in times.items()}


def stats(ts):
    """Wall-clock median, min, max, and the median CPU time of this process (immune to being
    descheduled on a shared machine, not to memory-bus contention; meaningful with 1 thread)."""
    wall, cpu = ts[:, 0], ts[:, 1]
    return dict(median=float(np.median(wall)), min=float(wall.min()), max=float(wall.max()), n=len(wall),
                cpu=float(np.median(cpu)))


def ms(x):
    return f"{1e3 * x:.2f}" if x < 10 else f"{1e3 * x:.0f}"


def fmt_row(name, s, ref=None, ref2=None):
    """Row: name, wall median, wall min-max, rounds, CPU median, ratios (wall; CPU) to ref and ref2."""
    cells = [name, ms(s["median"]), f"{ms(s['min'])} – {ms(s['max'])}", str(s["n"]), ms(s["cpu"])]
    for r in (ref, ref2):
        if r is not None:
            cells.append(f"{s['median'] / r['median']:.2f}× ; {s['cpu'] / r['cpu']:.2f}×")
    return "| " + " | ".join(cells) + " |"


# ---------------------------------------------------------------------------------------- machine
def machine():
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = "?"
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{cfg.get('name')} {cfg.get('version')} ({cfg.get('openblas configuration', '').strip()})"
    except Exception:  # noqa: BLE001 - informational only
        pass
    threads = {k: os.environ.get(k, "unset") for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    try:
        from threadpoolctl import threadpool_info
        pools = "; ".join(f"{p['internal_api']} {p['num_threads']} threads" for p in threadpool_info())
    except ImportError:
        pools = "threadpoolctl not installed"
    mem = "?"
    try:
        with open("/proc/meminfo") as fh:
            mem = f"{int(fh.readline().split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return {
        "CPU": cpu, "logical CPUs": str(os.cpu_count()), "memory": mem,
        "OS": platform.platform(), "Python": platform.python_version(),
        "numpy": np.__version__, "BLAS": blas,
        "BLAS/OpenMP thread variables": ", ".join(f"{k}={v}" for k, v in threads.items()),
        "thread pools": pools, "qsense": getattr(qsense, "__version__", "?"),
    }


def loadavg():
    try:
        return "{:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())
    except OSError:
        return "?"


# -------------------------------------------------------------------------------------- sections
def section_step(d, m, rounds, lines, targets):
    """(a)-(e): one GD step, same operator, same problem, same U."""
    P = planted_psd(d, spectrum=[1.0, 0.7, 0.4], seed=1)
    op = GaussianOperator(d, m, seed=2)
    y = op.measure(P.X)
    eta = 0.1
    U = initial_factor(d, 0.3, init="gaussian", seed=3)
    A_full = op.matrices() if m * d * d <= 50_000_000 else _full_layout(op)
    A_flat = A_full.reshape(m, d * d)

    def plain(U):
        res = A_flat @ (U @ U.T).ravel() - y
        M = (res @ A_flat).reshape(d, d)
        return U - eta * (2.0 / m) * (M @ U)

    def loop(U):
        X = U @ U.T
        res = np.empty(m)
        for i in range(m):
            res[i] = np.vdot(A_full[i], X) - y[i]
        M = np.zeros((d, d))
        for i in range(m):
            M += res[i] * A_full[i]
        return U - eta * (2.0 / m) * (M @ U)

    S = 20  # engine steps per call (recording only at steps 0 and S)

    def engine(U, steps=S):
        return gradient_descent(op, y, eta=eta, steps=steps, U0=U, record=[]).U

    def public_call(U):
        _, g = loss_and_gradient(op, y, U)
        return U - eta * g

    v = svec(U @ U.T)
    r = op.measure_factor(U) - y

    def floor():
        op.packed @ v
        r @ op.packed

    ref = plain(U)
    errs = {
        "qsense engine": check("qsense engine", engine(U, 1), ref),
        "qsense loss_and_gradient": check("loss_and_gradient", public_call(U), ref),
        "python loop": check("python loop", loop(U), ref),
    }
    cases = {"qsense engine": lambda: engine(U), "qsense loss_and_gradient": lambda: public_call(U),
             "numpy full layout": lambda: plain(U), "python loop": lambda: loop(U), "floor": floor}
    per = {"qsense engine": S}
    torch_note = None
    try:
        import torch
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "0")) or torch.get_num_threads())
        At, yt = torch.from_numpy(A_flat), torch.from_numpy(y)

        def torch_step(U):
            Ut = torch.from_numpy(U).requires_grad_(True)
            res = At @ (Ut @ Ut.T).reshape(-1) - yt
            f = 0.5 * torch.mean(res * res)
            f.backward()
            return (Ut.detach() - eta * Ut.grad).numpy()

        errs["pytorch autograd"] = check("pytorch autograd", torch_step(U), ref)
        cases["pytorch autograd"] = lambda: torch_step(U)
        torch_note = f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)"
    except ImportError:
        torch_note = "torch is not installed: (d) skipped (`pip install torch` to include it)"
    t = round_robin(cases, rounds, per)
    s = {k: stats(v) for k, v in t.items()}
    q = s["qsense engine"]["median"]
    fl = s["floor"]["median"]
    lines += [f"### One gradient-descent step, d = {d}, m = {m}, k = d = {d}, float64", "",
              f"Stored operator: {op.nbytes / 1e6:.0f} MB packed (m·d(d+1)/2 numbers) against "
              f"{A_flat.nbytes / 1e6:.0f} MB for the full m·d² layout. "
              f"qsense engine = `gradient_descent(..., steps={S}, record=[])` / {S} (includes its "
              f"input checks and the two recorded steps). Correctness (relative distance of U_next to the "
              f"plain full-layout step) before timing: "
              + ", ".join(f"{k} {v:.1e}" for k, v in errs.items()) + f". {torch_note}.", "",
              "| method | wall median ms/step | wall min – max | rounds | CPU median ms/step | time / qsense (wall ; CPU) | time / floor (wall ; CPU) |",
              "|---|---|---|---|---|---|---|"]
    for name, label in [("qsense engine", "(a) qsense engine"), ("qsense loss_and_gradient", "(a') qsense loss_and_gradient + update"),
                        ("python loop", "(b) per-measurement Python loop"), ("numpy full layout", "(c) plain numpy, full d×d layout"),
                        ("pytorch autograd", "(d) PyTorch autograd (CPU)"), ("floor", "(e) floor: 2 raw matvecs over `packed`")]:
        if name in s:
            lines.append(fmt_row(label, s[name], s["qsense engine"], s["floor"]))
    if "pytorch autograd" not in s:
        lines.append("| (d) PyTorch autograd (CPU) | skipped | torch not installed | | | | |")
    lines.append("")
    qa, fa = s["qsense engine"], s["floor"]
    target(targets, f"qsense step ≤ 1.2× floor (d={d}, m={m})", qa, fa, lambda x: x <= 1.2)
    target(targets, f"qsense ≥ 1.8× faster than full-layout numpy (d={d}, m={m})", s["numpy full layout"], qa,
           lambda x: x >= 1.8)
    target(targets, f"qsense ≥ 20× faster than the per-measurement loop (d={d}, m={m})", s["python loop"], qa,
           lambda x: x >= 20)
    return op, y


def target(targets, name, num, den, ok):
    """Record a target on the ratio num/den of medians, wall-clock and CPU time."""
    wall, cpu = num["median"] / den["median"], num["cpu"] / den["cpu"]
    targets.append((name, f"{wall:.2f}× ; {cpu:.2f}×", ok(wall), ok(cpu)))


def _full_layout(op):
    from qsense.symmetric import smat
    return smat(op.packed, op.d)


def section_batched(d, m, ks, rounds, steps, lines, targets):
    P = planted_psd(d, spectrum=[1.0, 0.7, 0.4], seed=1)
    op = GaussianOperator(d, m, seed=2)
    y = op.measure(P.X)
    lines += [f"### Batched runs against sequential runs, d = {d}, m = {m}, {steps} steps each", "",
              "Each run starts from U₀ = α_i I with its own α_i (log-spaced 1e-3 … 1e-1), η = 0.1, "
              "`record=[]`. Throughput ratio = (time of k sequential runs) / (time of one batched run "
              "of k). Before timing, the batched iterates are checked against the sequential ones.", "",
              "| k | sequential k runs, wall median ms | min – max | CPU median ms | batched, wall median ms | min – max | CPU median ms | throughput ratio (wall ; CPU) |",
              "|---|---|---|---|---|---|---|---|"]
    for k in ks:
        alphas = np.geomspace(1e-3, 1e-1, k)
        seq = lambda: [gradient_descent(op, y, eta=0.1, steps=steps, alpha=a, record=[]).U for a in alphas]  # noqa: E731
        bat = lambda: gradient_descent(op, y, eta=0.1, steps=steps, alpha=alphas, record=[]).U  # noqa: E731
        Us, Ub = seq(), bat()
        for i in range(k):
            check(f"batched run {i} of {k}", Ub[i], Us[i])
        t = round_robin({"seq": seq, "bat": bat}, rounds)
        ss, sb = stats(t["seq"]), stats(t["bat"])
        lines.append(f"| {k} | {ms(ss['median'])} | {ms(ss['min'])} – {ms(ss['max'])} | {ms(ss['cpu'])} | "
                     f"{ms(sb['median'])} | {ms(sb['min'])} – {ms(sb['max'])} | {ms(sb['cpu'])} | "
                     f"{ss['median'] / sb['median']:.2f}× ; {ss['cpu'] / sb['cpu']:.2f}× |")
        if k == 8:
            target(targets, f"batched k=8 ≥ 4× throughput of 8 sequential runs (d={d}, m={m})", ss, sb,
                   lambda x: x >= 4)
    lines.append("")


def section_float32(d, m, rounds, lines):
    P = planted_psd(d, spectrum=[1.0, 0.7, 0.4], seed=1)
    ops = {np.float64: GaussianOperator(d, m, seed=2), np.float32: GaussianOperator(d, m, seed=2, dtype=np.float32)}
    y = ops[np.float64].measure(P.X)
    U = initial_factor(d, 0.3, init="gaussian", seed=3)
    S = 20
    cases = {np.dtype(dt).name: (lambda op=op: gradient_descent(op, y, eta=0.1, steps=S, U0=U, record=[]))
             for dt, op in ops.items()}
    u64 = gradient_descent(ops[np.float64], y, eta=0.1, steps=S, U0=U, record=[]).U
    u32 = gradient_descent(ops[np.float32], y, eta=0.1, steps=S, U0=U, record=[]).U
    t = round_robin(cases, rounds, {k: S for k in cases})
    s = {k: stats(v) for k, v in t.items()}
    lines += [f"### float32 against float64, d = {d}, m = {m}", "",
              f"Same operator rounded to float32 ({ops[np.float32].nbytes / 1e6:.0f} MB instead of "
              f"{ops[np.float64].nbytes / 1e6:.0f} MB). After {S} steps the float32 iterate is "
              f"{rel(u32, u64):.1e} (relative) from the float64 one; accuracy floor of recovery: a few "
              "float32 epsilons (see `DenseOperator` and `tests/test_speed_paths.py`).", "",
              "| dtype | wall median ms/step | wall min – max | rounds | CPU median ms/step | time / float64 (wall ; CPU) |",
              "|---|---|---|---|---|---|"]
    for k in ("float64", "float32"):
        lines.append(fmt_row(k, s[k], s["float64"]))
    lines.append("")


def section_rank_one(d, n, k, rounds, lines, targets):
    R1 = getattr(sensing, "RankOneOperator", None)
    lines += [f"### Rank-one operator, d = {d}, n = m = {n}, k = {k}", ""]
    if R1 is None:
        lines += ["Skipped: this qsense has no `sensing.RankOneOperator` yet (it is being written in "
                  "another branch); the section runs once it is merged.", ""]
        return
    rng = np.random.default_rng(4)
    x = rng.standard_normal((n, d))
    op = R1(x)
    W = rng.standard_normal((d, 3)) / np.sqrt(d)
    y = np.sum((x @ W) ** 2, axis=1)
    U = 0.1 * rng.standard_normal((d, k)) / np.sqrt(d)
    eta = 0.01
    S = 20

    def plain(U):
        Z = x @ U
        res = np.sum(Z * Z, axis=1) - y
        return U - eta * (2.0 / n) * (x.T @ (res[:, None] * Z))

    def engine(U, steps=S):
        return gradient_descent(op, y, eta=eta, steps=steps, U0=U, record=[]).U

    err = check("rank-one engine", engine(U, 1), plain(U))
    Z = x @ U

    def two_products():
        x @ U
        x.T @ Z

    t = round_robin({"engine": lambda: engine(U), "plain step": lambda: plain(U), "two": two_products},
                    rounds, {"engine": S})
    s = {kk: stats(v) for kk, v in t.items()}
    lines += [f"`RankOneOperator(x)` with x of shape ({n}, {d}); correctness against the plain step "
              f"X^T(res ⊙ XU): {err:.1e}.", "",
              "| method | wall median ms/step | wall min – max | rounds | CPU median ms/step | time / two products (wall ; CPU) |",
              "|---|---|---|---|---|---|"]
    for name, label in [("engine", "qsense engine (per step)"), ("plain step", "plain numpy step"),
                        ("two", "two plain products XU, Xᵀ Z")]:
        lines.append(fmt_row(label, s[name], s["two"]))
    lines.append("")
    target(targets, f"rank-one step within 1.5× of two plain products (d={d}, n={n}, k={k})", s["engine"], s["two"],
           lambda x: x <= 1.5)


# ------------------------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="write the Markdown report here")
    ap.add_argument("--quick", action="store_true", help="fewer rounds and smaller sizes (a smoke test)")
    args = ap.parse_args(argv)
    quick = args.quick
    rounds = 3 if quick else 9
    d, m = (40, 400) if quick else (100, 2500)
    started = datetime.datetime.now(datetime.timezone.utc)
    load0 = loadavg()
    t0 = time.perf_counter()
    lines, targets = [], []
    print("machine:", machine(), flush=True)
    section_step(d, m, rounds, lines, targets)
    if not quick:   # a chapter-sized problem, where per-call overheads weigh more
        section_step(30, 450, rounds, lines, targets)
    print("\n".join(lines), flush=True)
    n0 = len(lines)
    section_batched(d, m, [3, 8] if quick else [3, 8, 16], max(3, rounds // 2), 5 if quick else 10, lines, targets)
    if not quick:
        section_batched(50, 750, [3, 8, 16], rounds, 40, lines, targets)
    section_float32(d, m, rounds, lines)
    section_rank_one(d, 2 * m, d, rounds, lines, targets)
    print("\n".join(lines[n0:]), flush=True)
    info = machine()
    head = ["# qsense benchmarks", "",
            f"Generated by `make bench` (`benchmarks/bench.py`) on {started:%Y-%m-%d %H:%M} UTC in "
            f"{time.perf_counter() - t0:.0f} s. Load average (1, 5, 15 min) before: {load0}; after: {loadavg()}.", "",
            "**Timings are wall-clock on a shared machine** (when the load average exceeds the number of "
            "CPUs, other processes were competing for the cores and the memory bus): absolute times are "
            "inflated and noisy, the spread columns show by how much. Ratios are of medians, all methods "
            "timed round-robin in the same process on the same operator, so they are more stable than the "
            "absolute times.", "", "## Machine", "", "| | |", "|---|---|"]
    head += [f"| {k} | {v} |" for k, v in info.items()]
    yn = lambda ok: "yes" if ok else "**no**"  # noqa: E731
    head += ["", "## Targets (issue 7)", "",
             "Ratios of medians, wall-clock ; CPU time of this process (the CPU-time ratio discounts the "
             "time the process was descheduled by other load).", "",
             "| target | measured (wall ; CPU) | met (wall) | met (CPU) |", "|---|---|---|---|"]
    head += [f"| {name} | {shown} | {yn(ok_w)} | {yn(ok_c)} |" for name, shown, ok_w, ok_c in targets]
    head += ["", "## How to read this", "",
             "- The floor (e) is what any method must pay: one GD step reads every stored number of the "
             "operator twice (measure, then adjoint), so at d = 100 the step is memory-bound and qsense's "
             "packed layout halves the traffic of the full d×d layout (c, d).",
             "- The per-measurement loop (b) also streams the full layout; at d = 100 each measurement "
             "carries d² = 10⁴ numbers of work, which hides most of Python's per-iteration overhead, so "
             "its ratio to qsense is bounded by about twice the traffic plus that overhead. The loop "
             "falls much further behind on chapter-sized problems (the d = 30 table).",
             "- Batched runs (one GEMM per pass instead of one GEMV per run) are bounded by OpenBLAS's "
             "GEMM with few columns: it copies (packs) the whole operator in every product and then "
             "runs below peak, so a batch of k costs well over one GEMV pass; the gain grows with k. "
             "Stacks smaller than `DenseOperator.gemm_min_batch` (4) use one GEMV per run, so a small "
             "batch is never slower than sequential runs.",
             "- qsense engine rows include `gradient_descent`'s input checks and the two recorded steps "
             "(an SVD each) amortised over the steps of the call.", ""]
    head += ["## Results", ""]
    text = "\n".join(head + lines) + "\n"
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
