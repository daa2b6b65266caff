#pragma once
/// \file
/// The shared convex potential of the CRR, chosen at run time: Huber or log-cosh with
/// parameter beta (main paper section 4.1). A uniform branch inside kernels, no virtual call.

#include <bilevel/core/error.hpp>
#include <bilevel/potentials/huber.hpp>
#include <bilevel/potentials/log_cosh.hpp>
#include <string>

namespace bilevel {

enum class RidgePotentialKind { huber = 0, log_cosh = 1 };

/// \brief Parses "huber" or "log-cosh" (also "logcosh").
inline RidgePotentialKind parse_ridge_potential(const std::string& name) {
  if (name == "huber") return RidgePotentialKind::huber;
  if (name == "log-cosh" || name == "logcosh") return RidgePotentialKind::log_cosh;
  throw Error("unknown CRR potential '" + name + "' (expected huber or log-cosh)");
}

/// \brief Huber or log-cosh, evaluated with one branch on the kind.
template <class Scalar>
struct RidgePotential {
  RidgePotentialKind kind = RidgePotentialKind::huber;
  Scalar beta = Scalar(1);

  KOKKOS_INLINE_FUNCTION Scalar value(Scalar u) const {
    return kind == RidgePotentialKind::huber ? Huber<Scalar>{beta}.value(u)
                                             : LogCosh<Scalar>{beta}.value(u);
  }
  KOKKOS_INLINE_FUNCTION Scalar d1(Scalar u) const {
    return kind == RidgePotentialKind::huber ? Huber<Scalar>{beta}.d1(u)
                                             : LogCosh<Scalar>{beta}.d1(u);
  }
  KOKKOS_INLINE_FUNCTION Scalar d2(Scalar u) const {
    return kind == RidgePotentialKind::huber ? Huber<Scalar>{beta}.d2(u)
                                             : LogCosh<Scalar>{beta}.d2(u);
  }
  std::string name() const { return kind == RidgePotentialKind::huber ? "huber" : "log-cosh"; }
};

}  // namespace bilevel
