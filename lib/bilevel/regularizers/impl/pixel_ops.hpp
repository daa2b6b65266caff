#pragma once
/// \file
/// Small building blocks shared by the regularizers' kernels: elementwise maps over a batch,
/// and reductions to per-channel or scalar sums (deterministic array reductions, accumulated in
/// double).

#include <bilevel/core/sample_blocks.hpp>
#include <bilevel/core/sample_selection.hpp>
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

/// Rows of one (sample, channel) plane that one host chunk adds up.
inline constexpr int kRowChunk = 8;

/// The host chunks of a batch: (n, c, row block), row blocks of kRowChunk rows.
struct RowChunks {
  Shape s;
  int blocks;  // row blocks per plane
  explicit RowChunks(const Shape& shape)
      : s(shape), blocks((shape.h + kRowChunk - 1) / kRowChunk) {}
  std::int64_t count() const { return std::int64_t(s.n) * s.c * blocks; }
  /// The (sample, channel) of a chunk and its rows [i0, i1).
  struct Rows {
    int n, c, i0, i1;
  };
  KOKKOS_INLINE_FUNCTION Rows rows(std::int64_t chunk) const {
    const int rb = int(chunk % blocks);
    const std::int64_t plane = chunk / blocks;
    const int i1 = (rb + 1) * kRowChunk < s.h ? (rb + 1) * kRowChunk : s.h;
    return Rows{int(plane / s.c), int(plane % s.c), rb * kRowChunk, i1};
  }
  /// Calls f(n, c, i, j) over the chunk's pixels in row-major order.
  template <class F>
  KOKKOS_INLINE_FUNCTION void for_each(std::int64_t chunk, const F& f) const {
    const Rows r = rows(chunk);
    for (int i = r.i0; i < r.i1; ++i)
      for (int j = 0; j < s.w; ++j) f(r.n, r.c, i, j);
  }
  /// Sum of f(n, c, i, j) over the chunk's pixels: eight partial sums along each row (fixed
  /// order) break the add-latency chain, as SampleBlocks::sum does.
  template <class F>
  KOKKOS_INLINE_FUNCTION double sum(std::int64_t chunk, const F& f) const {
    const Rows r = rows(chunk);
    const int n = r.n, c = r.c;
    constexpr int lanes = 8;
    double acc[lanes] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = r.i0; i < r.i1; ++i) {
      int j = 0;
      for (; j + lanes <= s.w; j += lanes)
        for (int u = 0; u < lanes; ++u) acc[u] += f(n, c, i, j + u);
      for (; j < s.w; ++j) acc[0] += f(n, c, i, j);
    }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  }
};

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
  if (std::int64_t(s.n) * s.c * s.h == 0) return;
  if constexpr (fixed_order_v<ExecSpace>) {
    const RowChunks rc(s);
    const auto slots = chunk_partials(
        label, space, rc.count(), 1,
        KOKKOS_LAMBDA(std::int64_t chunk, double* acc) { acc[0] = rc.sum(chunk, f); });
    // Chunk (n, c, b) sits at (n * C + c) * blocks + b; a key adds its chunks in that order.
    const int nc = s.c, blocks = rc.blocks;
    if constexpr (PerChannel) {
      combine_in_order(
          space, slots, s.c, std::int64_t(s.n) * blocks,
          [=](int c, std::int64_t t) {
            return (std::int64_t(t / blocks) * nc + c) * blocks + t % blocks;
          },
          out);
    } else {
      combine_in_order(
          space, slots, s.n, std::int64_t(nc) * blocks,
          [=](int n, std::int64_t t) { return std::int64_t(n) * nc * blocks + t; }, out);
    }
  } else {
    Kokkos::parallel_reduce(
        label,
        Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(
            space, 0, std::int64_t(s.n) * s.c * s.h),
        RowSums<ExecSpace, F, PerChannel>{f, s, unsigned(PerChannel ? s.c : s.n)}, out);
  }
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
  if (std::int64_t(s.n) * s.c * s.h == 0 || count == 0) return;
  if constexpr (fixed_order_v<ExecSpace>) {
    const RowChunks rc(s);
    const int width = int(count);
    const auto slots = chunk_partials(
        label, space, rc.count(), width, KOKKOS_LAMBDA(std::int64_t chunk, double* acc) {
          rc.for_each(chunk, [&](int n, int c, int i, int j) { f(n, c, i, j, acc); });
        });
    combine_in_order(
        space, slots, width, rc.count(), [=](int k, std::int64_t t) { return t * width + k; }, out);
  } else {
    Kokkos::parallel_reduce(label,
                            Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(
                                space, 0, std::int64_t(s.n) * s.c * s.h),
                            MultiSum<ExecSpace, F>{f, s, count}, out);
  }
}

/// out(n) = sum over channels and pixels of f(n, c, i, j) (out: device doubles of length N).
template <class ExecSpace, class F, class Out>
void sample_sums(const char* label, const ExecSpace& space, const Shape& s, const F& f,
                 const Out& out) {
  row_sums<false>(label, space, s, f, out);
}

}  // namespace bilevel::impl
