"""Configs: YAML with line numbers, validation with suggestions, precedence, round trip."""

import pytest

from initlab import config
from initlab.errors import ConfigError
from initlab.io import configfile

GOOD = """\
name: demo
seed: 3
dtype: float32
input: {batch: 8, dim: 6, distribution: uniform}
network:
  depth: 3
  width: [5, 4, 3]
  activation: {name: leaky_relu, negative_slope: 0.2}
  initializer: {name: xavier_uniform, gain: auto}
  bias: {name: normal, std: 0.1}
backward: {enabled: true, loss: softmax_ce, classes: 4}
stats: {histograms: false, bins: 20, range: [-2, 2]}
"""


def test_full_config_parses_and_round_trips():
    data, lines = configfile.parse(GOOD)
    cfg = config.from_dict(data, lines)
    assert cfg.network.widths == (5, 4, 3) and cfg.widths() == (6, 5, 4, 3)
    assert cfg.network.activation == config.Spec("leaky_relu", (("negative_slope", 0.2),))
    assert cfg.stats.range == (-2.0, 2.0)
    again = config.from_dict(config.to_dict(cfg))
    assert again == cfg
    assert configfile.parse(configfile.dump(cfg))[0] == config.to_dict(cfg)


def test_defaults_and_name_from_file(tmp_path):
    p = tmp_path / "my_exp.yaml"
    p.write_text("network: {depth: 2}\n")
    cfg = configfile.load(p)
    assert cfg.name == "my_exp" and cfg.network.depth == 2 and cfg.input.batch == 1000


def test_precedence_defaults_file_set_flags():
    data = {"seed": 1, "network": {"depth": 4}}
    cfg = config.resolve(data, sets=[("seed", 2), ("network.depth", 5)], seed=7, backward=True)
    assert cfg.seed == 7 and cfg.network.depth == 5 and cfg.backward.enabled


@pytest.mark.parametrize("text,field,line,needle", [
    ("netwrk: {depth: 3}\n", "netwrk", 1, "did you mean 'network'"),
    ("network:\n  depht: 3\n", "network.depht", 2, "did you mean 'depth'"),
    ("network:\n  depth: 3\n  activation: tahn\n", "network.activation", 3, "did you mean 'tanh'"),
    ("network:\n  initializer: {name: normal, sdt: 1}\n", "network.initializer.sdt", 2, "did you mean 'std'"),
    ("network:\n  depth: 0\n", "network.depth", 2, ">= 1"),
    ("network:\n  depth: 2\n  width: [3, 4, 5]\n", "network.width", 3, "2 entries"),
    ("dtype: float16\n", "dtype", 1, "float32, float64"),
    ("backward: {loss: hinge}\n", "backward.loss", 1, "mse, random, softmax_ce"),
    ("input: [1, 2]\n", "input", 1, "must be a mapping"),
    ("seed: abc\n", "seed", 1, "integer"),
    ("network: {depth: 2}\nnetwork: {depth: 3}\n", "network", 2, "duplicate key"),
    ("network: {depth: [1\n", None, None, "malformed YAML"),
])
def test_errors_name_field_line_and_choices(text, field, line, needle):
    with pytest.raises(ConfigError) as ei:
        data, lines = configfile.parse(text, source="c.yaml")
        config.from_dict(data, lines)
    e = ei.value
    assert needle in str(e)
    if field:
        assert e.field == field and e.line == line
    assert "\n" not in str(e)


@pytest.mark.parametrize("dotted,needle", [
    ("network.depht", "did you mean 'depth'"),
    ("netwrk.depth", "did you mean 'network'"),
    ("network", "is a section"),
    ("seed.x", "has no sub-keys"),
    ("network.depth.x", "has no sub-key"),
])
def test_set_on_missing_key(dotted, needle):
    with pytest.raises(ConfigError, match=needle):
        config.apply_set({}, dotted, 1)


def test_set_param_under_bare_spec_and_parse_values():
    d = config.apply_set({"network": {"initializer": "normal"}}, "network.initializer.std", 0.5)
    assert d["network"]["initializer"] == {"name": "normal", "std": 0.5}
    assert configfile.parse_set("network.width=[3, 4]") == ("network.width", [3, 4])
    assert configfile.parse_set("stats.histograms=false") == ("stats.histograms", False)
    with pytest.raises(ConfigError, match="key=value"):
        configfile.parse_set("network.depth")
    with pytest.raises(ConfigError, match="cannot parse"):
        configfile.parse_set("network.width=[3,")


def test_gain_auto_uses_activation_gain():
    from initlab.config import components

    cfg = config.resolve({"network": {"activation": "tanh", "initializer": {"name": "xavier", "gain": "auto"}}})
    assert components.weight_initializer(cfg).params["gain"] == pytest.approx(5 / 3)


def test_impossible_sizes():
    with pytest.raises(ConfigError, match="GiB"):
        config.resolve({"input": {"batch": 10**8}})


def test_sparse_nonzero_larger_than_fan_in_is_a_config_error():
    from initlab.runs.experiment import run

    cfg = config.resolve({"network": {"initializer": {"name": "sparse", "nonzero": 50}, "width": 20, "depth": 2},
                          "input": {"dim": 20, "batch": 4}})
    with pytest.raises(ConfigError, match="nonzero") as ei:
        run(cfg)
    assert ei.value.field == "network.initializer.nonzero"


