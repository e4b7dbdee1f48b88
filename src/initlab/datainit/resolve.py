"""Where a config's data-dependent initialization is resolved: config names it, this module turns
it into :class:`~initlab.engine.parameters.StoredParameters` before the passes run, and hands
them to :mod:`initlab.runs` (``initlab run``, ``initlab train``, ``initlab ticket`` call here).

Order, for one config: the ordinary initializer (``base`` of a data-dependent spec) draws every
layer from the run's streams exactly as ``initlab run`` does; then ``lsuv`` fits the hidden
layers on its batch, or ``from_file`` copies the chosen layers (and freezes); then, for a
training config with ``pretrain:``, the greedy layerwise autoencoders train the hidden layers
that are not frozen. A config with none of these is passed through unchanged (same numbers as
before this module existed).

The LSUV batch is its own stream, purpose :data:`LSUV_BATCH` of the run's seed: for
``initlab run`` ``batch`` rows of the configured input distribution (not the statistics' batch,
so the table measures the variance on a fresh batch), for ``initlab train`` ``batch`` distinct
training rows (all of them when the training set is smaller).
"""

from __future__ import annotations

import numpy as np

from initlab.config import Config
from initlab.config.datainit import FromFile, Lsuv, data_init, is_data_init
from initlab.engine.parameters import StoredParameters, stream
from initlab.datainit import lsuv, pretrain as P, transfer

LSUV_BATCH = 8  # stream purpose of the LSUV batch (purposes 0-7: initlab.engine.parameters)


def _apply_spec(cfg, params: StoredParameters, act, depth: int, batch_of) -> dict | None:
    spec = cfg.network.initializer
    if not is_data_init(spec):
        return None
    rec = data_init(spec)
    if isinstance(rec, Lsuv):
        x = batch_of(rec.batch)
        rows = lsuv.fit(params, act, x, depth, tol=rec.tol, max_iter=rec.max_iter, center=rec.center,
                        min_width=rec.min_width)
        kind = "lsuv"
    else:
        assert isinstance(rec, FromFile)
        stored = transfer.read(rec.path, rec.which)
        rows = transfer.apply(params, stored, rec.layers, rec.freeze, rec.path)
        kind = "from_file"
    return {"kind": kind, "label": spec.label(), "rows": rows}


# --- initlab run ---------------------------------------------------------------------------------

def _input_like(cfg: Config, rows: int) -> np.ndarray:
    """``rows`` draws of the configured input distribution from the LSUV stream."""
    i = cfg.input
    dt = np.dtype(cfg.dtype)
    rng = stream(cfg.seed, LSUV_BATCH)
    if i.distribution == "normal":
        return (rng.standard_normal((rows, i.dim)) * i.std + i.mean).astype(dt)
    s3 = 3 ** 0.5 * i.std
    low = i.mean - s3 if i.low is None else i.low
    high = i.mean + s3 if i.high is None else i.high
    return (low + (high - low) * rng.random((rows, i.dim))).astype(dt)


def run_parameters(cfg: Config) -> tuple[StoredParameters | None, dict | None]:
    """The parameters of a run config after its data-dependent initializer (``(None, None)`` for
    an ordinary one: the run draws its own)."""
    if not is_data_init(cfg.network.initializer):
        return None, None
    from initlab.config import components
    from initlab.runs.experiment import build_parameters

    params = StoredParameters.draw(build_parameters(cfg), trainable_bias=True)
    info = _apply_spec(cfg, params, components.activation(cfg), cfg.network.depth,
                       lambda n: _input_like(cfg, n))
    return params, info


def run(cfg: Config, save_weights: bool = False, report=None):
    """``initlab run``: the step-0 statistics after the initialization; LSUV's iterations and
    gain join the per-layer rows (``lsuv_iterations``, ``lsuv_gain``)."""
    from dataclasses import replace

    from initlab.runs.experiment import run as run_experiment

    params, info = run_parameters(cfg)
    # the mean-field columns assume iid weights of the configured initializer: not LSUV's or a file's
    result = run_experiment(cfg, save_weights=save_weights, params=params, theory=info is None, report=report)
    if info is None:
        return result
    for r in info["rows"]:
        row = result.rows[r["layer"]]
        for k in ("lsuv_iterations", "lsuv_gain", "transferred", "frozen"):
            if k in r:
                row[k] = r[k]
    return replace(result, initializer=info["label"], datainit=info)


# --- initlab train -------------------------------------------------------------------------------

def train_parameters(cfg, ds, seed: int | None = None) -> tuple[StoredParameters, dict | None]:
    """A training config's starting parameters (drawn, then LSUV / transfer, then pretraining);
    ``seed`` replaces the weight streams' seed (the lottery's re-initialization control)."""
    from initlab.runs import train as R

    params = StoredParameters.draw(R.drawn_parameters(cfg, ds, seed))
    act = R.components_of(cfg)[0]
    depth = len(cfg.network.widths)

    def batch_of(n):
        rows = ds.n_train if n >= ds.n_train else n
        idx = np.sort(stream(cfg.seed, LSUV_BATCH).choice(ds.n_train, size=rows, replace=False))
        return ds.x_train[idx]

    info = _apply_spec(cfg, params, act, depth, batch_of)
    pre = cfg.pretrain
    if pre.method != "none":
        o = cfg.train.optimizer
        from initlab.training import optimizers

        hist = P.pretrain(params, act, ds.x_train, ds.x_test, epochs=pre.epochs, lr=pre.lr, noise=pre.noise,
                          tied=pre.tied, batch=cfg.train.batch,
                          make_optimizer=lambda lr: optimizers.get(o.name, **{**o.kwargs, "lr": lr}),
                          seed=cfg.seed)
        info = dict(info or {"kind": "pretrain", "label": cfg.network.initializer.label(), "rows": []})
        info["pretrain"] = hist
        info["label"] = f"{info['label']} + autoencoder pretraining"
    return params, info


def train(cfg, *, save_weights: bool = False, callbacks=None, ds=None):
    """``initlab train`` with the data-dependent initialization resolved first."""
    from initlab.runs import train as R
    from initlab.training import loop as L

    ds = ds if ds is not None else R.load_data(cfg)
    params, info = train_parameters(cfg, ds)
    return R.run(cfg, save_weights=save_weights, callbacks=callbacks or L.Callbacks(), ds=ds, params=params,
                 datainit=info, label=None if info is None else info["label"])
