"""``initlab train``, ``initlab list datasets | optimizers`` and ``initlab compare --train``."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from initlab.cli.app import app, console as make_console, existing, wrote
from initlab.cli.run import list_app, parse_sets, warn_line

TABLE_ROWS = 21  # evaluation rows shown in the terminal (evenly spaced; all in history.csv)


def _num(v, pct: bool = False) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if v != v or v in (float("inf"), float("-inf")):
        return str(v)
    if pct:
        return f"{100 * v:.1f}"
    if v == 0:
        return "0"
    return f"{v:.3e}" if abs(v) < 1e-3 or abs(v) >= 1e4 else f"{v:.4f}"


def load_config(path: Path, sets, seed):
    """``(TrainConfig, Source)`` of a YAML file with the command-line overrides."""
    from initlab.config import training
    from initlab.io import configfile

    data, lines = configfile.read(path)
    return training.resolve(data, lines=lines, default_name=Path(path).stem, sets=sets, seed=seed)


class Progress:
    """A rich progress bar (step, loss, accuracy, ETA) fed by the loop's callbacks."""

    def __init__(self, console, total: int, label: str):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress as P, TextColumn,
                                   TimeRemainingColumn)

        self.bar = P(TextColumn("{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
                     TextColumn("{task.fields[metrics]}"), TimeRemainingColumn(), console=console,
                     transient=True)
        self.task = self.bar.add_task(label, total=total, metrics="")
        self.every = max(1, total // 500)
        self.metrics = ""

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)

    # --- loop callbacks --------------------------------------------------------------------

    def batch(self, step, indices):
        pass

    def stats(self, step, rows):
        pass

    def step(self, done, loss, acc):
        if done % self.every == 0:
            self.bar.update(self.task, completed=done, metrics=f"loss {_num(loss)}{self.metrics}")

    def evaluated(self, row):
        acc = row.get("train_acc")
        self.metrics = f" acc {100 * acc:.1f}%" if acc is not None else ""
        self.bar.update(self.task, completed=row["step"])


def _shown(rows: list[dict], cap: int = TABLE_ROWS) -> list[dict]:
    if len(rows) <= cap:
        return rows
    idx = sorted({round(i * (len(rows) - 1) / (cap - 1)) for i in range(cap)})
    return [rows[i] for i in idx]


def print_history(result, console) -> None:
    """One row per evaluation point (at most :data:`TABLE_ROWS`, evenly spaced), within 80
    columns."""
    from initlab.cli.tables import Col, show

    rows = result.loop.history
    classify = rows[0].get("train_acc") is not None
    full = result.loop.batches_per_epoch == 1
    # (key, header, percent?, drop order on a narrow terminal)
    cols = [("step", "step", False, None)] + ([] if full else [("epoch", "epoch", False, 1)]) + [
        ("train_loss", "train loss", False, None)] + ([("train_acc", "acc %", True, None)] if classify else []) + [
        ("test_loss", "test loss", False, None)] + ([("test_acc", "acc %", True, None)] if classify else []) + [
        ("grad_norm", "|grad|", False, 3), ("lr", "lr", False, 2)]
    div = result.loop.diverged_at
    shown = _shown(rows)
    show(console, [Col(head, drop=drop) for _, head, _, drop in cols],
         [[_num(r.get(k), pct) for k, _, pct, _ in cols] for r in shown],
         styles=["red" if div is not None and r["step"] == div else None for r in shown],
         title=f"{result.config.name}: {result.dataset['name']}, "
               f"{'-'.join(map(str, result.widths))} {result.activation}, {result.initializer}",
         files="history.csv")
    if len(rows) > TABLE_ROWS:
        console.print(f"({TABLE_ROWS} of {len(rows)} evaluations shown; all of them in history.csv)")


def final_text(result) -> str:
    f = result.final_metrics()
    acc = (lambda v: f" acc {100 * v:.1f}%") if f["train_acc"] is not None else (lambda v: "")
    th = f["steps_to_threshold"]
    text = (f"final (step {f['step']}): train loss {_num(f['train_loss'])}{acc(f['train_acc'])}, "
            f"test loss {_num(f['test_loss'])}{acc(f['test_acc'])}; {f['threshold']}: "
            f"{'step ' + str(th) if th is not None else 'not reached'}")
    if f["diverged"]:
        text += f"; DIVERGED at step {f['diverged_at']} (loss inf/NaN: stopped there)"
    return text


def train_one(cfg, src, *, save_weights: bool, console, progress: bool, ds=None, label: str | None = None):
    """Load, build and train ``cfg`` (a progress bar when asked); config errors placed at their
    YAML line."""
    from initlab.datainit import resolve
    from initlab.errors import ConfigError
    from initlab.runs import train as R

    try:
        import numpy as np

        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            ds = ds if ds is not None else R.load_data(cfg)
            if not progress:
                return resolve.train(cfg, save_weights=save_weights, ds=ds)
            with Progress(console, R.total_steps(cfg, ds), label or cfg.name) as bar:
                return resolve.train(cfg, save_weights=save_weights, ds=ds, callbacks=bar)
    except ConfigError as e:
        raise src.place(e) from None


@app.command(epilog="Examples: initlab train configs/train/circles_he.yaml;  "
                    "initlab train configs/train/circles_he.yaml --set train.steps=2000 -q")
def train(
    config: Annotated[Path, typer.Argument(help="YAML training config (configs/train/).", show_default=False,
                                           metavar="CONFIG")],
    set_: Annotated[Optional[list[str]], typer.Option("--set", metavar="KEY=VALUE",
                                                       help="Override a config field, e.g. train.steps=2000 "
                                                            "(repeatable).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default results/<name>).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Override the config's seed.")] = None,
    save_weights: Annotated[bool, typer.Option("--save-weights",
                                               help="Also write weights.npz (initial and final).")] = False,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Draw the PNG figures.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no table.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Run even when the memory estimate says it "
                                                        "will not fit (README: Bad input).")] = False,
) -> None:
    """Train a network and record its per-layer statistics while it learns.

    Writes history.csv, layers.csv, histograms.npz, boundary.npz, config.yaml, summary.md, figures.
    """
    from initlab.io import results, train_save

    cfg, src = load_config(config, parse_sets(set_), seed)
    folder = out or Path("results") / cfg.name
    results.check_output_dir(folder)
    warnings = preflight([cfg], src, save_weights=save_weights, figures=figures, force=force)
    replaced = existing(folder)
    console = make_console()
    t0 = time.perf_counter()
    ds = load_data(cfg, src)
    for line in warnings:
        warn_line(line)
    result = train_one(cfg, src, save_weights=save_weights, console=console,
                       progress=not quiet and console.is_terminal, ds=ds)
    train_save.save_train(result, folder, figures=figures, command=" ".join(["initlab"] + sys.argv[1:]))
    if not quiet:
        print_history(result, console)
    console.print(final_text(result), markup=False, highlight=False,
                  style="red" if result.loop.diverged else None)
    sps = result.seconds_per_step
    console.print(wrote(folder, time.perf_counter() - t0, replaced)
                  + (f" ({1e3 * sps:.3g} ms per step)" if sps else ""), markup=False, highlight=False)


