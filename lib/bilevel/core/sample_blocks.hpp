#pragma once
/// \file
/// How a batched kernel splits (sample, element) work into parallel items. Every batched
/// BLAS-1 kernel, noise and metric kernel uses this one mapping:
///  - on host backends an item is a contiguous block of one sample (the inner loop vectorises
///    and stays in L1);
///  - on GPU backends an item is one thread striding through one sample, consecutive items
///    reading consecutive addresses (coalesced loads).
/// Each item belongs to exactly one sample. Per-sample sums add the items of a sample in item
/// order on host backends (core/impl/fixed_order.hpp: the same bits at any thread count) and
/// are array reductions on GPUs (no atomics).

#include <bilevel/core/impl/fixed_order.hpp>
#include <bilevel/core/kokkos_compat.hpp>
#include <bilevel/core/views.hpp>
#include <cstdint>

namespace bilevel::impl {

template <class ExecSpace>
struct SampleBlocks {
  using execution_space = ExecSpace;
  using index_type = std::int64_t;
  static constexpr bool host = is_host_space_v<ExecSpace>;
  /// Elements per item on the host: 2048 floats = 8 KiB per operand.
  static constexpr index_type host_block = 2048;
  /// Threads per sample on a GPU.
  static constexpr index_type device_threads = 4096;

  int n = 0;
  index_type per_sample = 0;
  index_type items = 0;  // items per sample

  SampleBlocks() = default;
  SampleBlocks(int n_samples, index_type elements_per_sample)
      : n(n_samples), per_sample(elements_per_sample) {
    if constexpr (host) {
      items = (per_sample + host_block - 1) / host_block;
    } else {
      items = per_sample < device_threads ? per_sample : device_threads;
    }
    if (items < 1) items = 1;
  }
  explicit SampleBlocks(const Shape& s) : SampleBlocks(s.n, s.per_sample()) {}

  Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<index_type>> policy(
      const ExecSpace& space) const {
    return Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<index_type>>(space, 0, n * items);
  }

  KOKKOS_INLINE_FUNCTION int sample(index_type item) const { return int(item / items); }

  /// Sum of f(j) over the flat in-sample indices j that `item` owns, in double. On the host
  /// eight independent partial sums break the add-latency chain and let the compiler keep them
  /// in one vector register (the order is fixed, so results stay deterministic).
  template <class F>
  KOKKOS_INLINE_FUNCTION double sum(index_type item, const F& f) const {
    const index_type p = item % items;
    if constexpr (host) {
      constexpr int lanes = 8;
      const index_type b = p * host_block;
      const index_type e = b + host_block < per_sample ? b + host_block : per_sample;
      double acc[lanes] = {0, 0, 0, 0, 0, 0, 0, 0};
      index_type j = b;
      for (; j + lanes <= e; j += lanes)
        for (int u = 0; u < lanes; ++u) acc[u] += f(j + u);
      for (; j < e; ++j) acc[0] += f(j);
      return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    } else {
      double acc = 0;
      for (index_type j = p; j < per_sample; j += items) acc += f(j);
      return acc;
    }
  }

  /// Calls f(j) for the flat in-sample indices j that `item` owns.
  template <class F>
  KOKKOS_INLINE_FUNCTION void for_each(index_type item, const F& f) const {
    const index_type p = item % items;
    if constexpr (host) {
      const index_type b = p * host_block;
      const index_type e = b + host_block < per_sample ? b + host_block : per_sample;
      for (index_type j = b; j < e; ++j) f(j);
    } else {
      for (index_type j = p; j < per_sample; j += items) f(j);
    }
  }
};

/// \brief A batch seen as a (N, C*H*W) matrix: sample s is row s. Requires a contiguous View.
template <class View>
auto as_rows(const View& x) {
  static_assert(View::rank == 4, "bilevel: as_rows takes an image batch (N, C, H, W)");
  using value_type = typename View::value_type;
  using Rows = Kokkos::View<value_type**, Kokkos::LayoutRight, typename View::memory_space,
                            Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  require(x.span_is_contiguous(), "as_rows: View '", x.label(), "' is not contiguous");
  return Rows(x.data(), x.extent(0), x.extent(1) * x.extent(2) * x.extent(3));
}

/// \brief Per-sample reduction functor: out[s] = sum over the elements j of sample s of
/// op.row(s)(j). `op.row(s)` binds the sample once (row pointers, per-sample coefficients), so
/// the inner loop reads only restrict-qualified pointers and vectorises. Accumulates in double
/// whatever the image scalar (as kokkos-kernels' dot does).
template <class ExecSpace, class Op>
struct PerSampleSum {
  using value_type = double[];
  using size_type = typename ExecSpace::size_type;
  SampleBlocks<ExecSpace> blocks;
  Op op;
  unsigned value_count;

  PerSampleSum(const SampleBlocks<ExecSpace>& b, const Op& o)
      : blocks(b), op(o), value_count(unsigned(b.n)) {}

  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t item, double* sums) const {
    const int s = blocks.sample(item);
    sums[s] += blocks.sum(item, op.row(s));
  }
};

/// \brief Runs op over every (s, j) of the batch and writes the per-sample sums to `out`
/// (a rank-1 View of doubles in the execution space's memory). Host backends: one slot per
/// item, then each sample's items added in order, independent of the thread count.
template <class ExecSpace, class Op, class Out>
void per_sample_sum(const char* label, const ExecSpace& space,
                    const SampleBlocks<ExecSpace>& blocks, const Op& op, const Out& out) {
  static_assert(std::is_same<typename Out::non_const_value_type, double>::value,
                "bilevel: per-sample sums are accumulated into a View of double");
  if (blocks.n == 0) return;
  if constexpr (fixed_order_v<ExecSpace>) {
    const auto slots = chunk_partials(
        label, space, std::int64_t(blocks.n) * blocks.items, 1,
        KOKKOS_LAMBDA(std::int64_t item, double* acc) {
          acc[0] = blocks.sum(item, op.row(blocks.sample(item)));
        });
    const auto items = blocks.items;
    combine_in_order(
        space, slots, blocks.n, items, [=](int s, std::int64_t t) { return s * items + t; }, out);
  } else {
    Kokkos::parallel_reduce(label, blocks.policy(space), PerSampleSum<ExecSpace, Op>(blocks, op),
                            out);
  }
}

/// \brief Runs op.row(s)(j) over every element j of every sample s of the batch.
template <class ExecSpace, class Op>
void per_sample_for(const char* label, const ExecSpace& space,
                    const SampleBlocks<ExecSpace>& blocks, const Op& op) {
  if (blocks.n == 0) return;
  Kokkos::parallel_for(
      label, blocks.policy(space),
      KOKKOS_LAMBDA(std::int64_t item) { blocks.for_each(item, op.row(blocks.sample(item))); });
}

}  // namespace bilevel::impl
