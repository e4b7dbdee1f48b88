"""initlab performance benchmark: ratios measured side by side in one process.

    python benchmarks/bench.py                  # everything (~4.5 minutes on 2 cores)
    python benchmarks/bench.py --quick          # the CI subset (~15 s; ~20 s with torch installed)
    python benchmarks/bench.py --quick --check  # exit 1 when a ratio regresses past its bound

Every speed figure is a ratio of two timings taken in the same process, interleaved round by
round (best of N each; the line also gives the median over rounds of the same-round ratio), so
a shared or noisy machine moves both sides together. PyTorch is timed against initlab in rounds
of its own (its spinning thread pool would slow whatever runs after it). The targets (from the
performance issue) and the generous CI bounds are in ``TARGETS``.

What is compared with what (same shapes, dtype, weights and activation on both sides):

- ``bare forward``: ``z = h @ W`` into two reused buffers and the activation in place, weights
  pre-drawn. ``initlab forward``: the engine of ``initlab run`` with pre-drawn weights
  (``initlab.engine.parameters.StoredParameters``): :class:`initlab.runs.experiment.StatsObserver` on a streaming
  ``network.forward`` (moments of z and h, zeros, dead units, saturation, full histograms).
- ``bare forward + backward``: the forward keeping every h, then per layer
  ``dz = act'(h) * g``, ``dW = h_prev^T dz``, ``g = dz W^T`` (down to dL/dx, which initlab
  reports). ``initlab forward + backward``: what ``initlab run --backward`` does with the
  ``random`` loss, every forward and backward statistic and both histograms.
- PyTorch (when importable): the same network as ``nn.Linear(bias=False)`` + activation modules,
  forward hooks (and tensor hooks on the backward) computing the same statistics (mean, std,
  fraction zero, dead units, saturation, ``histc`` over the same range and bins plus the
  below/above counts); ``torch.set_num_threads`` matches numpy's 2 BLAS threads.

- ``training``: one step of a 784-300-100-10 ReLU MLP at batch 128, float32: initlab's
  ``Model.gradients`` + ``Adam.step`` on He-initialized ``StoredParameters`` beside PyTorch
  (``nn.Sequential`` Linear/ReLU with the same weights, ``F.cross_entropy``, ``torch.optim.Adam``);
  and a stats step (the same step plus :class:`StatsObserver` forward and backward statistics of
  a probe batch of 128, the update ratio, std(W) and distinct units) against a plain step.

Weight drawing is not part of either side of those ratios; ``bench_draw.py`` measures it against
numpy's own draws, the structured initializers beside a QR, whole ``initlab run`` processes
against a bare numpy script, and the run's figures against the run (issue 18).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from initlab import config  # noqa: E402
from initlab.runs import experiment
from initlab.engine import network
from initlab.engine.parameters import StoredParameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_draw  # noqa: E402  (issue 18's sections; they use record and interleaved from here)

# name -> (target, CI bound). "<=": the ratio must stay below; ">=": above.
# The CI bounds sit well above the ratios measured on the reference machine (forward 1.1-1.2 at
# the cs231n shape, fwd+bwd 1.0-1.2; see README.md) with room for a noisy shared runner, and
# about at the engine before the performance work (forward 2.3-2.9, fwd+bwd 2.0-2.2).
TARGETS = {
    "forward": ("<=", 1.15, 2.6),
    "forward+backward": ("<=", 1.25, 2.4),
    "torch forward speedup": (">=", 1.3, None),
    "torch fwd+bwd speedup": (">=", 1.2, None),
    "forward peak RSS deep/shallow": ("<=", 1.2, 1.5),
    "cli --help / imports": ("<=", 1.3, 2.0),
    "float64 / float32 time": (">=", 1.0, None),
    "torch train step speedup": (">=", 1.0, None),
    # a stats step runs a second forward + backward (the probe's, same size as the step's): ~2x
    # by construction; the bound (best-time ratios on a busy runner reached 4.3) catches the
    # statistics themselves growing (np.unique, np.std)
    "stats step / plain step": ("<=", 1.3, 4.5),
    # initlab sweep (no CI bound: a pool's speedup needs two idle cores, which a shared runner lacks)
    "sweep speedup, 2 workers": (">=", 1.7, None),
    "sweep / engine per point": ("<=", 1.10, None),
    "dask / local pool": ("<=", 1.3, None),
    # the playground's step-0 answer (settings read as --set, config, run, theory, JSON) over the
    # bare experiment.run of the same config: what serving adds
    "serve step-0 / initlab run": ("<=", 1.1, 1.5),
    # issue 18 (bench_draw.py): numpy's draw time / initlab's, same shape and dtype (the bounds
    # allow a one-core CI runner: one thread measured 2.5-2.9x normal, 1.5-1.9x uniform)
    "draw normal": (">=", 3.0, 1.2),
    "draw truncated normal": (">=", 3.0, 1.2),
    "draw uniform": (">=", 3.0, 0.5),  # a 1-3 ms draw: wall-time noise dominates under load
    # a whole `initlab run` (figures included) / a bare numpy script, process start to exit
    "whole run": ("<=", 1.3, 2.5),
    "whole run deep": ("<=", 0.5, 1.0),
    # drawing the run's figures / the run itself
    "figures / run": ("<=", 1.0, 3.0),
}

RESULTS: list[dict] = []


def record(name: str, kind: str, value: float, detail: str = "") -> None:
    op, target, bound = TARGETS.get(kind, ("", None, None))
    ok = None
    if target is not None:
        ok = value <= target if op == "<=" else value >= target
    regress = None
    if bound is not None:
        regress = value > bound if op == "<=" else value < bound
    RESULTS.append({"name": name, "kind": kind, "value": value, "op": op, "target": target,
                    "bound": bound, "ok": ok, "regress": regress, "detail": detail})
    tgt = f"target {op} {target:g}" if target is not None else ""
    flag = "" if ok is None else ("  ok" if ok else "  MISSED")
    print(f"  {name:<46} {value:7.3f}x  {tgt}{flag}  {detail}", flush=True)


class Timings(dict):
    """Best-of-N wall time per function (the mapping), and every round's times (``runs``)."""

    def __init__(self, best: dict, runs: dict):
        super().__init__(best)
        self.runs = runs

    def paired(self, a: str, b: str) -> float:
        """Median over rounds of ``a``'s time / ``b``'s time in the same round: less sensitive
        than the ratio of bests to one lucky round of either side when the machine drifts."""
        return statistics.median(x / y for x, y in zip(self.runs[a], self.runs[b]))


