#pragma once
/// \file
/// Smoothed l1 norm of the Field of Experts (SSVM paper, eq. 13): psi(z) = sqrt(z^2 + nu^2) - nu,
/// with the derivatives in nu that a learnable nu needs.

#include <bilevel/core/kokkos_compat.hpp>

namespace bilevel {

/// \brief psi(z) = sqrt(z^2 + nu^2) - nu, nu > 0; convex, psi'' <= 1 / nu.
template <class Scalar>
struct SmoothedL1 {
  Scalar nu = Scalar(1e-2);

  KOKKOS_INLINE_FUNCTION Scalar value(Scalar z) const { return math::sqrt(z * z + nu * nu) - nu; }
  KOKKOS_INLINE_FUNCTION Scalar d1(Scalar z) const { return z / math::sqrt(z * z + nu * nu); }
  KOKKOS_INLINE_FUNCTION Scalar d2(Scalar z) const {
    const Scalar r = math::sqrt(z * z + nu * nu);
    return nu * nu / (r * r * r);
  }
  /// d psi / d nu.
  KOKKOS_INLINE_FUNCTION Scalar dvalue_dnu(Scalar z) const {
    return nu / math::sqrt(z * z + nu * nu) - Scalar(1);
  }
  /// d psi' / d nu.
  KOKKOS_INLINE_FUNCTION Scalar d1_dnu(Scalar z) const {
    const Scalar r = math::sqrt(z * z + nu * nu);
    return -z * nu / (r * r * r);
  }
  KOKKOS_INLINE_FUNCTION Scalar d2_bound() const { return Scalar(1) / nu; }
};

}  // namespace bilevel
