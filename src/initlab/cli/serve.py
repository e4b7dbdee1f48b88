"""``initlab serve``: the initialization playground in the browser (docs/playground.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from initlab.cli.app import app, console as make_console


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on. The default, 127.0.0.1, lets only this "
                                           "machine in. Another address (0.0.0.0: every interface) lets "
                                           "anyone who can reach it run computations here: there is no "
                                           "login; use it on a trusted network only.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: a free one, printed).")] = 8765,
    train: Annotated[bool, typer.Option("--train/--no-train", help="Offer the training view (--no-train: "
                                                                   "the step-0 view only).")] = True,
) -> None:
    """Start the playground: step-0 statistics live, training live, theory overlays.

    Prints the URL and serves until Ctrl-C; opens no browser. Needs the optional extra:
    pip install 'initlab\\[serve]' (docs/playground.md).
    """
    from initlab.errors import ConfigError
    from initlab.serve import EXTRA_HINT, missing_extra

    if not 0 <= port < 65536:
        raise ConfigError("--port", f"must be in 0..65535 (0: a free port the system picks), got {port}")
    missing = missing_extra()
    if missing:
        raise ConfigError("initlab serve", f"{EXTRA_HINT} ('{missing}' is not installed)")
    from initlab.serve.app import serve as run_server

    console = make_console()

    def ready(url: str) -> None:
        console.print(f"initlab playground at {url}  (Ctrl-C to stop)", markup=False, highlight=False)
        if host not in ("127.0.0.1", "localhost", "::1"):
            console.print(f"warning: listening on {host}: anyone who can reach this address can run "
                          "computations on this machine (no login)", markup=False, highlight=False)

    run_server(host, port, train=train, ready=ready)
