"""Greedy layerwise pretraining: each hidden layer an autoencoder on the previous layer's codes
(Bengio, Lamblin, Popovici & Larochelle 2007, "Greedy layer-wise training of deep networks";
Hinton & Salakhutdinov 2006 for the stack; denoising: Vincent, Larochelle, Bengio & Manzagol
2008), trained through the training room's model, loop and optimizers.

For l = 1..L: the codes ``c = h_{l-1}`` of the whole training set (the engine's forward pass
through the already pretrained layers 1..l-1, which stay fixed while layer l trains), and the
autoencoder::

    y = phi(c~ W_l + b_l)        encoder: the network's own layer l (trained in place)
    c^ = y V + d                 decoder, linear: V = W_l^T (tied) or its own V (untied, starts at W_l^T)
    loss = |c^ - c|^2 / (2 B)    half squared error, the batch mean (initlab's mse)

where ``c~`` is ``c`` with a fraction ``noise`` of its entries zeroed (masking corruption, a
fresh mask each epoch; 0: a plain autoencoder). Tied: dL/dW = (encoder part) + (decoder
part)^T, one array stepped. Each layer gets ``epochs`` passes of the training set, in
minibatches of the training batch, with the training optimizer at rate ``lr``, batches from
the pretraining stream. The readout is not pretrained. Fine-tuning (the ordinary training run
that follows) updates the whole stack.

The history: per layer and epoch the reconstruction loss on the training and test codes
(clean inputs), before the first epoch (epoch 0) and after each.
"""

from __future__ import annotations

import numpy as np

from initlab.engine import network
from initlab.engine.parameters import StoredParameters, stream
from initlab.training import loop as L
from initlab.training import losses
from initlab.training.model import Model

PRETRAIN = 9  # the stream purpose of the corruption masks and the batch seeds (initlab.datainit)
COLUMNS = ("layer", "epoch", "train_recon", "test_recon")


class _TiedAutoencoder(Model):
    """The decoder's weight is the encoder's transpose: ``arrays()`` is ``[W, b, d]`` and the
    gradient of W sums the encoder's and the (transposed) decoder's."""

    def _tie(self):
        self.params.weights[1] = self.params.weights[0].T

    def arrays(self):
        p = self.params
        return [p.weights[0], p.biases[0], p.biases[1]]

    def masks(self):
        return [self.params.masks[0], None, None]

    def logits(self, x, observer=network.Observer()):
        self._tie()
        return super().logits(x, observer)

    def gradients(self, x, targets, loss, rng=None, observer=network.Observer()):
        self._tie()
        value, acc, g = super().gradients(x, targets, loss, rng, observer)
        return value, acc, [g[0] + g[2].T, g[1], g[3]]


def _codes(params: StoredParameters, act, layer: int, x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """h_layer for every row of ``x`` (layers 1..layer of ``params``), in chunks."""
    if layer == 0:
        return x
    return np.concatenate([network.forward(x[i:i + chunk], params, act, layer)[0]
                           for i in range(0, x.shape[0], chunk)])


def pretrain(params: StoredParameters, act, x_train: np.ndarray, x_test: np.ndarray, *, epochs: int, lr: float,
             noise: float, tied: bool, batch: int | None, make_optimizer, seed: int) -> list[dict]:
    """Pretrain hidden layers 1..L of ``params`` (L + 1 is the readout) in place; frozen layers
    are skipped (they still feed the next layer). ``make_optimizer(lr)`` builds a fresh optimizer
    per layer. Returns the history rows (:data:`COLUMNS`)."""
    depth = params.layers - 1
    mse = losses.get("mse")
    rows: list[dict] = []
    dt = params.weights[0].dtype
    for l in range(1, depth + 1):
        if l in params.frozen:
            continue
        c_tr = _codes(params, act, l - 1, x_train)
        c_te = _codes(params, act, l - 1, x_test)
        w = params.weights[l - 1]
        b = params.biases[l - 1]
        if not isinstance(b, np.ndarray):
            b = params.biases[l - 1] = np.full(w.shape[1], b, dtype=dt)
        d = np.zeros(w.shape[0], dtype=dt)
        ae_params = StoredParameters([w, w.T if tied else w.T.copy()], [b, d],
                                     masks=[params.masks[l - 1], None])
        ae = (_TiedAutoencoder if tied else Model)(ae_params, act)
        opt = make_optimizer(lr)
        rng = stream(seed, PRETRAIN, l)
        rows.append({"layer": l, "epoch": 0, "train_recon": L.evaluate(ae, mse, c_tr, c_tr)[0],
                     "test_recon": L.evaluate(ae, mse, c_te, c_te)[0]})
        for e in range(1, epochs + 1):
            inputs = c_tr
            if noise > 0:
                inputs = c_tr * (rng.random(c_tr.shape) >= noise).astype(dt)
            n = c_tr.shape[0]
            per_epoch = 1 if batch is None or batch >= n else n // batch
            settings = L.Settings(steps=per_epoch, batch=batch, eval_every=10**9, stats_every=0,
                                  seed=int(rng.integers(2**31)))
            _train_epoch(ae, opt, lr, mse, inputs, c_tr, settings)
            rows.append({"layer": l, "epoch": e, "train_recon": L.evaluate(ae, mse, c_tr, c_tr)[0],
                         "test_recon": L.evaluate(ae, mse, c_te, c_te)[0]})
        params.weights[l - 1] = ae_params.weights[0]  # the same array, trained in place
    return rows


class _NoEval(L.Callbacks):
    pass


def _train_epoch(model, opt, lr, loss, inputs, targets, settings) -> None:
    """One epoch of the loop: inputs (maybe corrupted) -> targets (the clean codes). The loop's
    evaluations (step 0 and the last) are over these same arrays; the caller records its own."""
    L.train(model, opt, lambda t: lr, loss, inputs, targets, inputs[:1], targets[:1], settings,
            stats=None, callbacks=_NoEval())
