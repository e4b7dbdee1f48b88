"""The engine: numpy only, no I/O, no plotting, no command line.

Activations and initializers (registries of frozen records), the parameters of a network
(drawn on demand, fixed or stored and trainable), the one forward/backward pass, Gaussian
quadrature and the per-layer statistics with their C kernel. Everything above (theory, config,
runs, studies, io, plots, cli) builds on it; nothing here imports them (tests/test_layout.py).
"""
