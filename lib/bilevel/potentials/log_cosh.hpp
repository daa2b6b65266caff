#pragma once
/// \file
/// Log-cosh potential, main paper section 4.1: psi(u) = log(cosh(beta u)) / beta, evaluated as
/// (|t| + log1p(exp(-2 |t|)) - log 2) / beta with t = beta u, which never overflows.

#include <bilevel/core/kokkos_compat.hpp>

namespace bilevel {

/// \brief Log-cosh potential with sharpness beta > 0; convex, psi' = tanh(beta u).
template <class Scalar>
struct LogCosh {
  Scalar beta = Scalar(1);

  KOKKOS_INLINE_FUNCTION Scalar value(Scalar u) const {
    const Scalar t = math::fabs(beta * u);
    return (t + math::log1p(math::exp(Scalar(-2) * t)) - Scalar(0.69314718055994530942)) / beta;
  }
  KOKKOS_INLINE_FUNCTION Scalar d1(Scalar u) const { return math::tanh(beta * u); }
  KOKKOS_INLINE_FUNCTION Scalar d2(Scalar u) const {
    const Scalar t = math::tanh(beta * u);
    return beta * (Scalar(1) - t * t);
  }
  KOKKOS_INLINE_FUNCTION Scalar d2_bound() const { return beta; }
};

}  // namespace bilevel
