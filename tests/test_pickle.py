"""Every record a worker process or a Dask cluster needs pickles and comes back equivalent:
activations and initializers (rebuilt from their name and parameters), configs, parameters,
run results."""

import pickle

import numpy as np
import pytest

from initlab import config
from initlab.engine import activations, initializers
from initlab.engine.parameters import StoredParameters, stream
from initlab.runs import experiment

#: parameters that differ from the defaults, so the round trip has something to keep
ACT_PARAMS = {"leaky_relu": {"negative_slope": 0.2}, "elu": {"alpha": 0.5}, "softplus": {"beta": 2.0},
              "hardtanh": {"min_val": -2.0, "max_val": 0.5}}
INIT_PARAMS = {"constant": {"value": 0.3}, "normal": {"mean": 0.1, "std": 0.02},
               "uniform": {"low": -0.2, "high": 0.3}, "truncated_normal": {"std": 0.5, "a": -1.0},
               "variance_scaling": {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"},
               "xavier_normal": {"gain": 1.5}, "xavier": {"gain": 1.5}, "he_normal": {"mode": "fan_out"},
               "he_uniform": {"negative_slope": 0.1}, "orthogonal": {"gain": 2.0},
               "identity": {"gain": 0.5}, "sparse": {"nonzero": 3}, "torch_sparse": {"sparsity": 0.5}}


def roundtrip(obj):
    return pickle.loads(pickle.dumps(obj))


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_every_activation_pickles_with_its_parameters(name):
    act = activations.get(name, **ACT_PARAMS.get(name, {}))
    back = roundtrip(act)
    assert (back.name, back.params, back.kinks) == (act.name, act.params, act.kinks)
    x = np.linspace(-5, 5, 101)
    np.testing.assert_array_equal(back.fn(x), act.fn(x))
    np.testing.assert_array_equal(back.deriv(x), act.deriv(x))


@pytest.mark.parametrize("name", sorted(initializers.INITIALIZERS))
def test_every_initializer_pickles_with_its_parameters(name):
    init = initializers.get(name, **INIT_PARAMS.get(name, {}))
    back = roundtrip(init)
    assert back == init and back.label() == init.label()
    np.testing.assert_array_equal(back(stream(0, 1, 1), (20, 30)), init(stream(0, 1, 1), (20, 30)))


def test_config_parameters_and_results_pickle():
    cfg = config.resolve({"network": {"depth": 3, "width": 16, "activation": {"name": "leaky_relu",
                                                                            "negative_slope": 0.1},
                                      "initializer": {"name": "normal", "std": 0.1}},
                          "input": {"batch": 8, "dim": 16}, "backward": {"enabled": True}})
    assert roundtrip(cfg) == cfg
    params = experiment.build_parameters(cfg)  # samplers placed at their config field
    back = roundtrip(params)
    for l in (1, 2, 3):
        np.testing.assert_array_equal(back.weight(l), params.weight(l))
    result = experiment.run(cfg)
    assert roundtrip(result).rows == result.rows
    stored = StoredParameters.draw(params)
    stored.set_mask(2, np.arange(256).reshape(16, 16) % 2)
    s2 = roundtrip(stored)
    assert s2.frozen == stored.frozen and all(np.array_equal(a, b) for a, b in zip(s2.weights, stored.weights))
    assert experiment.run(cfg, params=s2).rows == experiment.run(cfg, params=stored).rows
