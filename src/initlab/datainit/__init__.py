"""Initializations that need data or another network (issue: data-dependent initialization):
LSUV (Mishkin & Matas 2015), greedy layerwise pretraining (Hinton & Salakhutdinov 2006;
Bengio et al. 2007), transfer from a saved ``weights.npz`` and lottery-ticket masks (Frankle &
Carbin 2019). Each will turn a :class:`~initlab.engine.parameters.StoredParameters` drawn by an
ordinary initializer into the starting point of a run, using the engine's passes, the data
room and the training room. Nothing lives here yet; see docs/architecture.md for where each
piece goes.
"""
