#pragma once
/// \file
/// Huber potential (Moreau envelope of |u|), main paper section 4.1:
///   psi(u) = |u| - 1 / (2 beta)  for |u| > 1 / beta,   (beta / 2) u^2  otherwise.

#include <bilevel/core/kokkos_compat.hpp>

namespace bilevel {

/// \brief Huber potential with smoothing parameter beta > 0; convex, psi'' in {0, beta}.
template <class Scalar>
struct Huber {
  Scalar beta = Scalar(1);

  KOKKOS_INLINE_FUNCTION Scalar value(Scalar u) const {
    const Scalar a = math::fabs(u);
    return a * beta > Scalar(1) ? a - Scalar(0.5) / beta : Scalar(0.5) * beta * u * u;
  }
  KOKKOS_INLINE_FUNCTION Scalar d1(Scalar u) const {
    const Scalar v = beta * u;
    return v > Scalar(1) ? Scalar(1) : (v < Scalar(-1) ? Scalar(-1) : v);
  }
  KOKKOS_INLINE_FUNCTION Scalar d2(Scalar u) const {
    return math::fabs(u) * beta > Scalar(1) ? Scalar(0) : beta;
  }
  /// sup psi'' (Lipschitz constant of psi').
  KOKKOS_INLINE_FUNCTION Scalar d2_bound() const { return beta; }
};

}  // namespace bilevel