# --- with_changes validates --------------------------------------------------------------------

def test_with_changes_refuses_a_width_list_that_does_not_match_the_depth():
    cfg = config.resolve({"network": {"depth": 3, "width": [5, 4, 3]}, "input": {"batch": 4, "dim": 6}})
    with pytest.raises(ConfigError) as ei:
        config.with_changes(cfg, network={"depth": 2})
    assert ei.value.field == "network.width"
    assert str(ei.value) == "network.width: a list of widths needs network.depth = 2 entries, got 3"


def test_with_changes_checks_names_keys_and_draws():
    cfg = config.resolve({"network": {"depth": 2, "width": 20, "initializer": {"name": "sparse", "nonzero": 15}},
                          "input": {"batch": 4, "dim": 20}})
    with pytest.raises(ConfigError, match="did you mean 'depth'") as ei:
        config.with_changes(cfg, network={"depht": 2})
    assert ei.value.field == "network.depht"
    with pytest.raises(ConfigError, match="did you mean 'seed'"):
        config.with_changes(cfg, sed=1)
    with pytest.raises(ConfigError) as ei:  # the draw check: sparse nonzero 15 > the new fan_in 10
        config.with_changes(cfg, input={"dim": 10}, network={"width": 10})
    assert ei.value.field == "network.initializer.nonzero"
    with pytest.raises(ConfigError, match="network.activation: unknown activation 'tahn'"):
        config.with_changes(cfg, network={"activation": config.Spec("tahn")})


def test_with_changes_keeps_a_valid_config_and_changes_only_what_it_is_given():
    cfg = config.resolve({"network": {"depth": 3, "width": [5, 4, 3]}, "input": {"batch": 4, "dim": 6}})
    assert config.with_changes(cfg) == cfg
    again = config.with_changes(cfg, seed=4, network={"depth": 2, "width": (5, 4)})
    assert again.seed == 4 and again.network.widths == (5, 4) and again.input == cfg.input


# --- records --------------------------------------------------------------------------------------

def test_configs_and_specs_pickle_and_round_trip_equal():
    import pickle

    data, lines = configfile.parse(GOOD)
    cfg = config.from_dict(data, lines)
    records = [cfg, config.Config(), cfg.input, cfg.network, cfg.backward, cfg.stats,
               cfg.network.activation, cfg.network.bias, config.Spec("tanh"),
               config.Spec("orthogonal", (("gain", "auto"),))]
    for rec in records:
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            back = pickle.loads(pickle.dumps(rec, protocol))
            assert back == rec and type(back) is type(rec) and hash(back) == hash(rec)


# --- defaults and the package's shape ------------------------------------------------------------

def test_the_parser_takes_its_defaults_from_the_dataclasses():
    assert config.from_dict({}) == config.Config() == config.resolve(None)
    assert config.from_dict(config.to_dict(config.Config())) == config.Config()


def test_the_config_modules_import_one_way():
    """schema < datainit < components < parse < validate < overrides < scalars: each imports only
    those before it (lazy imports inside functions included), so there is no circle."""
    import ast
    from pathlib import Path

    order = ["schema", "datainit", "components", "parse", "validate", "overrides", "scalars"]
    root = Path(config.__file__).parent
    for i, name in enumerate(order):
        tree = ast.parse((root / f"{name}.py").read_text())
        used = {node.module.split(".")[2] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("initlab.config.")}
        used |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 and node.module == "initlab.config" for alias in node.names if alias.name in order}
        assert used <= set(order[:i]), f"{name} imports {sorted(used - set(order[:i]))}"


def test_importing_config_loads_neither_numpy_nor_yaml():
    import subprocess
    import sys

    code = ("import sys, initlab.config; bad = [m for m in ('numpy', 'yaml') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_set_speaks_the_compare_spec_syntax_and_a_new_name_replaces_the_parameters():
    """One spec syntax everywhere: --set network.activation=leaky_relu:negative_slope=0.2 as in
    initlab compare; setting a component or its name replaces its parameters (std does not
    survive a switch to xavier); later --set wins, so parameters go after the name."""
    from initlab import config

    base = {"network": {"initializer": {"name": "normal", "std": 0.01}}}
    cfg = config.resolve(base, sets=[("network.initializer.name", "xavier")])
    assert cfg.network.initializer.name == "xavier" and cfg.network.initializer.kwargs == {}
    cfg = config.resolve(base, sets=[config.parse_set("network.activation=leaky_relu:negative_slope=0.2")])
    assert cfg.network.activation.name == "leaky_relu"
    assert cfg.network.activation.kwargs == {"negative_slope": 0.2}
    cfg = config.resolve(base, sets=[("network.initializer", "xavier"), ("network.initializer.gain", 2.0)])
    assert cfg.network.initializer.kwargs == {"gain": 2.0}
    cfg = config.resolve(base, sets=[("network.initializer.gain", 2.0), ("network.initializer", "xavier")])
    assert cfg.network.initializer.kwargs == {}  # the later --set replaced the component
    with pytest.raises(ConfigError) as e:
        config.resolve(base, sets=[config.parse_set("network.activation=leaky_relu:slope=0.2")])
    assert e.value.field.startswith("network.activation") and "negative_slope" in str(e.value)
