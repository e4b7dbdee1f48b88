"""Training maths (initlab.training): losses, optimizers, clipping, schedules, norms, dropout.

Two independent oracles:

* central finite differences in float64: step ``H = 1e-6``; a gradient passes when
  ``max |analytic - fd| <= FD_TOL * max |fd|`` with ``FD_TOL = 1e-6`` (relative to the
  gradient's scale: truncation O(H^2) ~ 1e-12 plus rounding O(1e-16 / H) ~ 1e-10 of an O(1)
  objective, far below it);
* PyTorch (float64, skipped when torch is not installed): values, autograd gradients,
  ``torch.optim`` steps, ``torch.nn.utils`` clipping and ``torch.optim.lr_scheduler`` rates,
  to ``rtol = TORCH_RTOL = 1e-12`` with ``atol = TORCH_RTOL * scale`` (the array's largest
  magnitude, so entries near 0 are judged on the array's scale).
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from initlab.errors import ConfigError
from initlab.training import clipping, layers, losses, optimizers, schedules

H = 1e-6
FD_TOL = 1e-6
TORCH_RTOL = 1e-12


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def close(actual, expected, rtol=TORCH_RTOL):
    """``actual`` equals ``expected`` to ``rtol``, entries judged on the array's scale."""
    expected = np.asarray(expected, dtype=np.float64)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected,
                               rtol=rtol, atol=rtol * scale)


def fd_gradient(f, arr: np.ndarray) -> np.ndarray:
    """Central differences of the scalar ``f()`` w.r.t. every entry of ``arr`` (perturbed in
    place and restored)."""
    grad = np.empty_like(arr)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + H
        up = f()
        arr[idx] = old - H
        down = f()
        arr[idx] = old
        grad[idx] = (up - down) / (2 * H)
    return grad


def fd_close(analytic, fd):
    err = float(np.max(np.abs(analytic - fd)))
    assert err <= FD_TOL * float(np.max(np.abs(fd))), (err, float(np.max(np.abs(fd))))



def fd_close_each(grads, objective, *arrays):
    """Each analytic gradient beside the central difference of ``objective`` in its array."""
    for g, a in zip(grads, arrays, strict=True):
        fd_close(g, fd_gradient(objective, a))

