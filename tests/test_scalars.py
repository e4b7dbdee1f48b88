"""One reading of a value written as text: a config file, ``--set`` and a command-line spec agree."""

import datetime
import math

import pytest

from initlab.config import scalars
from initlab.errors import ConfigError
from initlab.io import configfile

# written -> read (PyYAML SafeLoader, YAML 1.1, plus exponent floats without a dot).
TABLE = [
    ("yes", True), ("no", False), ("on", True), ("off", False), ("Yes", True), ("OFF", False),
    ("true", True), ("True", True), ("TRUE", True), ("false", False),
    ("y", "y"),  # PyYAML does not read y/n as booleans
    ("1_000", 1000), ("3", 3), ("+3", 3), ("-2", -2), ("0x1F", 31), ("017", 15), ("0b101", 5),
    ("0o17", "0o17"),  # YAML 1.2's octal is a string in YAML 1.1
    ("1:30", 90),  # YAML 1.1 base 60
    ("1e3", 1000.0), ("1E+3", 1000.0), ("1e-3", 0.001), ("1.5", 1.5), ("1.", 1.0), (".5", 0.5),
    (".inf", math.inf), ("-.inf", -math.inf), (".nan", math.nan), (".NaN", math.nan),
    ("null", None), ("~", None), ("Null", None),
    ("''", ""), ("'yes'", "yes"), ('"1e3"', "1e3"), ("'3'", "3"), ("fan_out", "fan_out"),
    ("2020-01-01", datetime.date(2020, 1, 1)),
]


def same(a, b):
    if isinstance(b, float) and math.isnan(b):
        return isinstance(a, float) and math.isnan(a)
    return type(a) is type(b) and a == b


def from_file(text):
    data, _ = configfile.parse(f"x: {text}\n")
    return data["x"]


@pytest.mark.parametrize("text, want", TABLE, ids=[t for t, _ in TABLE])
def test_file_set_and_spec_read_a_value_alike(text, want):
    assert same(scalars.parse_scalar(text), want)
    assert same(from_file(text), want)
    if want is None:  # null: a file may leave a key empty; --set and a spec parameter refuse it
        with pytest.raises(ConfigError, match="empty value"):
            scalars.parse_set(f"x={text}")
        with pytest.raises(ConfigError, match="empty value for 'std'"):
            scalars.parse_spec(f"normal:std={text}")
        return
    key, value = scalars.parse_set(f"x={text}")
    assert key == "x" and same(value, want)
    if isinstance(want, datetime.date):  # not a parameter value: refused, naming the spec
        with pytest.raises(ConfigError, match=r"initializer 'normal:std=2020-01-01'.*got date"):
            scalars.parse_spec(f"normal:std={text}")
        return
    assert same(scalars.parse_spec(f"normal:std={text}").kwargs["std"], want)


def test_spec_values_that_are_not_scalars_or_not_yaml_are_refused():
    with pytest.raises(ConfigError, match=r"initializer 'normal:std=\[1\]': the value of 'std' must be"):
        scalars.parse_spec("normal:std=[1]")
    with pytest.raises(ConfigError, match="cannot parse the value of 'std' as YAML"):
        scalars.parse_spec("normal:std='abc")
    with pytest.raises(ConfigError, match="cannot parse value"):
        scalars.parse_set("network.width=[3,")


@pytest.mark.parametrize("text", ["normal:std=0.01", "he_normal:mode=fan_out", "orthogonal:gain=auto",
                                  "normal:mean=0,std=1e-05", "uniform:high=1,low=-1", "xavier"])
def test_spec_text_reads_back(text):
    spec = scalars.parse_spec(text)
    assert scalars.spec_text(spec) == text and scalars.parse_spec(scalars.spec_text(spec)) == spec


def test_activation_spec_names_the_activation_registry():
    assert scalars.parse_spec("leaky_relu:negative_slope=0.2", "activation").kwargs == {"negative_slope": 0.2}
    with pytest.raises(ConfigError, match="activation 'tanhh': unknown activation 'tanhh' .*did you mean 'tanh'"):
        scalars.parse_spec("tanhh", "activation")
