"""The README documents every registered initializer and activation, and the set-up commands."""

from pathlib import Path

from initlab.engine import activations, initializers

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_lists_every_initializer_and_activation():
    missing = [n for n in list(initializers.INITIALIZERS) + list(activations.ACTIVATIONS)
               if f"`{n}`" not in README]
    assert not missing, f"README lacks: {missing}"


def test_readme_names_the_two_setup_commands():
    assert "make run" in README and "make test" in README