def t64(torch, a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


# --- losses ------------------------------------------------------------------------------------

def loss_case(name, batch=6, k=4, seed=0):
    rng = np.random.default_rng(seed)
    k = 1 if name == "bce" else k
    logits = rng.standard_normal((batch, k)) * 2
    if name == "softmax_ce":
        targets = rng.integers(0, k, size=batch)
    elif name == "bce":
        targets = rng.integers(0, 2, size=batch)
    else:
        targets = rng.standard_normal((batch, k))
    return logits, targets


@pytest.mark.parametrize("name", list(losses.LOSSES))
def test_loss_gradient_matches_finite_differences(name):
    loss = losses.get(name)
    logits, targets = loss_case(name)
    _, grad = loss(logits, targets)
    fd_close(grad, fd_gradient(lambda: loss(logits, targets)[0], logits))


def torch_loss(torch, name, x, targets):
    F = torch.nn.functional
    if name == "softmax_ce":
        return F.cross_entropy(x, torch.tensor(targets))
    if name == "bce":
        return F.binary_cross_entropy_with_logits(x, t64(torch, targets).reshape(x.shape))
    # ours is sum / (2 batch); torch's MSELoss() (mean over all entries) would be 2 L / k
    return F.mse_loss(x, t64(torch, targets), reduction="sum") / (2 * x.shape[0])


@pytest.mark.parametrize("name", list(losses.LOSSES))
def test_loss_matches_torch(torch, name):
    for seed, scale in ((1, 1.0), (2, 30.0)):  # ordinary and large logits
        logits, targets = loss_case(name, batch=9, seed=seed)
        logits *= scale
        value, grad = losses.get(name)(logits, targets)
        x = t64(torch, logits, grad=True)
        ref = torch_loss(torch, name, x, targets)
        ref.backward()
        close(value, ref.item())
        close(grad, x.grad.numpy())


def test_mse_is_half_the_torch_mean_times_outputs(torch):
    logits, targets = loss_case("mse", batch=5, k=3)
    value, _ = losses.mse(logits, targets)
    torch_mean = torch.nn.MSELoss()(t64(torch, logits), t64(torch, targets)).item()
    close(value, torch_mean * 3 / 2)


def test_bce_sigmoid_keeps_relative_accuracy_for_very_negative_logits():
    for x in (-40.0, -300.0, -700.0):
        _, grad = losses.bce(np.array([[x]]), np.array([0]))
        exact = math.exp(x) / (1 + math.exp(x))  # (1 + tanh(x/2)) / 2 would give 0 here
        assert grad[0, 0] > 0
        assert abs(grad[0, 0] - exact) <= 1e-14 * exact


@pytest.mark.parametrize("name", list(losses.LOSSES))
def test_losses_finite_for_extreme_logits_and_keep_dtype(name):
    logits, targets = loss_case(name, batch=4)
    logits = logits * 1e4  # exp would overflow without the shifts
    for dtype in (np.float32, np.float64):
        value, grad = losses.get(name)(logits.astype(dtype), targets)
        assert math.isfinite(value) and np.isfinite(grad).all()
        assert grad.dtype == dtype and grad.shape == logits.shape


def test_accuracy():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 5.0], [1.0, 0.0, 0.0]])
    assert losses.get("softmax_ce").accuracy(logits, np.array([0, 1, 0, 2])) == 0.5
    assert losses.get("bce").accuracy(np.array([[2.0], [-1.0], [0.5]]), np.array([1, 1, 0])) \
        == pytest.approx(1 / 3)
    assert losses.get("mse").accuracy is None


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match="labels"):
        losses.softmax_ce(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="labels"):
        losses.softmax_ce(np.zeros((2, 3)), np.array([0, -1]))
    with pytest.raises(ValueError, match="one output"):
        losses.bce(np.zeros((2, 2)), np.array([0, 1]))


# --- layers: finite differences ----------------------------------------------------------------

def layer_case(seed=3, batch=6, n=4):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, n)) * 1.5 + 0.3
    gamma = rng.uniform(0.5, 2.0, n)
    beta = rng.standard_normal(n)
    upstream = rng.standard_normal((batch, n))
    return x, gamma, beta, upstream


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradients_match_finite_differences(training):
    x, gamma, beta, G = layer_case()
    rm, rv = np.array([0.1, -0.2, 0.3, 0.0]), np.array([0.5, 1.5, 2.0, 0.8])

    def objective():  # running statistics: fresh copies, so each call sees the same ones
        y, _ = layers.batch_norm_forward(x, gamma, beta, rm.copy(), rv.copy(), training)
        return float(np.sum(y * G))

    _, cache = layers.batch_norm_forward(x, gamma, beta, rm.copy(), rv.copy(), training)
    fd_close_each(layers.batch_norm_backward(cache, G), objective, x, gamma, beta)


def test_layer_norm_gradients_match_finite_differences():
    x, gamma, beta, G = layer_case(seed=4)

    def objective():
        return float(np.sum(layers.layer_norm_forward(x, gamma, beta)[0] * G))

    _, cache = layers.layer_norm_forward(x, gamma, beta)
    fd_close_each(layers.layer_norm_backward(cache, G), objective, x, gamma, beta)


def test_dropout_gradient_matches_finite_differences_with_fixed_mask():
    x, _, _, G = layer_case(seed=5)
    _, cache = layers.dropout_forward(x, 0.4, np.random.default_rng(0))

    def objective():
        return float(np.sum(layers.dropout_with_mask(x, cache.mask)[0] * G))

    fd_close(layers.dropout_backward(cache, G), fd_gradient(objective, x))