def interleaved(fns: dict, rounds: int, warmup: int = 1) -> Timings:
    """Best-of-``rounds`` wall time of each function, the functions taking turns each round."""
    for _ in range(warmup):
        for f in fns.values():
            f()
    runs = {k: [] for k in fns}
    gc.disable()
    try:
        for _ in range(rounds):
            for k, f in fns.items():
                t = time.perf_counter()
                f()
                runs[k].append(time.perf_counter() - t)
    finally:
        gc.enable()
    return Timings({k: min(v) for k, v in runs.items()}, runs)


# --- the workloads ------------------------------------------------------------------------

def make_case(batch: int, width: int, depth: int, act_name: str, dtype: str = "float32",
              backward: bool = False) -> dict:
    gain = {"tanh": "xavier", "relu": "he"}.get(act_name, "xavier")
    cfg = config.resolve({
        "dtype": dtype,
        "network": {"depth": depth, "width": width, "activation": act_name, "initializer": gain},
        "input": {"batch": batch, "dim": width},
        "backward": {"enabled": backward, "loss": "random"},
        "stats": {"histograms": True, "bins": 50},
    })
    act = experiment.components.activation(cfg)
    drawn = experiment.build_parameters(cfg)
    weights = [drawn.weight(l) for l in range(1, depth + 1)]
    params = StoredParameters(weights, [0.0] * depth)
    x = experiment.make_input(cfg)
    draws = network.draw_loss("random", cfg.seed, batch, width, 10, np.dtype(dtype)) if backward else None
    return {"cfg": cfg, "act": act, "weights": weights, "params": params, "x": x, "draws": draws,
            "label": f"{act_name} {batch}x{width}x{depth} {dtype}"}


def bare_forward(case: dict):
    x, weights, fn = case["x"], case["weights"], case["act"].fn
    b, n = x.shape[0], max(w.shape[1] for w in weights)
    bufs = (np.empty(b * n, x.dtype), np.empty(b * n, x.dtype))

    def run():
        h = x
        for l, w in enumerate(weights):
            z = np.matmul(h, w, out=bufs[l % 2][: b * w.shape[1]].reshape(b, w.shape[1]))
            h = fn(z, out=z)
        return h

    return run


def engine_forward(case: dict):
    """The engine work of ``experiment.run`` for a forward-only config (no drawing, no theory)."""
    cfg, act, params, x = case["cfg"], case["act"], case["params"], case["x"]

    def run():
        obs = experiment.StatsObserver(cfg, act, False)
        obs.input(x)
        network.forward(x, params, act, cfg.network.depth, obs)
        return obs

    return run


def bare_forward_backward(case: dict):
    x, weights, act = case["x"], case["weights"], case["act"]
    top = case["draws"].draws

    def run():
        tape = [x]
        h = x
        for w in weights:
            z = h @ w
            h = act.fn(z, out=z)
            tape.append(h)
        g = top
        for l in range(len(weights), 0, -1):
            dz = act.deriv(tape[l])
            dz *= g
            tape[l] = None
            dw = tape[l - 1].T @ dz  # noqa: F841  (the weight gradient, as training needs it)
            g = dz @ weights[l - 1].T
        return g

    return run


def engine_forward_backward(case: dict):
    """The engine work of ``experiment.run`` with ``backward.enabled`` (random loss)."""
    cfg, act, params, x, draws = case["cfg"], case["act"], case["params"], case["x"], case["draws"]
    depth = cfg.network.depth

    def run():
        obs = experiment.StatsObserver(cfg, act, False)
        obs.input(x)
        tape = network.forward(x, params, act, depth, obs, keep=True)
        h_top = network.activation_from_tape(act, tape, depth)
        _, g = network.loss_and_gradient(draws, h_top)
        del h_top
        network.backward(tape, params, act, g, obs, nonfinite_from=obs.first["forward"])
        return obs

    return run


