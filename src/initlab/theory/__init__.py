"""Analytic and mean-field predictions for deep random networks.

Conventions (the whole package uses them): layer ``l = 1..L`` computes
``z_l = h_{l-1} @ W_l + b_l`` and ``h_l = act(z_l)``, with ``W_l`` of shape
``(fan_in, fan_out) = (widths[l-1], widths[l])``, entries zero-mean with variance ``v_l``
(``sigma_w^2 / fan_in`` for the variance-scaling initializers) and biases of variance
``sigma_b^2``. Layer 0 is the input ``h_0``. ``q`` is the second moment of one pre-activation
(its variance: mean-field pre-activations are zero-mean Gaussians), and ``u ~ N(0, q)``.

What is here, and where each formula comes from:

- Gaussian expectations ``E[f(sqrt(q) z)]`` and ``E[f(u1) g(u2)]`` for a correlated pair, by
  fixed composite Gauss-Legendre rules whose panels put the kinks on panel edges and grade
  geometrically toward them, so that tiny ``q`` (1e-12) and saturated ``q`` (1e4) are both
  accurate to ~1e-10 (Gauss-Hermite with 80 nodes gets E[tanh(sqrt(500) z)^2] wrong in the
  fourth digit).
- :func:`predict_layers`: the mean-field recursion for the forward second moment (Glorot &
  Bengio 2010 eq. 5 for linear units; Poole et al. 2016 eq. 3 for any activation) and the
  backward one (Glorot & Bengio eq. 6; Schoenholz et al. 2017 sec. 4).
- The order-to-chaos phase diagram: length map, ``chi_1``, correlation map, depth scales
  (Poole et al. 2016; Schoenholz et al. 2017).
- Input-output Jacobians and their singular values (Pennington, Schoenholz & Ganguli 2017;
  Glorot & Bengio 2010 sec. 4.2.2 for the per-layer ones).
- Finite-width fluctuations of the activation length of He-initialized ReLU nets (Hanin &
  Rolnick 2018).


Modules: :mod:`.meanfield` (Gaussian moments, the per-layer recursion, saturation),
:mod:`.phase` (fixed points, chi_1, depth scales, the critical line), :mod:`.jacobian`
(Jacobian spectra), :mod:`.finite_width` (Hanin & Rolnick), :mod:`.probes` (their measured
counterparts on real networks). The quadrature is the engine's (:mod:`initlab.engine.gaussian`:
the activations' variance gains need it too). This package re-exports the public names, so
``initlab.theory.predict_layers`` and the rest keep working.
"""

from initlab.engine.gaussian import gaussian_expectation, gaussian_expectation_2d  # noqa: F401
from initlab.theory.finite_width import hanin_rolnick_variance, log_length_ratio  # noqa: F401
from initlab.theory.jacobian import (  # noqa: F401
    input_output_jacobian, jacobian_spectra_at_depths, jacobian_spectrum, mean_squared_singular_value,
    per_layer_jacobian_singular_values, sample_network)
from initlab.theory.meanfield import (  # noqa: F401
    Q_INFINITE, Q_TINY, ROW_KEYS, activation_correlations, activation_moments, as_activation,
    derivative_at, predict_layers, predicted_jacobian_gain, saturation_probability)
from initlab.theory.phase import (  # noqa: F401
    chi1, correlation_map, critical_sw2, depth_scales, fixed_point_c, fixed_point_q, length_map,
    phase_grid)
