#pragma once
/// \file
/// Reductions whose result does not depend on the number of threads (DESIGN.md section 9).
///
/// Kokkos' own reductions on host backends give each thread a share of the range and join the
/// thread totals, so the rounding changes with OMP_NUM_THREADS. Here a reduction is cut into
/// chunks fixed by the problem alone: each chunk is one parallel item that adds its elements in
/// order into its own slot of a host buffer, and a second kernel adds the slots in chunk order.
/// Serial and OpenMP builds therefore agree bit for bit at any thread count.
///
/// GPU backends keep Kokkos' reductions: their launch shape is fixed by the problem and the
/// device (no thread-count knob), so they are reproducible from run to run on one device.

#include <bilevel/core/kokkos_compat.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

namespace bilevel::impl {

/// True where the library combines partial sums itself (host backends).
template <class ExecSpace>
inline constexpr bool fixed_order_v = is_host_space_v<ExecSpace>;

/// Elements per chunk of a flat reduction (parameter vectors).
inline constexpr std::int64_t kFlatChunk = 4096;

/// Host-only: slots[chunk * width + k] = what f(chunk, slot) adds to slot[k], for every chunk,
/// one parallel item per chunk. The buffer is plain host memory owned by the caller's scope.
template <class ExecSpace, class F>
std::vector<double> chunk_partials(const char* label, const ExecSpace& space, std::int64_t chunks,
                                   int width, const F& f) {
  static_assert(fixed_order_v<ExecSpace>, "bilevel: chunk partials are a host-backend path");
  std::vector<double> slots(std::size_t(chunks) * std::size_t(width), 0.0);
  double* const p = slots.data();
  Kokkos::parallel_for(
      label, Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, chunks),
      KOKKOS_LAMBDA(std::int64_t c) { f(c, p + c * width); });
  return slots;
}

/// Host-only: out(key) = sum over t < terms of slots[index(key, t)], in increasing t. Runs on
/// the calling thread after the chunks are done: a few hundred additions do not pay for a
/// second parallel launch.
template <class ExecSpace, class Index, class Out>
void combine_in_order(const ExecSpace& space, const std::vector<double>& slots, int keys,
                      std::int64_t terms, const Index& index, const Out& out) {
  static_assert(fixed_order_v<ExecSpace>, "bilevel: ordered combination is a host-backend path");
  static_assert(
      Kokkos::SpaceAccessibility<Kokkos::HostSpace, typename Out::memory_space>::accessible,
      "bilevel: host backends write their sums from the host");
  space.fence();
  for (int k = 0; k < keys; ++k) {
    double acc = 0;
    for (std::int64_t t = 0; t < terms; ++t) acc += slots[std::size_t(index(k, t))];
    out(k) = acc;
  }
}

/// sum over k < n of f(k) in double, returned to the host (fences). Host backends add fixed
/// chunks of kFlatChunk elements in order; GPUs use Kokkos' reduction.
template <class ExecSpace, class F>
double flat_sum(const char* label, const ExecSpace& space, std::int64_t n, const F& f) {
  if (n <= 0) return 0.0;
  if constexpr (fixed_order_v<ExecSpace>) {
    const std::int64_t chunks = (n + kFlatChunk - 1) / kFlatChunk;
    const auto slots = chunk_partials(
        label, space, chunks, 1, KOKKOS_LAMBDA(std::int64_t c, double* acc) {
          const std::int64_t b = c * kFlatChunk, e = b + kFlatChunk < n ? b + kFlatChunk : n;
          double s = 0;
          for (std::int64_t k = b; k < e; ++k) s += f(k);
          acc[0] = s;
        });
    space.fence();
    double total = 0;
    for (double v : slots) total += v;
    return total;
  } else {
    double total = 0;
    Kokkos::parallel_reduce(
        label, Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, n),
        KOKKOS_LAMBDA(std::int64_t k, double& acc) { acc += f(k); }, total);
    return total;
  }
}

/// The Euclidean norm of a rank-1 View, accumulated in double by flat_sum (the same bits at
/// every thread count on host backends).
template <class ExecSpace, class V>
double flat_norm(const char* label, const ExecSpace& space, const V& v) {
  return std::sqrt(flat_sum(
      label, space, std::int64_t(v.extent(0)),
      KOKKOS_LAMBDA(std::int64_t k) { return double(v(k)) * double(v(k)); }));
}

}  // namespace bilevel::impl
