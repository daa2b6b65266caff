#pragma once
/// \file
/// Smoothed clipped ReLU of the ICNN (main paper section 4.3):
///   phi(u) = 0 for u < 0,  u^2 / (2 nu) for 0 <= u < nu,  u - nu / 2 for u >= nu.
/// Convex and non-decreasing, so compositions with non-negative weights stay convex.

#include <bilevel/core/kokkos_compat.hpp>

namespace bilevel {

/// \brief Smoothed clipped ReLU with smoothing nu > 0 (the paper uses 1e-3).
template <class Scalar>
struct SmoothedClippedRelu {
  Scalar nu = Scalar(1e-3);

  KOKKOS_INLINE_FUNCTION Scalar value(Scalar u) const {
    return u < Scalar(0) ? Scalar(0) : (u < nu ? u * u / (Scalar(2) * nu) : u - Scalar(0.5) * nu);
  }
  KOKKOS_INLINE_FUNCTION Scalar d1(Scalar u) const {
    return u < Scalar(0) ? Scalar(0) : (u < nu ? u / nu : Scalar(1));
  }
  KOKKOS_INLINE_FUNCTION Scalar d2(Scalar u) const {
    return (u < Scalar(0) || u >= nu) ? Scalar(0) : Scalar(1) / nu;
  }
  KOKKOS_INLINE_FUNCTION Scalar d2_bound() const { return Scalar(1) / nu; }
};

}  // namespace bilevel
