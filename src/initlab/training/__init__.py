"""Training maths: pure functions and small picklable classes, numpy only.

One concern per module; none does I/O or prints.

=================  ============================================================================
module             what lives there
=================  ============================================================================
``losses``         ``softmax_ce``, ``bce``, ``mse``: ``(logits, targets) -> (loss, dL/dlogits)``;
                   ``accuracy`` per classification loss; the ``LOSSES`` registry.
``optimizers``     ``SGD``, ``Adam``, ``AdamW`` (torch.optim's algorithms) updating parameter
                   arrays in place, optional 0/1 masks; the ``OPTIMIZERS`` registry, ``describe``.
``clipping``       global gradient-norm clipping (``clip_grad_norm_``) and value clipping.
``schedules``      learning rate at step t: ``constant``, ``cosine``, ``step``; ``SCHEDULES``.
``layers``         ``batch_norm``, ``layer_norm``, ``dropout``: explicit forward (output, cache)
                   and backward (cache, dL/dout -> dL/din and parameter gradients).
=================  ============================================================================

Conventions shared with :mod:`initlab.engine.network`: weights are ``(fan_in, fan_out)`` and
a layer computes ``z = h @ W + b``; arrays are float32 or float64 and every function returns arrays
in its input's dtype. Each public docstring gives the formula and the paper or torch page it
matches; ``tests/test_training_math.py`` checks each against finite differences and against
PyTorch.

The training loop and its observers belong in this package too, in their own modules; they
call these functions and are not written yet.
"""