# --- PyTorch with hooks computing the same statistics --------------------------------------

def torch_runs(case: dict, torch):
    act, cfg = case["act"], case["cfg"]
    lo, hi = act.hist_range
    bins = cfg.stats.bins
    sat = act.saturation
    module = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[act.name]
    layers = []
    for w in case["weights"]:
        lin = torch.nn.Linear(w.shape[0], w.shape[1], bias=False)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
        layers += [lin, module()]
    net = torch.nn.Sequential(*layers)
    x = torch.from_numpy(case["x"])
    stats: list = []

    def act_stats(h):
        # written for speed: counts by count_nonzero, dead units only when enough zeros exist
        n = h.numel()
        zero = h == 0
        nz = torch.count_nonzero(zero)
        row = [h.mean(), h.std(unbiased=False), nz / n,
               zero.all(dim=0).sum() if int(nz) >= h.shape[0] else nz * 0,
               torch.histc(h, bins=bins, min=lo, max=hi), torch.count_nonzero(h < lo),
               torch.count_nonzero(h > hi)]
        if sat is not None:
            row.append((torch.count_nonzero(h <= sat[0]) + torch.count_nonzero(h >= sat[1])) / n)
        return row

    def pre_hook(mod, inp, out):
        with torch.no_grad():
            stats.append((out.mean(), out.std(unbiased=False)))

    def post_hook(mod, inp, out):
        with torch.no_grad():
            stats.append(act_stats(out))

    for m in net:
        m.register_forward_hook(pre_hook if isinstance(m, torch.nn.Linear) else post_hook)

    def forward():
        stats.clear()
        with torch.no_grad():
            net(x)
        return [[float(v) if v.numel() == 1 else v.tolist() for v in row] for row in stats]

    top = torch.from_numpy(case["draws"].draws) if case["draws"] is not None else None
    grange = None

    def grad_hook(g):
        nonlocal grange
        with torch.no_grad():
            if grange is None:
                grange = 4.0 * float(g.std(unbiased=False))
            stats.append((g.mean(), g.std(unbiased=False),
                          torch.histc(g, bins=bins, min=-grange, max=grange),
                          torch.count_nonzero(g < -grange), torch.count_nonzero(g > grange)))

    def preact_grad_hook(g):
        with torch.no_grad():
            stats.append((g.std(unbiased=False),))

    def forward_backward():
        nonlocal grange
        stats.clear()
        grange = None
        xin = x.clone().requires_grad_(True)  # initlab reports dL/dx as well
        h = xin
        for m in net:
            h = m(h)
            if h.requires_grad:
                h.register_hook(preact_grad_hook if isinstance(m, torch.nn.Linear) else grad_hook)
        loss = (h * top).sum()
        net.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            wstats = [(p.grad.mean(), p.grad.std(unbiased=False), p.std(unbiased=False))
                      for p in net.parameters()]
            xstd = xin.grad.std(unbiased=False)
        return [float(v) for row in wstats for v in row] + [float(xstd)]

    return forward, forward_backward


# --- sections -----------------------------------------------------------------------------

def section_forward(shapes, rounds, torch):
    print("\nforward with every statistic and full histograms, vs the bare matmul + activation chain")
    worst = 0.0
    for (b, w, d, a) in shapes:
        case = make_case(b, w, d, a)
        # torch apart: its thread pool spins on after each call and would slow whatever runs
        # next in the round (the bare chain), flattering the ratio
        t = interleaved({"bare": bare_forward(case), "initlab": engine_forward(case)}, rounds)
        r = t["initlab"] / t["bare"]
        worst = max(worst, r)
        record(f"forward {case['label']}", "forward", r,
               f"(bare {1e3 * t['bare']:.1f} ms, initlab {1e3 * t['initlab']:.1f} ms; "
               f"median of round ratios {t.paired('initlab', 'bare'):.3f})")
        if torch is not None:
            tt = interleaved({"initlab": engine_forward(case), "torch": torch_runs(case, torch)[0]}, rounds)
            record_torch(torch, case, tt, "forward", "forward")
    return worst


def record_torch(torch, case: dict, t: dict, what: str, pass_name: str) -> None:
    """The PyTorch / initlab time ratio of one case, and the one-line verdict."""
    s = t["torch"] / t["initlab"]
    kind = "torch forward speedup" if what == "forward" else "torch fwd+bwd speedup"
    record(f"torch/initlab {what} {case['label']}", kind, s, f"(torch+hooks {1e3 * t['torch']:.1f} ms)")
    print(f"    -> initlab is {s:.2f}x faster than PyTorch {torch.__version__} CPU with hooks "
          f"computing the same statistics ({case['label']}, {pass_name})")


def section_widths(batch, widths, rounds):
    print(f"\nforward ratio against width (batch {batch}, tanh, float32): the statistics cost per entry,"
          " the product per entry grows with the width")
    for w in widths:
        depth = 4 if w >= 4096 else 6
        case = make_case(batch, w, depth, "tanh")
        t = interleaved({"bare": bare_forward(case), "initlab": engine_forward(case)}, rounds)
        record(f"forward {case['label']}", "forward", t["initlab"] / t["bare"],
               f"(bare {1e3 * t['bare'] / depth:.2f} ms/layer, statistics "
               f"{1e9 * (t['initlab'] - t['bare']) / depth / (batch * w):.1f} ns/entry)")
        del case


