"""initlab: a laboratory for weight-initialization studies.

The pure engine (``initializers``, ``activations``, ``network``, ``stats``, ``theory``,
``experiment``) imports numpy and the standard library only; I/O lives in ``initlab.io``,
figures in ``initlab.plots`` and the command line in ``initlab.cli``.
"""

__version__ = "0.1.0"