# --- layers: against torch ---------------------------------------------------------------------

def test_batch_norm_matches_torch_train_and_eval(torch):
    F = torch.nn.functional
    rm, rv = np.zeros(4), np.ones(4)
    rm_t, rv_t = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    for seed in range(3):  # three training batches: running statistics accumulate
        x, gamma, beta, G = layer_case(seed=seed, batch=7)
        y, cache = layers.batch_norm_forward(x, gamma, beta, rm, rv, training=True)
        dx, dgamma, dbeta = layers.batch_norm_backward(cache, G)
        xt, gt, bt = t64(torch, x, True), t64(torch, gamma, True), t64(torch, beta, True)
        yt = F.batch_norm(xt, rm_t, rv_t, gt, bt, training=True, momentum=0.1, eps=1e-5)
        (yt * t64(torch, G)).sum().backward()
        close(y, yt.detach().numpy())
        close(dx, xt.grad.numpy())
        close(dgamma, gt.grad.numpy())
        close(dbeta, bt.grad.numpy())
        close(rm, rm_t.numpy())
        close(rv, rv_t.numpy())  # updated with the unbiased variance
    x, gamma, beta, G = layer_case(seed=9, batch=5)
    y, cache = layers.batch_norm_forward(x, gamma, beta, rm, rv, training=False)
    dx, dgamma, dbeta = layers.batch_norm_backward(cache, G)
    xt, gt, bt = t64(torch, x, True), t64(torch, gamma, True), t64(torch, beta, True)
    before = rm_t.clone()
    yt = F.batch_norm(xt, rm_t, rv_t, gt, bt, training=False, momentum=0.1, eps=1e-5)
    (yt * t64(torch, G)).sum().backward()
    assert torch.equal(before, rm_t)
    close(y, yt.detach().numpy())
    close(dx, xt.grad.numpy())
    close(dgamma, gt.grad.numpy())
    close(dbeta, bt.grad.numpy())


def test_batch_norm_module_running_var_is_unbiased(torch):
    x, _, _, _ = layer_case(seed=11, batch=4)
    bn = torch.nn.BatchNorm1d(4, dtype=torch.float64)
    bn.train()(t64(torch, x))
    rm, rv = np.zeros(4), np.ones(4)
    layers.batch_norm_forward(x, np.ones(4), np.zeros(4), rm, rv)
    close(rv, bn.running_var.numpy())
    close(rv, 0.9 + 0.1 * x.var(axis=0, ddof=1))
    close(rm, bn.running_mean.numpy())


def test_layer_norm_matches_torch(torch):
    x, gamma, beta, G = layer_case(seed=6, batch=5, n=7)
    y, cache = layers.layer_norm_forward(x, gamma, beta)
    dx, dgamma, dbeta = layers.layer_norm_backward(cache, G)
    xt, gt, bt = t64(torch, x, True), t64(torch, gamma, True), t64(torch, beta, True)
    yt = torch.nn.functional.layer_norm(xt, (7,), gt, bt, eps=1e-5)
    (yt * t64(torch, G)).sum().backward()
    close(y, yt.detach().numpy())
    close(dx, xt.grad.numpy())
    close(dgamma, gt.grad.numpy())
    close(dbeta, bt.grad.numpy())


def test_dropout_matches_torch_with_the_same_mask(torch):
    x, _, _, G = layer_case(seed=7)
    p = 0.3
    y, cache = layers.dropout_forward(x, p, np.random.default_rng(1))
    keep = cache.mask != 0
    xt = t64(torch, x, True)
    yt = xt * torch.tensor(keep, dtype=torch.float64) / (1 - p)  # torch's formula, our mask
    (yt * t64(torch, G)).sum().backward()
    close(y, yt.detach().numpy())
    close(layers.dropout_backward(cache, G), xt.grad.numpy())