# --- list ------------------------------------------------------------------------------------

@list_app.command("datasets", epilog="Example: initlab list datasets")
def list_datasets() -> None:
    """Every data set: task, input size, classes, default split, parameters (defaults)."""
    from initlab import data
    from initlab.cli.tables import Col, show

    short = (lambda v: "param" if isinstance(v, str) else str(v))
    rows = [(r["name"], "class." if r["task"] == "classification" else "regr.", short(r["input_dim"]),
             short(r["classes"]) if r["task"] == "classification" else "-",
             f"{r['n_train']}/{r['n_test']}", r["params"]) for r in data.describe()]
    show(make_console(), [Col("name", justify="left"), Col("task", justify="left"), Col("dim"),
                          Col("classes"), Col("train/test"),
                          Col("parameters (defaults)", justify="left", wrap=True, min_width=16)],
         rows, title="datasets (initlab train: data.name; 'param': set by a parameter)", lines=True)


@list_app.command("optimizers", epilog="Example: initlab list optimizers")
def list_optimizers() -> None:
    """Every optimizer: parameters and defaults, update rule, source."""
    from initlab.cli.tables import Col, show
    from initlab.training import optimizers

    rows = [(d["name"], ", ".join(f"{k}={'(required)' if v is None else v}" for k, v in d["parameters"].items()),
             f"{d['formula']}; {d['source']}") for d in optimizers.describe()]
    show(make_console(), [Col("name", justify="left"),
                          Col("parameters (defaults)", justify="left", wrap=True, min_width=20),
                          Col("update, source", justify="left", wrap=True, min_width=30)],
         rows, title="optimizers (initlab train: train.optimizer)", lines=True)


# --- compare --train -------------------------------------------------------------------------

