"""Where a config becomes work for the engine: a step-0 run (:mod:`.experiment`), its
mean-field predictions (:mod:`.predictions`) and a comparison of initializers
(:mod:`.compare`). Numpy, no I/O; files are written by :mod:`initlab.io`."""