def test_dropout_mask_identity_and_rate():
    x = np.ones((400, 50))
    rng = np.random.default_rng(2)
    state = rng.bit_generator.state
    y, cache = layers.dropout_forward(x, 0.0, rng)
    assert y is x and cache.mask is None and rng.bit_generator.state == state  # no draw
    assert layers.dropout_forward(x, 0.5, None, training=False)[0] is x
    y, cache = layers.dropout_forward(x, 0.25, rng)
    assert set(np.unique(y)) == {0.0, 1 / 0.75}
    # kept fraction ~ Binomial(20000, 0.75)/20000: sd 0.003; 0.015 is five sd
    assert abs(np.mean(y != 0) - 0.75) < 0.015
    assert not layers.dropout_forward(x, 1.0, rng)[0].any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_keep_dtype(dtype):
    x, gamma, beta, G = (a.astype(dtype) for a in layer_case())
    rm, rv = np.zeros(4, dtype), np.ones(4, dtype)
    for training in (True, False):
        y, c = layers.batch_norm_forward(x, gamma, beta, rm, rv, training)
        assert y.dtype == dtype and all(g.dtype == dtype for g in layers.batch_norm_backward(c, G))
    y, c = layers.layer_norm_forward(x, gamma, beta)
    assert y.dtype == dtype and all(g.dtype == dtype for g in layers.layer_norm_backward(c, G))
    y, c = layers.dropout_forward(x, 0.5, np.random.default_rng(0))
    assert y.dtype == dtype and layers.dropout_backward(c, G).dtype == dtype
    assert rm.dtype == dtype and rv.dtype == dtype


# --- optimizers --------------------------------------------------------------------------------

SHAPES = [(3, 4), (4,), (2, 3, 5)]
OPT_CASES = [
    ("sgd", {"lr": 0.1}),
    ("sgd", {"lr": 0.1, "momentum": 0.9}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("sgd", {"lr": 0.1, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.05}),
    ("sgd", {"lr": 0.1, "weight_decay": 0.1}),
    ("adam", {"lr": 0.01}),
    ("adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("adamw", {"lr": 0.01}),
    ("adamw", {"lr": 0.02, "weight_decay": 0.3, "betas": (0.5, 0.9)}),
]
TORCH_OPT = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}


def param_and_grad_sequence(seed=0, steps=7):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) * (1 + t) for s in SHAPES] for t in range(steps)]
    return params, grads


def lr_at(base, t):  # a varying per-step rate, as a schedule would pass
    return base * (1.0 - 0.1 * t)


def run_torch(torch, name, kw, params, grads, masks=None):
    tp = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    opt = getattr(torch.optim, TORCH_OPT[name])(tp, **kw)
    for t, gs in enumerate(grads):
        opt.param_groups[0]["lr"] = lr_at(kw["lr"], t)
        for p, g, m in zip(tp, gs, masks or [None] * len(gs)):
            p.grad = torch.tensor(g if m is None else g * m, dtype=torch.float64)
        opt.step()
    return [p.detach().numpy() for p in tp]


@pytest.mark.parametrize("name,kw", OPT_CASES)
def test_optimizer_matches_torch(torch, name, kw):
    params, grads = param_and_grad_sequence()
    expected = run_torch(torch, name, kw, [p.copy() for p in params], grads)
    opt = optimizers.get(name, **kw)
    for t, gs in enumerate(grads):
        opt.step(params, gs, lr=lr_at(kw["lr"], t))
    for p, e in zip(params, expected):
        close(p, e)


def masks_for(seed=5):
    rng = np.random.default_rng(seed)
    return [(rng.random(s) < 0.6).astype(np.float64) for s in SHAPES]


