#pragma once
/// \file
/// The samples of a batch that a kernel works on: all of them, or a list. Iterative solvers pass
/// the samples that have not converged yet, so that finished samples stop costing time: the
/// kernels launch work for the listed samples only (compacted index space, no idle items), and
/// the data stay where they are.

#include <bilevel/core/views.hpp>

namespace bilevel {

/// \brief All samples of a batch of `total`, or the `count` listed in `ids` (ascending, device
/// indices) with `active(n)` = 1 exactly for the listed ones.
template <class MemorySpace = DefaultMemSpace>
struct SampleSelection {
  using Indices = Kokkos::View<const int*, MemorySpace>;
  Indices ids;     // the listed samples (unused when all)
  Indices active;  // per-sample 0/1 flags of the batch (unused when all)
  int total = 0;   // batch size
  int count = 0;   // samples selected
  bool all = true;

  /// Every sample of a batch of n.
  static SampleSelection every(int n) { return SampleSelection{{}, {}, n, n, true}; }
  /// The samples listed in ids[0, count) of a batch whose 0/1 flags are `flags`.
  static SampleSelection listed(const Indices& ids, const Indices& flags, int count) {
    const int n = int(flags.extent(0));
    require(count >= 0 && count <= n && ids.extent(0) >= std::size_t(count),
            "bilevel::SampleSelection: ", count, " samples listed in ", ids.extent(0),
            " slots for a batch of ", n);
    return SampleSelection{ids, flags, n, count, count == n};
  }

  /// The k-th selected sample (k < count).
  KOKKOS_INLINE_FUNCTION int sample(int k) const { return all ? k : ids(k); }
  /// Whether sample n is selected.
  KOKKOS_INLINE_FUNCTION bool contains(int n) const { return all || active(n) != 0; }
};

/// \brief Throws unless a selection covers a batch of n samples.
template <class M>
void require_selection(const char* where, const SampleSelection<M>& sel, int n) {
  require(sel.total == n, where, ": sample selection for a batch of ", sel.total, ", got ", n,
          " samples");
}

namespace impl {

/// f(n, c, i, j) over every element of the selected samples of a batch of shape s (a compacted
/// 4D range: no work for the others).
template <class ExecSpace, class F>
void for_each_selected_pixel(const char* label, const ExecSpace& space, const Shape& s,
                             const SampleSelection<typename ExecSpace::memory_space>& sel,
                             const F& f) {
  require_selection(label, sel, s.n);
  Kokkos::parallel_for(
      label,
      Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<4>, Kokkos::IndexType<std::int64_t>>(
          space, {0, 0, 0, 0},
          {std::int64_t(sel.count), std::int64_t(s.c), std::int64_t(s.h), std::int64_t(s.w)}),
      KOKKOS_LAMBDA(std::int64_t k, std::int64_t c, std::int64_t i, std::int64_t j) {
        f(std::int64_t(sel.sample(int(k))), c, i, j);
      });
}

/// Zeroes the samples of x outside the selection (nothing when all are selected).
template <class ExecSpace, class View>
void zero_unselected(const ExecSpace& space, const View& x,
                     const SampleSelection<typename ExecSpace::memory_space>& sel) {
  require_selection("bilevel::zero_unselected", sel, int(x.extent(0)));
  if (sel.all) return;
  using Scalar = typename View::non_const_value_type;
  const Shape s = shape_of(x);
  Kokkos::parallel_for(
      "bilevel::zero_unselected",
      Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<4>, Kokkos::IndexType<std::int64_t>>(
          space, {0, 0, 0, 0},
          {std::int64_t(s.n), std::int64_t(s.c), std::int64_t(s.h), std::int64_t(s.w)}),
      KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
        if (!sel.contains(int(n))) x(n, c, i, j) = Scalar(0);
      });
}

/// to = from on the selected samples (bit copies); the others of `to` are left as they are.
template <class ExecSpace, class From, class To>
void copy_selected(const ExecSpace& space, const From& from, const To& to,
                   const SampleSelection<typename ExecSpace::memory_space>& sel) {
  if constexpr (To::rank == 1) {
    require_selection("bilevel::copy_selected", sel, int(to.extent(0)));
    Kokkos::parallel_for(
        "bilevel::copy_selected", Kokkos::RangePolicy<ExecSpace>(space, 0, sel.count),
        KOKKOS_LAMBDA(int k) { to(sel.sample(k)) = from(sel.sample(k)); });
  } else {
    for_each_selected_pixel(
        "bilevel::copy_selected", space, shape_of(to), sel,
        KOKKOS_LAMBDA(std::int64_t n, std::int64_t c, std::int64_t i, std::int64_t j) {
          to(n, c, i, j) = from(n, c, i, j);
        });
  }
}

}  // namespace impl
}  // namespace bilevel
