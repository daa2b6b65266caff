#pragma once
/// \file
/// Per-sample masked vector operations for the batched solvers: each sample has its own
/// coefficients and an "active" flag, so samples converge independently inside one batch.

#include <bilevel/core/blas1.hpp>
#include <bilevel/core/sample_selection.hpp>

namespace bilevel::impl {

/// Per-sample flags (1 = active) and counters.
template <class MemorySpace>
using Flags = Kokkos::View<int*, MemorySpace>;

template <class Scalar, class Mem, class R>
struct MaskedLincombRows {
  Flags<Mem> mask;
  Kokkos::View<const Scalar*, Mem> a, b, c;
  R x, y, z, out;
  struct Row {
    bool on;
    Scalar a, b, c;
    const Scalar *x, *y, *z;
    Scalar* out;
    // A zero coefficient skips its input entirely (0 * NaN would be NaN), so unused buffers
    // may hold anything.
    KOKKOS_INLINE_FUNCTION void operator()(std::int64_t j) const {
      if (!on) return;
      Scalar v = a == Scalar(0) ? Scalar(0) : a * x[j];
      if (b != Scalar(0)) v += b * y[j];
      if (c != Scalar(0)) v += c * z[j];
      out[j] = v;
    }
  };
  KOKKOS_INLINE_FUNCTION Row row(int s) const {
    return Row{mask(s) != 0, a(s), b(s), c(s), &x(s, 0), &y(s, 0), &z(s, 0), &out(s, 0)};
  }
};

/// out_s = a_s x_s + b_s y_s + c_s z_s for the samples with mask(s) != 0; others untouched.
/// `out` may alias any input; inputs with a zero coefficient are not read.
template <class ExecSpace, class Scalar, class V>
void masked_lincomb(const ExecSpace& space, const Flags<typename ExecSpace::memory_space>& mask,
                    const Kokkos::View<Scalar*, typename ExecSpace::memory_space>& a, const V& x,
                    const Kokkos::View<Scalar*, typename ExecSpace::memory_space>& b, const V& y,
                    const Kokkos::View<Scalar*, typename ExecSpace::memory_space>& c, const V& z,
                    const V& out) {
  using Mem = typename ExecSpace::memory_space;
  const auto xr = as_rows(x), yr = as_rows(y), zr = as_rows(z), outr = as_rows(out);
  per_sample_for("bilevel::solver::masked_lincomb", space, SampleBlocks<ExecSpace>(shape_of(out)),
                 MaskedLincombRows<Scalar, Mem, decltype(xr)>{mask, a, b, c, xr, yr, zr, outr});
}

/// Rows of out = x for the samples with mask(s) != 0.
template <class Scalar, class Mem, class R>
struct MaskedCopyRows {
  Flags<Mem> mask;
  R x, out;
  using Row = typename MaskedLincombRows<Scalar, Mem, R>::Row;
  KOKKOS_INLINE_FUNCTION Row row(int s) const {
    return Row{mask(s) != 0, Scalar(1), Scalar(0), Scalar(0),
               &x(s, 0),     &x(s, 0),  &x(s, 0),  &out(s, 0)};
  }
};

/// out_s = x_s for the samples with mask(s) != 0; the others untouched.
template <class ExecSpace, class V>
void masked_copy(const ExecSpace& space, const Flags<typename ExecSpace::memory_space>& mask,
                 const V& x, const V& out) {
  using Scalar = typename V::non_const_value_type;
  const auto xr = as_rows(x), outr = as_rows(out);
  per_sample_for(
      "bilevel::solver::masked_copy", space, SampleBlocks<ExecSpace>(shape_of(out)),
      MaskedCopyRows<Scalar, typename ExecSpace::memory_space, decltype(xr)>{mask, xr, outr});
}

template <class R>
struct DiffDotRows {
  R a, b, c, d;
  struct Row {
    const typename R::value_type *a, *b, *c, *d;
    KOKKOS_INLINE_FUNCTION double operator()(std::int64_t j) const {
      return (double(a[j]) - double(b[j])) * (double(c[j]) - double(d[j]));
    }
  };
  KOKKOS_INLINE_FUNCTION Row row(int s) const {
    return Row{&a(s, 0), &b(s, 0), &c(s, 0), &d(s, 0)};
  }
};

/// out(s) = <a_s - b_s, c_s - d_s> (the Barzilai-Borwein inner products without temporaries).
template <class ExecSpace, class V, class Out>
void diff_dot(const ExecSpace& space, const V& a, const V& b, const V& c, const V& d,
              const Out& out) {
  const auto ar = as_rows(a), br = as_rows(b), cr = as_rows(c), dr = as_rows(d);
  per_sample_sum("bilevel::solver::diff_dot", space, SampleBlocks<ExecSpace>(shape_of(a)),
                 DiffDotRows<decltype(ar)>{ar, br, cr, dr}, out);
}

/// Number of nonzero flags (fences: the host decides whether to iterate on).
template <class ExecSpace>
int count(const ExecSpace& space, const Flags<typename ExecSpace::memory_space>& flags) {
  int n = 0;
  Kokkos::parallel_reduce(
      "bilevel::solver::count", Kokkos::RangePolicy<ExecSpace>(space, 0, flags.extent(0)),
      KOKKOS_LAMBDA(int s, int& acc) { acc += flags(s) != 0; }, n);
  return n;
}

/// ids[0, count) = the samples whose flag is set, ascending (count: their number, known).
template <class ExecSpace>
SampleSelection<typename ExecSpace::memory_space> flagged_samples(
    const ExecSpace& space, const Flags<typename ExecSpace::memory_space>& flags,
    const Flags<typename ExecSpace::memory_space>& ids, int count) {
  using Selection = SampleSelection<typename ExecSpace::memory_space>;
  const int n = int(flags.extent(0));
  if (count == n) return Selection::every(n);
  Kokkos::parallel_scan(
      "bilevel::solver::flagged_samples", Kokkos::RangePolicy<ExecSpace>(space, 0, n),
      KOKKOS_LAMBDA(int s, int& offset, bool final) {
        if (flags(s) == 0) return;
        if (final) ids(offset) = s;
        offset += 1;
      });
  return Selection::listed(ids, flags, count);
}

/// Host copy of a per-sample View.
template <class V>
std::vector<typename V::non_const_value_type> to_vector(const V& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<typename V::non_const_value_type>(h.data(), h.data() + h.extent(0));
}

}  // namespace bilevel::impl