@pytest.mark.parametrize("name,kw", OPT_CASES)
def test_masks_keep_pruned_entries_exactly_zero(name, kw):
    params, grads = param_and_grad_sequence(seed=1)
    masks = masks_for()
    opt = optimizers.get(name, **kw)
    for gs in grads:
        opt.step(params, gs, masks=masks)
        for p, m in zip(params, masks):
            assert np.all(p[m == 0] == 0.0) and np.all(p[m == 1] != 0.0)
    state = opt.buffers if name == "sgd" else opt.exp_avg
    for s, m in zip(state or [], masks):
        assert np.all(s[m == 0] == 0.0)


@pytest.mark.parametrize("name,kw", OPT_CASES)
def test_masked_optimizer_matches_torch_on_masked_gradients(torch, name, kw):
    params, grads = param_and_grad_sequence(seed=2)
    masks = masks_for()
    expected = run_torch(torch, name, kw, [p * m for p, m in zip(params, masks)], grads, masks)
    opt = optimizers.get(name, **kw)
    for t, gs in enumerate(grads):
        opt.step(params, gs, lr=lr_at(kw["lr"], t), masks=masks)
    for p, e in zip(params, expected):
        close(p, e)


def state_arrays(opt):
    if isinstance(opt, optimizers.SGD):
        return opt.buffers or []
    return opt.exp_avg + opt.exp_avg_sq


@pytest.mark.parametrize("name,kw", OPT_CASES)
def test_optimizer_pickles_mid_training(name, kw):
    params, grads = param_and_grad_sequence(seed=3, steps=6)
    opt = optimizers.get(name, **kw)
    for gs in grads[:3]:
        opt.step(params, gs)
    opt2 = pickle.loads(pickle.dumps(opt))
    params2 = [p.copy() for p in params]
    for gs in grads[3:]:
        opt.step(params, gs)
        opt2.step(params2, gs)
    for p, p2 in zip(params, params2):
        np.testing.assert_array_equal(p, p2)
    assert opt.steps == opt2.steps == 6
    for a, b in zip(state_arrays(opt), state_arrays(opt2)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(optimizers.OPTIMIZERS))
def test_optimizer_float32_stays_float32(name):
    params = [np.ones((3, 2), np.float32)]
    opt = optimizers.get(name, lr=0.1, **({"momentum": 0.9} if name == "sgd" else {}))
    for _ in range(2):
        opt.step(params, [np.full((3, 2), 0.5)])
    assert params[0].dtype == np.float32
    state = opt.buffers if name == "sgd" else opt.exp_avg
    assert state[0].dtype == np.float32


def test_optimizer_refuses_changed_parameter_list():
    opt = optimizers.SGD(0.1, momentum=0.9)
    opt.step([np.zeros(3)], [np.ones(3)])
    with pytest.raises(ValueError):
        opt.step([np.zeros(3), np.zeros(2)], [np.ones(3), np.ones(2)])
    with pytest.raises(ValueError):
        opt.step([np.zeros(4)], [np.ones(4)])


def test_describe_lists_every_optimizer():
    rows = optimizers.describe()
    assert [r["name"] for r in rows] == list(optimizers.OPTIMIZERS)
    for r in rows:
        assert r["source"] and r["formula"] and "lr" in r["parameters"]
        assert "steps" not in r["parameters"]
    assert rows[0]["parameters"]["momentum"] == 0.0


# --- clipping ----------------------------------------------------------------------------------

def grad_set(scale, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) * scale for s in SHAPES]


def torch_clip_norm(torch, grads, max_norm):
    ps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = torch.tensor(g, dtype=torch.float64)
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    return total.item(), [p.grad.numpy() for p in ps]


@pytest.mark.parametrize("scale,clips", [(5.0, True), (0.01, False)])
def test_clip_grad_norm_matches_torch(torch, scale, clips):
    grads = grad_set(scale)
    total_t, expected = torch_clip_norm(torch, [g.copy() for g in grads], 1.0)
    res = clipping.clip_grad_norm(grads, 1.0)
    assert res.clipped is clips and res.finite
    close(res.norm, total_t)
    for g, e in zip(grads, expected):
        close(g, e)
    if clips:
        close(clipping.global_norm(grads), 1.0 * total_t / (total_t + 1e-6))