def section_backward(shapes, rounds, torch):
    print("\nforward + backward with every statistic, vs the bare forward + backward products")
    for (b, w, d, a) in shapes:
        case = make_case(b, w, d, a, backward=True)
        t = interleaved({"bare": bare_forward_backward(case), "initlab": engine_forward_backward(case)},
                        rounds)
        r = t["initlab"] / t["bare"]
        record(f"fwd+bwd {case['label']}", "forward+backward", r,
               f"(bare {1e3 * t['bare']:.1f} ms, initlab {1e3 * t['initlab']:.1f} ms; "
               f"median of round ratios {t.paired('initlab', 'bare'):.3f})")
        if torch is not None:
            tt = interleaved({"initlab": engine_forward_backward(case), "torch": torch_runs(case, torch)[1]},
                             rounds)
            record_torch(torch, case, tt, "fwd+bwd", "forward + backward")


def section_dtype(rounds):
    print("\nfloat32 vs float64 (same draws, cast): speed and agreement of every statistic")
    case64 = make_case(1000, 500, 10, "tanh", dtype="float64")
    cfg32 = config.resolve({"dtype": "float32", "network": {"depth": 10, "width": 500,
                            "activation": "tanh", "initializer": "xavier"},
                            "input": {"batch": 1000, "dim": 500}})
    case32 = {"cfg": cfg32, "act": case64["act"], "x": case64["x"].astype(np.float32),
              "weights": [w.astype(np.float32) for w in case64["weights"]], "draws": None,
              "label": "tanh 1000x500x10"}
    case32["params"] = StoredParameters(case32["weights"], [0.0] * 10)
    t = interleaved({"f64": engine_forward(case64), "f32": engine_forward(case32)}, rounds)
    record("initlab forward float64 / float32 time", "float64 / float32 time", t["f64"] / t["f32"])
    o64, o32 = engine_forward(case64)(), engine_forward(case32)()
    worst = 0.0
    for r64, r32 in zip(o64.rows[1:], o32.rows[1:]):
        for k in ("preact_std", "act_std", "act_saturated"):
            if r64[k]:
                worst = max(worst, abs(r64[k] - r32[k]) / abs(r64[k]))
    hist = max(int(np.abs(a.counts - b.counts).max()) for a, b in zip(o64.act_hist, o32.act_hist))
    print(f"  float32 vs float64 statistics: max relative difference {worst:.2e} (std, saturation); "
          f"histogram counts differ by at most {hist} of {1000 * 500} per layer")


