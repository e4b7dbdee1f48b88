"""``initlab serve``: the initialization playground, a local web page on the CLI's engine.

Floor 8 (beside sweeps/, below cli/): it builds configs with :mod:`initlab.config`, runs them
through :mod:`initlab.runs` and :mod:`initlab.training`, and writes YAML with :mod:`initlab.io`.

- :mod:`.limits`: the named bounds every request is checked against (no imports but config);
- :mod:`.compute`: the step-0 view (settings -> config -> run -> what the page draws), the phase
  diagram, cancellation tokens;
- :mod:`.training`: the training view's job (initializers side by side, streamed frames);
- :mod:`.meta`: the registries and defaults the page builds its controls from;
- :mod:`.app`: the Starlette app and the uvicorn server (the only modules importing them);
- ``static/``: the page (HTML, JS, CSS); plotly.min.js comes from the installed plotly wheel.

The web libraries are the optional extra ``pip install 'initlab[serve]'``; nothing imports
this package unless ``initlab serve`` runs.
"""

EXTRA_HINT = "initlab serve needs the optional extra: pip install 'initlab[serve]'"


def missing_extra() -> str | None:
    """The first missing package of the ``serve`` extra, or ``None``."""
    import importlib.util

    for mod in ("starlette", "uvicorn", "websockets", "plotly"):
        if importlib.util.find_spec(mod) is None:
            return mod
    return None
