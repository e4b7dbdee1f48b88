"""The trainable network (initlab.training.model) on the engine's passes: gradients of every
layer type against central finite differences (float64, tol 1e-6) and against torch autograd on
the same weights (1e-10)."""

import numpy as np
import pytest

from initlab.engine import activations, initializers
from initlab.engine.parameters import DrawnParameters, StoredParameters
from initlab.training import losses
from initlab.training.model import Model

TOL = 1e-6  # central differences in float64, eps 1e-6: truncation ~eps^2, rounding ~1e-16/eps


def make_model(act="tanh", norm="none", dropout=0.0, widths=(5, 7, 6, 3), seed=0):
    drawn = DrawnParameters(widths, initializers.get("xavier_normal"), initializers.get("normal", std=0.1),
                            seed, np.dtype(np.float64))
    model = Model(StoredParameters.draw(drawn), activations.get(act), norm=norm, dropout=dropout)
    rng = np.random.default_rng(seed + 1)
    for g, b in zip(model.gamma, model.beta):  # non-trivial affine parameters
        g[:] = rng.uniform(0.5, 1.5, g.shape)
        b[:] = rng.normal(0, 0.1, b.shape)
    return model


def batch(loss_name, n=8, dim=5, out=3, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    if loss_name == "softmax_ce":
        y = rng.integers(0, out, n)
    elif loss_name == "bce":
        y = rng.integers(0, 2, n)
    else:
        y = rng.standard_normal((n, out))
    return x, y


def numeric_grads(model, x, y, loss, seed):
    grads = []
    for a in model.arrays():
        g = np.empty_like(a)
        for i in np.ndindex(a.shape):
            old = a[i]
            a[i] = old + 1e-6
            up = model.gradients(x, y, loss, np.random.default_rng(seed))[0]
            a[i] = old - 1e-6
            down = model.gradients(x, y, loss, np.random.default_rng(seed))[0]
            a[i] = old
            g[i] = (up - down) / 2e-6
        grads.append(g)
    return grads


def check_close(analytic, numeric):
    for a, n in zip(analytic, numeric):
        assert np.max(np.abs(a - n)) <= TOL * max(1.0, np.max(np.abs(n))), (a, n)


@pytest.mark.parametrize("act", sorted(set(activations.ACTIVATIONS) - set(activations.ALIASES)))
def test_gradients_match_finite_differences_for_every_activation(act):
    loss = losses.get("softmax_ce")
    model = make_model(act)
    x, y = batch("softmax_ce")
    _, _, grads = model.gradients(x, y, loss)
    check_close(grads, numeric_grads(model, x, y, loss, 0))


@pytest.mark.parametrize("norm", ["batch", "layer"])
@pytest.mark.parametrize("loss_name", ["softmax_ce", "bce", "mse"])
def test_gradients_match_finite_differences_with_norms_dropout_and_every_loss(norm, loss_name):
    loss = losses.get(loss_name)
    model = make_model("tanh", norm=norm, dropout=0.3, widths=(5, 7, 6, 1 if loss_name == "bce" else 3))
    x, y = batch(loss_name, out=1 if loss_name == "bce" else 3)
    _, _, grads = model.gradients(x, y, loss, np.random.default_rng(11))
    check_close(grads, numeric_grads(model, x, y, loss, 11))


def test_masked_and_frozen_layers_are_left_out():
    model = make_model("relu")
    model.params.set_mask(1, (np.arange(35).reshape(5, 7) % 3 != 0))
    assert np.all(model.params.weights[0][::1][np.arange(35).reshape(5, 7) % 3 == 0] == 0)
    model.params.frozen = frozenset({2})
    assert len(model.arrays()) == 4  # W1, b1, W_out, b_out
    x, y = batch("softmax_ce")
    _, _, grads = model.gradients(x, y, losses.get("softmax_ce"))
    assert [g.shape for g in grads] == [a.shape for a in model.arrays()]


def test_eval_mode_uses_running_statistics_and_no_dropout():
    model = make_model("relu", norm="batch", dropout=0.5)
    x, y = batch("softmax_ce")
    a = model.logits(x)
    b = model.logits(x)
    np.testing.assert_array_equal(a, b)  # no dropout draw, running stats untouched in eval
    model.gradients(x, y, losses.get("softmax_ce"), np.random.default_rng(0))  # updates running stats
    assert not np.array_equal(model.logits(x), a)




@pytest.mark.parametrize("norm", ["none", "batch", "layer"])
@pytest.mark.parametrize("act", ["relu", "tanh", "gelu", "sigmoid"])
def test_gradients_match_torch_autograd(norm, act):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    model = make_model(act, norm=norm, dropout=0.25)
    x, y = batch("softmax_ce")
    rng_seed = 5
    value, _, grads = model.gradients(x, y, losses.get("softmax_ce"), np.random.default_rng(rng_seed))
    # the same dropout masks: replay the draws in the same order
    rng = np.random.default_rng(rng_seed)
    masks = []
    for n in model.params.widths[1:-1]:
        masks.append((rng.random((x.shape[0], n)) >= 0.25) / 0.75)
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in model.arrays()]
    h = torch.tensor(x)
    k = 0
    tact = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
            "gelu": lambda t: F.gelu(t)}[act]
    for l in range(model.depth):
        w, b = ts[k], ts[k + 1]
        k += 2
        z = h @ w + b
        if norm == "batch":
            z = F.batch_norm(z, None, None, ts[k], ts[k + 1], training=True, eps=1e-5)
            k += 2
        elif norm == "layer":
            z = F.layer_norm(z, (z.shape[1],), ts[k], ts[k + 1], eps=1e-5)
            k += 2
        h = tact(z) * torch.tensor(masks[l])
    logits = h @ ts[k] + ts[k + 1]
    tl = F.cross_entropy(logits, torch.tensor(y))
    tl.backward()
    assert value == pytest.approx(tl.item(), rel=1e-12)
    for a, t in zip(grads, ts):
        np.testing.assert_allclose(a, t.grad.numpy(), rtol=1e-10, atol=1e-12)