def _child(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


_MEM_CHILD = r"""
import json, sys, time
from initlab import config
from initlab.runs import experiment

def status(key):  # kB from /proc/self/status; VmHWM is this process's peak RSS (reset by exec)
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
cfg = config.resolve({"dtype": "float32", "network": {"depth": %(depth)d, "width": %(width)d,
      "activation": "tanh", "initializer": "xavier"}, "input": {"batch": %(batch)d, "dim": %(width)d},
      "backward": {"enabled": %(backward)s}, "stats": {"histograms": True}})
experiment.run(config.resolve({"network": {"depth": 1, "width": 4}, "input": {"batch": 2, "dim": 4}}),
               theory=False)  # warm every import
base = status("VmHWM")
t = time.perf_counter()
experiment.run(cfg, theory=False)
t = time.perf_counter() - t
print(json.dumps({"base_mb": base, "peak_mb": status("VmHWM"), "seconds": t}))
"""


def section_memory(quick: bool):
    print("\nmemory: peak RSS (VmHWM) of a child process running one config, weights drawn from "
          "their streams, float32")
    width, batch = (512, 128) if quick else (1024, 256)
    shallow, deep = (10, 100) if quick else (10, 1000)
    res = {}
    for d in (shallow, deep):
        res[d] = _child(_MEM_CHILD % {"depth": d, "width": width, "batch": batch, "backward": "False"})
    r = res[deep]["peak_mb"] / res[shallow]["peak_mb"]
    record(f"forward peak RSS depth {deep} / depth {shallow} (w {width}, b {batch})",
           "forward peak RSS deep/shallow", r,
           f"({res[shallow]['peak_mb']:.0f} MB vs {res[deep]['peak_mb']:.0f} MB, of which imports "
           f"{res[shallow]['base_mb']:.0f} MB; depth {deep} took {res[deep]['seconds']:.1f} s)")
    item = 4
    wmb = width * width * item / 2**20
    for d in ((10, 40) if quick else (10, 50, 100)):
        m = _child(_MEM_CHILD % {"depth": d, "width": width, "batch": batch, "backward": "True"})
        acts = (d + 1) * batch * width * item / 2**20
        over = m["peak_mb"] - m["base_mb"]
        print(f"  fwd+bwd depth {d:4d}: peak {m['peak_mb']:.0f} MB = {m['base_mb']:.0f} MB (imports) + "
              f"{over:.0f} MB; the tape of activations is {acts:.0f} MB; the rest, "
              f"{over - acts:.0f} MB, is {(over - acts) / wmb:.1f} weight matrices of {wmb:.0f} MB "
              f"(keeping all {d} would add {d * wmb:.0f} MB)", flush=True)


def section_cli(runs: int):
    print("\nstart-up: `initlab --help` vs `python -c 'import numpy, typer, rich, yaml'` (median of "
          f"{runs} runs)")
    exe = Path(sys.executable).parent / "initlab"
    help_cmd = [str(exe), "--help"] if exe.exists() else [sys.executable, "-m", "initlab", "--help"]
    imp_cmd = [sys.executable, "-c", "import numpy, typer, rich, yaml"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

    def med(cmd):
        ts = []
        for _ in range(runs):
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, env=env, check=True)
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)

    med(help_cmd), med(imp_cmd)  # warm the file cache
    a, b = [], []
    for _ in range(2):  # interleave two halves
        a.append(med(help_cmd))
        b.append(med(imp_cmd))
    th, ti = min(a), min(b)
    record("initlab --help / import numpy,typer,rich,yaml", "cli --help / imports", th / ti,
           f"({1e3 * th:.0f} ms vs {1e3 * ti:.0f} ms)")
    probe = ("import sys; from initlab.cli import main; main(['--help']); "
             "print('\\nHEAVY', sorted(m for m in ('matplotlib', 'scipy', 'torch', 'initlab.runs.experiment') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    heavy = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "?"
    print(f"  modules loaded by --help that only some commands need: {heavy.replace('HEAVY', '').strip()}")


def section_full_run(quick: bool):
    print("\nfull `initlab run` engine time including weight drawing (experiment.run, float32, tanh)")
    shapes = [(1000, 500, 10)] if quick else [(1000, 500, 10), (256, 1024, 100)]
    for (b, w, d) in shapes:
        case = make_case(b, w, d, "tanh")
        cfg = case["cfg"]
        drawn = experiment.build_parameters(cfg)
        t = interleaved({
            "run": lambda: experiment.run(cfg, theory=False),
            "draw": lambda: [drawn.weight(l) for l in range(1, d + 1)],
            "engine": engine_forward(case),
        }, 3 if quick else 5)
        print(f"  {case['label']}: experiment.run {1e3 * t['run']:.0f} ms; drawing the weights alone "
              f"{1e3 * t['draw']:.0f} ms ({1e9 * t['draw'] / (d * w * w):.1f} ns/entry); engine with "
              f"pre-drawn weights {1e3 * t['engine']:.0f} ms", flush=True)


def section_figures():
    exe = Path(sys.executable).parent / "initlab"
    probe = subprocess.run([str(exe), "reproduce", "--help"], capture_output=True, text=True)
    if probe.returncode != 0:
        print("\n`initlab reproduce` not available: make figures not measured")
        return
    print("\n`make figures` (initlab reproduce all --results /tmp/initlab-regen)")
    t = time.perf_counter()
    out = subprocess.run([str(exe), "reproduce", "all", "--results", "/tmp/initlab-regen"],
                         capture_output=True, text=True)
    t = time.perf_counter() - t
    status = "ok" if out.returncode == 0 else f"exit {out.returncode}: {out.stderr.strip()[-300:]}"
    print(f"  reproduce all: {t:.1f} s ({status}); target well under 60 s")


# --- training: one step of a 784-300-100-10 ReLU MLP (the training issue's shape) ---------

TRAIN_WIDTHS = (784, 300, 100, 10)
TRAIN_BATCH = 128


def make_train_case(dtype: str = "float32") -> dict:
    """He-initialized weights (and zero biases) drawn once, one training batch and one probe
    batch of 128 (MNIST-sized inputs, 10 classes), Adam with torch's defaults."""
    from initlab.training import losses, optimizers
    from initlab.training.model import Model

    depth = len(TRAIN_WIDTHS) - 2
    cfg = config.resolve({
        "dtype": dtype,
        "network": {"depth": depth, "width": list(TRAIN_WIDTHS[1:-1]), "activation": "relu",
                    "initializer": "he"},
        "input": {"batch": TRAIN_BATCH, "dim": TRAIN_WIDTHS[0]},
        "backward": {"enabled": True, "loss": "softmax_ce", "classes": TRAIN_WIDTHS[-1]},
        "stats": {"histograms": True, "bins": 50},
    })
    act = experiment.components.activation(cfg)
    params = StoredParameters.draw(experiment.build_parameters(cfg))  # readout = layer L + 1
    model = Model(params, act)
    rng = np.random.default_rng(0)
    x, xp = (rng.standard_normal((TRAIN_BATCH, TRAIN_WIDTHS[0]), dtype=np.dtype(dtype)) for _ in range(2))
    y, yp = (rng.integers(0, TRAIN_WIDTHS[-1], TRAIN_BATCH) for _ in range(2))
    return {"cfg": cfg, "act": act, "params": params, "model": model, "x": x, "y": y, "xp": xp,
            "yp": yp, "loss": losses.get("softmax_ce"), "opt": optimizers.Adam(lr=1e-3),
            "label": "relu " + "-".join(map(str, TRAIN_WIDTHS)) + f" batch {TRAIN_BATCH} {dtype}"}


def initlab_train_step(case: dict):
    """``Model.gradients`` (forward, softmax cross-entropy, backward) + ``Adam.step``."""
    model, x, y, loss, opt = case["model"], case["x"], case["y"], case["loss"], case["opt"]
    arrays, masks = model.arrays(), model.masks()

    def run():
        _, _, grads = model.gradients(x, y, loss)
        opt.step(arrays, grads, masks=masks)

    return run


def probe_statistics(case: dict):
    """What a stats step adds: every ``initlab run`` statistic (forward and backward, both
    histograms) of the probe batch through :class:`StatsObserver`, and per layer the update
    ratio std(W - W_before) / std(W), std(W) and the distinct units (columns of W that differ:
    counted on a random projection of the columns, one product instead of sorting them)."""
    from initlab.engine.stats import moments

    cfg, act, params, model, loss = case["cfg"], case["act"], case["params"], case["model"], case["loss"]
    xp, yp = case["xp"], case["yp"]
    depth = cfg.network.depth
    proj = np.random.default_rng(1)
    r = [proj.standard_normal(w.shape[0]).astype(w.dtype) for w in params.weights]

    def stats(before):
        obs = experiment.StatsObserver(cfg, act, False)
        obs.input(xp)
        tape = network.forward(xp, params, act, depth, obs, keep=True)
        logits = model._readout(network.activation_from_tape(act, tape, depth))
        _, dlogits = loss(logits, yp)
        network.backward(tape, params, act, dlogits @ params.weight(depth + 1).T, obs,
                         nonfinite_from=obs.first["forward"])
        return obs, weight_statistics(before)

    def weight_statistics(before):
        rows = []
        for w, b, rl in zip(params.weights, before, r):
            ws = moments(w).std  # the engine's one-pass moments (np.std: three passes)
            np.subtract(w, b, out=b)  # the step's update, in the copy taken before it
            rows.append((moments(b).std / ws if ws > 0 else None, ws, int(np.unique(rl @ w).size)))
        return rows

    stats.weights = weight_statistics

    return stats


def initlab_stats_step(case: dict):
    step, stats = initlab_train_step(case), probe_statistics(case)
    weights = case["params"].weights

    def run():
        before = [w.copy() for w in weights]
        step()
        return stats(before)

    return run


def torch_train_step(case: dict, torch):
    """The same step in PyTorch: nn.Sequential of Linear/ReLU with the same weights and biases,
    F.cross_entropy, torch.optim.Adam (torch's default implementation for CPU tensors)."""
    params = case["params"]
    mods = []
    for l, (w, b) in enumerate(zip(params.weights, params.biases), start=1):
        lin = torch.nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            lin.bias.copy_(torch.from_numpy(np.asarray(b)))
        mods.append(lin)
        if l < len(params.weights):
            mods.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*mods)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, y = torch.from_numpy(case["x"]), torch.from_numpy(case["y"])

    def run():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss

    return run


