"""Grids of runs over any config field, cached by a hash of the resolved config and run on an
executor (a local process pool or a Dask cluster) that the engine never knows about. Every
record a point needs (configs, activations, initializers, parameters, results) pickles, which
is what lets a point cross a process boundary (tests/test_pickle.py). Nothing lives here yet;
see docs/architecture.md for where each piece goes.
"""
