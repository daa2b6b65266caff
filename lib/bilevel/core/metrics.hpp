#pragma once
/// \file
/// Image quality per sample: MSE = ||x - ref||^2 / (C H W) and PSNR = 10 log10(1 / MSE) for
/// data in [0, 1] (DESIGN.md section 1). The batch PSNR reported everywhere is the mean of the
/// per-image PSNRs.

#include <bilevel/core/blas1.hpp>
#include <vector>

namespace bilevel {

/// \brief out(s) = mean squared error of sample s against the reference.
template <class ExecSpace, class X, class Ref, class Out>
void mse(const ExecSpace& space, const X& x, const Ref& ref, const Out& out) {
  squared_distance(space, x, ref, out);
  const double inv = 1.0 / double(shape_of(x).per_sample());
  Kokkos::parallel_for(
      "bilevel::metrics::mse_scale", Kokkos::RangePolicy<ExecSpace>(space, 0, out.extent(0)),
      KOKKOS_LAMBDA(int s) { out(s) *= inv; });
}

/// \brief out(s) = PSNR of sample s in dB for [0, 1] data (infinite for an exact match).
template <class ExecSpace, class X, class Ref, class Out>
void psnr(const ExecSpace& space, const X& x, const Ref& ref, const Out& out) {
  mse(space, x, ref, out);
  Kokkos::parallel_for(
      "bilevel::metrics::psnr", Kokkos::RangePolicy<ExecSpace>(space, 0, out.extent(0)),
      KOKKOS_LAMBDA(int s) { out(s) = -10.0 * math::log10(out(s)); });
}

/// \brief Per-image PSNRs copied to the host (fences the space).
template <class ExecSpace, class X, class Ref>
std::vector<double> psnr_host(const ExecSpace& space, const X& x, const Ref& ref) {
  PerSample<double, typename ExecSpace::memory_space> d("bilevel::metrics::psnr", x.extent(0));
  psnr(space, x, ref, d);
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), d);
  return std::vector<double>(h.data(), h.data() + h.extent(0));
}

/// \brief Mean of a list of per-image values (0 for an empty list).
inline double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / double(v.size());
}

}  // namespace bilevel