def section_training(rounds: int, torch):
    case = make_train_case()
    print(f"\ntraining: one step (forward, softmax cross-entropy, backward, Adam) of a {case['label']} MLP")
    if torch is not None:
        # torch apart from the stats comparison, as elsewhere: its spinning pool slows what follows
        t = interleaved({"initlab": initlab_train_step(case), "torch": torch_train_step(case, torch)},
                        rounds, warmup=3)
        s = t["torch"] / t["initlab"]
        record(f"torch/initlab train step {case['label']}", "torch train step speedup", s,
               f"(initlab {1e3 * t['initlab']:.2f} ms, torch {1e3 * t['torch']:.2f} ms; "
               f"median of round ratios {t.paired('torch', 'initlab'):.3f})")
    case = make_train_case()  # fresh weights and optimizer state for the second comparison
    t = interleaved({"step": initlab_train_step(case), "stats": initlab_stats_step(case)}, rounds, warmup=3)
    record(f"stats step / plain step {case['label']}", "stats step / plain step", t["stats"] / t["step"],
           f"(plain {1e3 * t['step']:.2f} ms, with the probe's statistics {1e3 * t['stats']:.2f} ms; "
           f"median of round ratios {t.paired('stats', 'step'):.3f})")
    # where the extra goes: the probe's passes are a second forward + backward of the same size
    stats = probe_statistics(case)
    cfg, act, params, xp = case["cfg"], case["act"], case["params"], case["xp"]
    before = [w.copy() for w in params.weights]

    def probe_forward():
        obs = experiment.StatsObserver(cfg, act, False)
        obs.input(xp)
        network.forward(xp, params, act, cfg.network.depth, obs, keep=True)

    parts = interleaved({"step": initlab_train_step(case), "probe forward": probe_forward,
                         "probe fwd+bwd": lambda: stats(before),
                         "weights": lambda: stats.weights([w.copy() for w in params.weights])},
                        rounds, warmup=2)
    print(f"    -> per stats step: the probe's forward with statistics {1e3 * parts['probe forward']:.2f} ms, "
          f"forward + backward with statistics and the weight statistics {1e3 * parts['probe fwd+bwd']:.2f} ms "
          f"(of which update ratio, std(W), distinct units {1e3 * parts['weights']:.2f} ms), "
          f"beside a plain step of {1e3 * parts['step']:.2f} ms")


# --- sweeps -------------------------------------------------------------------------------------

