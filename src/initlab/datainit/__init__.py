"""Initializations that need data or another network (floor 5: above runs/, below studies/).

- :mod:`.lsuv`: LSUV (Mishkin & Matas 2015), per-layer unit pre-activation variance on a batch;
- :mod:`.pretrain`: greedy layerwise autoencoder pretraining (Bengio et al. 2007; Vincent et
  al. 2008 for the denoising variant);
- :mod:`.transfer`: layers copied from a ``weights.npz`` initlab wrote, optionally frozen;
- :mod:`.lottery`: iterative magnitude pruning with rewinding and its controls (Frankle &
  Carbin 2019);
- :mod:`.resolve`: where a config's data-dependent initializer (named in
  :mod:`initlab.config.datainit`) becomes :class:`~initlab.engine.parameters.StoredParameters`
  before :mod:`initlab.runs` runs the passes.

Every forward and backward pass here is the engine's (:mod:`initlab.engine.network`) and every
training step the training room's (:mod:`initlab.training`). Streams (purposes beside the
engine's 0-7, :mod:`initlab.engine.parameters`): 8 the LSUV batch, 9 pretraining, 10 the
lottery's random masks and re-initialization seeds.
"""