def test_clip_grad_norm_at_exactly_max_norm_follows_torch(torch):
    grads = grad_set(1.0, seed=4)
    max_norm = clipping.global_norm(grads)  # total == max_norm: torch scales by max/(max+1e-6)
    _, expected = torch_clip_norm(torch, [g.copy() for g in grads], max_norm)
    res = clipping.clip_grad_norm(grads, max_norm)
    assert res.clipped and res.scale < 1
    for g, e in zip(grads, expected):
        close(g, e)


def test_clip_grad_norm_reports_nonfinite_and_leaves_gradients():
    for bad in (np.nan, np.inf):
        grads = grad_set(1.0)
        grads[1][2] = bad
        before = [g.copy() for g in grads]
        res = clipping.clip_grad_norm(grads, 1.0)
        assert not res.finite and not res.clipped and not math.isfinite(res.norm)
        for g, b in zip(grads, before):
            np.testing.assert_array_equal(g, b)


def test_global_norm_survives_overflowing_squares():
    grads = [np.full(4, 1e200), np.full(9, 1e200)]
    res = clipping.clip_grad_norm(grads, 1.0)
    assert res.finite and res.norm == pytest.approx(math.sqrt(13) * 1e200, rel=1e-14)
    assert clipping.global_norm(grads) == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_value_matches_torch(torch):
    grads = grad_set(2.0, seed=6)
    ps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = torch.tensor(g, dtype=torch.float64)
    torch.nn.utils.clip_grad_value_(ps, 1.5)
    n_changed = sum(int(np.sum(np.abs(g) > 1.5)) for g in grads)
    assert clipping.clip_grad_value(grads, 1.5) == n_changed > 0
    for g, p in zip(grads, ps):
        np.testing.assert_array_equal(g, p.grad.numpy())


# --- schedules ---------------------------------------------------------------------------------

def torch_rates(torch, make, base, steps):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)
    sched = make(opt)
    rates = []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(rates)


@pytest.mark.parametrize("case", ["cosine", "cosine_past_end", "step", "constant"])
def test_schedules_match_torch(torch, case):
    S = torch.optim.lr_scheduler
    base = 0.1
    if case.startswith("cosine"):
        ours = schedules.get("cosine", base, total_steps=50, eta_min=1e-3)
        steps = 50 if case == "cosine" else 130  # past T_max both follow the cosine back up
        ref = torch_rates(torch, lambda o: S.CosineAnnealingLR(o, T_max=50, eta_min=1e-3),
                          base, steps)
    elif case == "step":
        ours, steps = schedules.get("step", base, step_size=7, gamma=0.5), 50
        ref = torch_rates(torch, lambda o: S.StepLR(o, step_size=7, gamma=0.5), base, steps)
    else:
        ours, steps = schedules.get("constant", base), 50
        ref = np.full(steps, base)
    close([ours(t) for t in range(steps)], ref)


def test_cosine_endpoints_and_pickle():
    s = schedules.get("cosine", 0.2, total_steps=10)
    assert s(0) == 0.2 and s(10) == 0.0 and s(5) == pytest.approx(0.1, rel=1e-15)
    assert pickle.loads(pickle.dumps(s)) == s


# --- validation and registries -----------------------------------------------------------------