def _sweep_spec(tmp: Path, cfg: dict, axes: list[tuple[str, list]], seeds: int):
    import yaml

    from initlab.sweeps import grid as G

    base = tmp / f"{cfg['name']}.yaml"
    base.write_text(yaml.safe_dump(cfg))
    spec = G.add_axes(G.Spec(base, G.RUN, name=cfg["name"]), axes)
    return G.with_seeds(spec, seeds)


def section_sweeps(rounds: int):
    """``initlab sweep`` beside what it wraps: (1) 200 small step-0 points on a 2-worker local
    pool (pool start-up and writing the point folders included) vs a plain serial loop calling
    ``experiment.run`` with one BLAS thread (as each worker has; with two, a busy machine slows
    the loop several-fold and flatters the pool); (2) the sweep machinery in this process (chunks, thread limits, the
    atomic point folders, the tables) vs calling the engine directly, at the cs231n shape
    (1000 x 500 x 10, tanh, float64, backward); (3) a Dask LocalCluster of 2 single-threaded
    workers vs the local pool on the sweep of (1) (cluster start-up included)."""
    import shutil
    import tempfile

    from initlab.sweeps import executors, grid as G, runner

    tmp = Path(tempfile.mkdtemp(prefix="initlab-bench-"))
    try:
        small = {"name": "small", "dtype": "float32", "input": {"batch": 256, "dim": 128},
                 "network": {"depth": 10, "width": 128, "activation": "tanh", "initializer": "xavier"},
                 "backward": {"enabled": True}, "stats": {"bins": 20}}
        spec = _sweep_spec(tmp, small, [("network.depth", [6, 8, 10, 12]), ("network.initializer", ["xavier", "he"])],
                           25)
        pts = G.points(spec)
        print(f"\nsweeps: {len(pts)} small points (256 x 128, depth 6-12, tanh float32, backward); the machine "
              "is shared, so a pool's speedup depends on how idle the second core is")

        def serial_loop():  # one BLAS thread, as each worker has (two would fight the pool's measurement)
            from initlab.sweeps.worker import limited

            with limited(), experiment.np.errstate(all="ignore"):
                for p in pts:
                    experiment.run(p.config)

        def pool(name):
            def go():
                out = tmp / f"out-{name}"
                shutil.rmtree(out, ignore_errors=True)
                with executors.make(name, 2) as ex:
                    runner.run(spec, pts, out, ex)
            return go

        fns = {"serial": serial_loop, "local": pool("local")}
        try:
            import distributed  # noqa: F401

            fns["dask"] = pool("dask")
        except ImportError:
            print("    (dask not installed: pip install 'initlab[dask]' for the Dask comparison)")
        t = interleaved(fns, rounds, warmup=0)
        record("200 points: serial loop / 2-worker local pool", "sweep speedup, 2 workers", t["serial"] / t["local"],
               f"(serial {t['serial']:.2f} s, pool {t['local']:.2f} s incl. start-up; median of round ratios "
               f"{t.paired('serial', 'local'):.3f})")
        if "dask" in t:
            record("200 points: Dask LocalCluster / local pool (2 workers)", "dask / local pool",
                   t["dask"] / t["local"], f"(dask {t['dask']:.2f} s incl. cluster start-up)")
        cs = {"name": "cs231n", "dtype": "float64", "input": {"batch": 1000, "dim": 500},
              "network": {"depth": 10, "width": 500, "activation": "tanh", "initializer": "xavier"},
              "backward": {"enabled": True}}
        cspec = _sweep_spec(tmp, cs, [], 4)
        cpts = G.points(cspec)

        def direct():
            from initlab.sweeps.worker import limited

            with limited(), experiment.np.errstate(all="ignore"):
                for p in cpts:
                    experiment.run(p.config)

        def machinery():
            runner.run(cspec, cpts, tmp / "out-cs", executors.Serial(), force=True)

        t = interleaved({"direct": direct, "sweep": machinery}, rounds, warmup=1)
        record("cs231n shape: sweep (serial) / engine directly", "sweep / engine per point", t["sweep"] / t["direct"],
               f"(per point: engine {1e3 * t['direct'] / len(cpts):.0f} ms, sweep {1e3 * t['sweep'] / len(cpts):.0f} ms; "
               f"median of round ratios {t.paired('sweep', 'direct'):.3f})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- the playground (initlab serve), server side -------------------------------------------

def section_serve(rounds: int):
    """The step-0 answer at the cs231n shape (what one slider move costs on the server), against
    ``experiment.run`` of the same config; and one training frame of the circles demo (new
    evaluation rows, the latest layer statistics, the decision boundary on the live grid, JSON)."""
    try:
        from initlab.serve import compute, training
    except ImportError:  # pragma: no cover
        print("\nplayground: the serve extra is not installed (pip install -e '.[serve]'); skipped")
        return
    print("\nplayground (initlab serve), server side: one step-0 update at the cs231n shape "
          "(batch 1000, 10 x 500, tanh, Xavier) and one training frame")
    for dtype in ("float32", "float64"):
        settings = {"dtype": dtype}
        cfg = compute.run_config(settings)
        t = interleaved({"step0": lambda: json.dumps(compute.step0(settings), allow_nan=False),
                         "run": lambda: experiment.run(cfg)}, rounds)
        cpu = time.process_time()
        compute.step0(settings)
        cpu = time.process_time() - cpu
        record(f"serve step-0 / initlab run, {dtype}", "serve step-0 / initlab run", t["step0"] / t["run"],
               f"(step-0 answer {1e3 * t['step0']:.0f} ms wall, {1e3 * cpu:.0f} ms CPU; experiment.run "
               f"{1e3 * t['run']:.0f} ms; median of round ratios {t.paired('step0', 'run'):.3f})")
    t0 = time.perf_counter()
    compute.phase({})
    print(f"  phase diagram of an activation (computed once, then cached): {1e3 * (time.perf_counter() - t0):.0f} ms")
    from initlab.runs import train as R

    cfg = training.train_configs({**training.DEFAULT_TRAIN, "train.steps": "200"}, ["he"])[0]
    ds = R.load_data(cfg)
    model = R.build_model(cfg, ds)
    out = []
    stream = training._Stream(0, model, ds, cfg.train.loss, None, compute.Token(),
                              lambda m: out.append(json.dumps(m, allow_nan=False)))
    stream.rows = [{"step": 100 * i, "train_loss": 0.5, "train_acc": 0.9} for i in range(3)]
    t = interleaved({"frame": lambda: (setattr(stream, "sent", 0), stream.frame())}, rounds)
    print(f"  one training frame (3 evaluation rows, boundary {training.LIVE_GRID}^2, JSON {len(out[-1]) / 1024:.0f} KiB): "
          f"{1e3 * t['frame']:.1f} ms; frames are sent every {1e3 * training.FRAME_SECONDS:.0f} ms per run at most")


def versions(torch) -> str:
    import numpy

    try:
        cfg = numpy.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        blas = f"{blas.get('name')} {blas.get('version')}"
    except Exception:
        blas = "?"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    tv = f", torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch is not None else ""
    return (f"{cpu}, {cores} cores; Python {platform.python_version()}, numpy {numpy.__version__} "
            f"({blas}){tv}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="the CI subset (~15 s)")
    p.add_argument("--check", action="store_true",
                   help="exit 1 if a ratio regresses past its generous CI bound")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--rounds", type=int, help="rounds of the --sweeps section (default 3)")
    p.add_argument("--sweeps", action="store_true", help="only the sweep section (a few minutes; more on a busy machine)")
    args = p.parse_args(argv)

    torch = None
    if not args.no_torch:
        try:
            import torch  # noqa: F811

            torch.set_num_threads(2)
        except ImportError:
            torch = None
    print("initlab benchmark:", versions(torch))
    quick_sections = lambda: (  # noqa: E731
        section_forward([(1000, 500, 10, "tanh"), (256, 1024, 20, "tanh")], 7, None),
        section_backward([(1000, 500, 10, "tanh")], 5, None),
        section_memory(quick=True),
        section_cli(runs=5),
        section_training(15, torch),
        section_serve(5),
        bench_draw.section_drawing(5, quick=True),
        bench_draw.section_run_figures(2, depths=(100,)),
        bench_draw.section_whole_run(2, deep=False),
    )
    if args.sweeps:
        section_sweeps(args.rounds or 3)
    elif args.quick:
        quick_sections()
    else:
        section_forward([(1000, 500, 10, "tanh"), (1000, 500, 10, "relu"),
                         (256, 1024, 100, "tanh"), (256, 1024, 100, "relu")], 15, torch)
        section_widths(256, (512, 1024, 2048, 4096), 7)
        section_backward([(1000, 500, 10, "tanh"), (1000, 500, 10, "relu"),
                          (256, 1024, 100, "tanh")], 7, torch)
        section_dtype(9)
        section_memory(quick=False)
        section_cli(runs=10)
        section_full_run(quick=False)
        section_training(41, torch)
        section_serve(11)
        bench_draw.section_drawing(9)
        bench_draw.section_matrix_inits(5)
        bench_draw.section_run_figures(5)
        bench_draw.section_whole_run(5, deep=True)
        section_figures()
        section_sweeps(3)
    regress = [r for r in RESULTS if r["regress"]]
    if args.check and args.quick and regress:
        # a shared runner can be busy for a while: measure again, keep each figure's best
        print(f"\n{len(regress)} past the CI bound; measuring again")
        first = {r["name"]: r for r in RESULTS}
        RESULTS.clear()
        quick_sections()
        for r in RESULTS:
            old = first.get(r["name"])
            if old is not None and old["bound"] is not None:
                better = min if r["op"] == "<=" else max
                if better(old["value"], r["value"]) == old["value"]:
                    r.update(old)
        regress = [r for r in RESULTS if r["regress"]]
    missed = [r for r in RESULTS if r["ok"] is False]
    print(f"\n{len(RESULTS)} figures; {len(missed)} beside their target; "
          f"{len(regress)} past the CI bound")
    if args.json:
        args.json.write_text(json.dumps(RESULTS, indent=1, sort_keys=True) + "\n")
    if args.check and regress:
        for r in regress:
            print(f"REGRESSION: {r['name']}: {r['value']:.3f} (bound {r['op']} {r['bound']})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
