#pragma once
/// \file
/// Small building blocks shared by the regularizers' kernels: elementwise maps over a batch,
/// and reductions to per-channel or scalar sums (deterministic array reductions, accumulated in
/// double).

#include <bilevel/core/sample_blocks.hpp>
#include <bilevel/core/views.hpp>

namespace bilevel::impl {

/// f(n, c, i, j) over every element of a batch of shape s (one launch, 4D range).
template <class ExecSpace, class F>
void for_each_pixel(const char* label, const ExecSpace& space, const Shape& s, const F& f) {
  Kokkos::parallel_for(
      label,
      Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<4>, Kokkos::IndexType<std::int64_t>>(
          space, {0, 0, 0, 0},
          {std::int64_t(s.n), std::int64_t(s.c), std::int64_t(s.h), std::int64_t(s.w)}),
      f);
}

/// The (sample, channel, row) of image row number `row` of a batch of shape s.
KOKKOS_INLINE_FUNCTION void split_row(std::int64_t row, const Shape& s, int& n, int& c, int& i) {
  i = int(row % s.h);
  c = int((row / s.h) % s.c);
  n = int(row / (std::int64_t(s.h) * s.c));
}

/// Array reduction over image rows (n, c, i): sums[key] += sum_j f(n, c, i, j), the key being
/// the channel c (PerChannel) or the sample n. Used for per-channel parameter derivatives
/// (scales, biases, weights) and per-sample energies.
template <class ExecSpace, class F, bool PerChannel>
struct RowSums {
  using value_type = double[];
  F f;
  Shape s;
  unsigned value_count;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t row, double* sums) const {
    int n, c, i;
    split_row(row, s, n, c, i);
    double acc = 0;
    for (int j = 0; j < s.w; ++j) acc += f(n, c, i, j);
    sums[PerChannel ? c : n] += acc;
  }
};

template <bool PerChannel, class ExecSpace, class F, class Out>
void row_sums(const char* label, const ExecSpace& space, const Shape& s, const F& f,
              const Out& out) {
  Kokkos::parallel_reduce(label,
                          Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(
                              space, 0, std::int64_t(s.n) * s.c * s.h),
                          RowSums<ExecSpace, F, PerChannel>{f, s, unsigned(PerChannel ? s.c : s.n)},
                          out);
}

/// out(c) = sum over samples and pixels of f(n, c, i, j), for c < s.c (out: device doubles).
template <class ExecSpace, class F, class Out>
void channel_sums(const char* label, const ExecSpace& space, const Shape& s, const F& f,
                  const Out& out) {
  row_sums<true>(label, space, s, f, out);
}

/// Reduction to `count` scalars: out[k] = sum over all (n, c, i, j) of f(n, c, i, j, sums) where
/// f adds its contributions to sums[0..count).
template <class ExecSpace, class F>
struct MultiSum {
  using value_type = double[];
  F f;
  Shape s;
  unsigned value_count;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t row, double* sums) const {
    int n, c, i;
    split_row(row, s, n, c, i);
    for (int j = 0; j < s.w; ++j) f(n, c, i, j, sums);
  }
};

template <class ExecSpace, class F, class Out>
void multi_sum(const char* label, const ExecSpace& space, const Shape& s, unsigned count,
               const F& f, const Out& out) {
  Kokkos::parallel_reduce(label,
                          Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(
                              space, 0, std::int64_t(s.n) * s.c * s.h),
                          MultiSum<ExecSpace, F>{f, s, count}, out);
}

/// out(n) = sum over channels and pixels of f(n, c, i, j) (out: device doubles of length N).
template <class ExecSpace, class F, class Out>
void sample_sums(const char* label, const ExecSpace& space, const Shape& s, const F& f,
                 const Out& out) {
  row_sums<false>(label, space, s, f, out);
}

}  // namespace bilevel::impl