def preflight(configs, src, *, save_weights: bool, figures: bool, force: bool) -> list[str]:
    """The memory check of :mod:`initlab.runs.budget` for training ``configs`` one after another
    (a refusal placed at its YAML line), before the data is loaded; returns the warning lines,
    printed once the data has loaded (a data error is then the only line)."""
    from initlab.errors import ConfigError
    from initlab.runs import budget

    ests = [budget.estimate_train(c, save_weights=save_weights, figures=figures) for c in configs]
    est = ests[0] if len(ests) == 1 else budget.combine("this comparison", ests)
    try:
        return budget.preflight(est, force=force)
    except ConfigError as e:
        raise src.place(e) from None


def load_data(cfg, src):
    """The data set of ``cfg``, its errors placed at their YAML line."""
    import numpy as np

    from initlab.errors import ConfigError
    from initlab.runs import train as R

    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            return R.load_data(cfg)
    except ConfigError as e:
        raise src.place(e) from None


def compare_train(inits: list[str], act: str | None, config: Path | None, sets, seed, out: Path | None,
                  figures: bool, quiet: bool, force: bool = False) -> None:
    """``initlab compare INIT... --config C --train``: every initializer on the same data, split,
    batches and seed; one line per initializer."""
    from initlab.config import training
    from initlab.errors import ConfigError
    from initlab.io import results, train_save
    from initlab.runs import compare as C

    if config is None:
        raise ConfigError("--config", "compare --train needs a training config, e.g. "
                                      "--config configs/train/circles.yaml")
    specs = [C.parse_spec(s, "initializer") for s in inits]
    act_spec = C.parse_spec(act, "activation") if act is not None else None
    base, src = load_config(config, sets, seed)
    configs = []
    for spec in specs:
        extra = [("network.initializer", spec.to_yaml())]
        if act_spec is not None:
            extra.append(("network.activation", act_spec.to_yaml()))
        try:
            cfg, _ = training.resolve(training.to_dict(base), sets=extra)
        except ConfigError as e:
            if e.field and (e.field.startswith("network.initializer") or e.field.startswith("network.activation")):
                raise ConfigError(f"initializer '{C.spec_text(spec)}'",
                                  e.detail.removeprefix("(from the command line) ")) from None
            raise
        configs.append(cfg)
    slugs = [C.slug(s) for s in specs]
    if len(set(slugs)) != len(slugs):
        raise ConfigError("initializers", "an initializer is given twice; give each once")
    act_name = C.slug(configs[0].network.activation)
    name = "-".join(["compare-train", base.name, act_name] + slugs)
    folder = out or Path("results") / name
    results.check_output_dir(folder)
    warnings = preflight(configs, src, save_weights=False, figures=figures, force=force)
    replaced = existing(folder)
    console = make_console()
    progress = not quiet and console.is_terminal
    t0 = time.perf_counter()
    ds = load_data(configs[0], src)  # one data set for all: the data stream ignores the initializer
    for line in warnings:
        warn_line(line)
    runs = []
    for spec, cfg in zip(specs, configs):
        runs.append(train_one(cfg, src, save_weights=False, console=console, progress=progress, ds=ds,
                              label=C.spec_text(spec)))
    elapsed = time.perf_counter() - t0
    labels = [C.spec_text(s) for s in specs]
    title = (f"compare --train: {base.name}, {runs[0].dataset['name']}, "
             f"{'-'.join(map(str, runs[0].widths))} {runs[0].activation}")
    command = " ".join(["initlab"] + (sys.argv[1:] if sys.argv[1:2] == ["compare"] else ["compare", *inits]))
    train_save.save_compare(title, labels, slugs, runs, folder, figures=figures, command=command, elapsed=elapsed)
    console.print(title, markup=False, highlight=False)
    console.print(f"(threshold: {runs[0].final_metrics()['threshold']}; same data, batches and seed for all)",
                  markup=False, highlight=False)
    width = max(len(l) for l in labels)
    for label, r in zip(labels, runs):
        f = r.final_metrics()
        acc = (f"train {100 * f['train_acc']:5.1f}%  test {100 * f['test_acc']:5.1f}%"
               if f["train_acc"] is not None else
               f"train loss {_num(f['train_loss'])}  test loss {_num(f['test_loss'])}")
        th = f["steps_to_threshold"]
        status = f"threshold at step {th}" if th is not None else "threshold not reached"
        if f["diverged"]:
            status += f", DIVERGED at step {f['diverged_at']}"
        console.print(f"{label:<{width}}  {acc}  {status}", markup=False, highlight=False,
                      style="red" if f["diverged"] else ("green" if th is not None else None))
    console.print(wrote(folder, elapsed, replaced), markup=False, highlight=False)