BAD = [
    (lambda: optimizers.SGD(0.0), "train.optimizer.lr"),
    (lambda: optimizers.SGD(float("nan")), "train.optimizer.lr"),
    (lambda: optimizers.SGD(float("inf")), "train.optimizer.lr"),
    (lambda: optimizers.SGD("0.1"), "train.optimizer.lr"),
    (lambda: optimizers.SGD(0.1, momentum=1.0), "train.optimizer.momentum"),
    (lambda: optimizers.SGD(0.1, momentum=-0.1), "train.optimizer.momentum"),
    (lambda: optimizers.SGD(0.1, nesterov=True), "train.optimizer.nesterov"),
    (lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True, dampening=0.1),
     "train.optimizer.nesterov"),
    (lambda: optimizers.SGD(0.1, weight_decay=-1), "train.optimizer.weight_decay"),
    (lambda: optimizers.SGD(0.1, dampening=1.5), "train.optimizer.dampening"),
    (lambda: optimizers.Adam(-1e-3), "train.optimizer.lr"),
    (lambda: optimizers.Adam(betas=(0.9, 1.0)), "train.optimizer.betas"),
    (lambda: optimizers.Adam(betas=(-0.1, 0.9)), "train.optimizer.betas"),
    (lambda: optimizers.Adam(betas=0.9), "train.optimizer.betas"),
    (lambda: optimizers.AdamW(eps=0.0), "train.optimizer.eps"),
    (lambda: optimizers.SGD(0.1).step([np.zeros(2)], [np.ones(2)], lr=-0.1),
     "train.optimizer.lr"),
    (lambda: optimizers.get("adamm"), "train.optimizer.name"),
    (lambda: optimizers.get("sgd", lr=0.1, momentun=0.9), "train.optimizer.momentun"),
    (lambda: optimizers.get("sgd"), "train.optimizer.lr"),
    (lambda: losses.get("softmax"), "train.loss"),
    (lambda: schedules.get("cosin", 0.1), "train.lr_schedule"),
    (lambda: schedules.get("cosine", 0.1), "train.lr_schedule.total_steps"),
    (lambda: schedules.get("cosine", 0.1, total_steps=0), "train.lr_schedule.total_steps"),
    (lambda: schedules.get("cosine", 0.1, total_steps=10.5), "train.lr_schedule.total_steps"),
    (lambda: schedules.get("cosine", 0.1, total_steps=10, eta_min=-1),
     "train.lr_schedule.eta_min"),
    (lambda: schedules.get("step", 0.1, step_size=5, gamma=0), "train.lr_schedule.gamma"),
    (lambda: schedules.get("step", 0.1, step_size=5, decay=0.5), "train.lr_schedule.decay"),
    (lambda: schedules.get("constant", 0.0), "train.optimizer.lr"),
    (lambda: clipping.clip_grad_norm([np.ones(2)], 0.0), "train.clip.max_norm"),
    (lambda: clipping.clip_grad_value([np.ones(2)], float("nan")), "train.clip.value"),
    (lambda: layers.dropout_forward(np.ones(2), 1.5, np.random.default_rng()), "dropout.p"),
    (lambda: layers.batch_norm_forward(np.ones((2, 2)), None, None, momentum=2.0),
     "batch_norm.momentum"),
    (lambda: layers.batch_norm_forward(np.ones((2, 2)), None, None, eps=0.0), "batch_norm.eps"),
    (lambda: layers.layer_norm_forward(np.ones((2, 2)), None, None, eps=-1.0), "layer_norm.eps"),
]


@pytest.mark.parametrize("call,field", BAD, ids=[f"{i}-{f}" for i, (_, f) in enumerate(BAD)])
def test_bad_input_raises_config_error_at_field(call, field):
    with pytest.raises(ConfigError) as info:
        call()
    assert info.value.field == field


@pytest.mark.parametrize("call,valid,close_match", [
    (lambda: losses.get("softmax"), "bce, mse, softmax_ce", "softmax_ce"),
    (lambda: optimizers.get("adamm"), "adam, adamw, sgd", "adam"),
    (lambda: schedules.get("cosin", 0.1), "constant, cosine, step", "cosine"),
])
def test_unknown_names_list_choices_and_suggest(call, valid, close_match):
    with pytest.raises(ConfigError) as info:
        call()
    msg = str(info.value)
    assert f"valid: {valid}" in msg and f"did you mean '{close_match}'" in msg
