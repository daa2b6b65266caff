#pragma once
/// \file
/// Batched BLAS-1 on image batches: every operation acts on each sample separately and
/// per-sample results are Views of length N that stay in device memory. The fused forms
/// (update + norm in one pass) halve the memory traffic of the solvers' hot loops.

#include <bilevel/core/sample_blocks.hpp>
#include <bilevel/core/views.hpp>

namespace bilevel {

/// \brief A coefficient that is either one scalar for the whole batch or one per sample.
template <class Scalar, class MemorySpace = DefaultMemSpace>
struct SampleCoef {
  Kokkos::View<const Scalar*, MemorySpace> per_sample;
  Scalar uniform = Scalar(0);
  bool varies = false;

  SampleCoef(Scalar a) : uniform(a) {}  // NOLINT: implicit on purpose, `axpby(space, 2.0, ...)`
  SampleCoef(const Kokkos::View<const Scalar*, MemorySpace>& a) : per_sample(a), varies(true) {}
  SampleCoef(const Kokkos::View<Scalar*, MemorySpace>& a) : per_sample(a), varies(true) {}

  KOKKOS_INLINE_FUNCTION Scalar operator()(int s) const { return varies ? per_sample(s) : uniform; }
};

namespace impl {
/// The coefficient type matching an image View (a non-deduced context: plain numbers convert).
template <class Y>
using CoefOf = SampleCoef<typename Y::non_const_value_type, typename Y::memory_space>;

// Each op binds one sample with row(s): raw restrict pointers into the sample's contiguous
// block and its coefficients, so inner loops carry no aliasing or indexing overhead.
template <class XRows, class YRows>
struct DotRows {
  XRows x;
  YRows y;
  struct Row {
    const typename XRows::value_type* KOKKOS_RESTRICT x;
    const typename YRows::value_type* KOKKOS_RESTRICT y;
    KOKKOS_INLINE_FUNCTION double operator()(std::int64_t j) const {
      return double(x[j]) * double(y[j]);
    }
  };
  KOKKOS_INLINE_FUNCTION Row row(int s) const { return Row{&x(s, 0), &y(s, 0)}; }
};

template <class XRows, class YRows>
struct SquaredDistanceRows {
  XRows x;
  YRows y;
  struct Row {
    const typename XRows::value_type* KOKKOS_RESTRICT x;
    const typename YRows::value_type* KOKKOS_RESTRICT y;
    KOKKOS_INLINE_FUNCTION double operator()(std::int64_t j) const {
      const double d = double(x[j]) - double(y[j]);
      return d * d;
    }
  };
  KOKKOS_INLINE_FUNCTION Row row(int s) const { return Row{&x(s, 0), &y(s, 0)}; }
};

/// y = a x + b y; with `Norm`, the row also returns y_new^2 for a fused reduction.
template <bool Norm, class Scalar, class Mem, class XRows, class YRows>
struct AxpbyRows {
  SampleCoef<Scalar, Mem> a, b;
  XRows x;
  YRows y;
  struct Row {
    Scalar a, b;
    const Scalar* KOKKOS_RESTRICT x;
    Scalar* KOKKOS_RESTRICT y;
    KOKKOS_INLINE_FUNCTION double operator()(std::int64_t j) const {
      const Scalar v = a * x[j] + b * y[j];
      y[j] = v;
      return Norm ? double(v) * double(v) : 0.0;
    }
  };
  KOKKOS_INLINE_FUNCTION Row row(int s) const { return Row{a(s), b(s), &x(s, 0), &y(s, 0)}; }
};

template <class ExecSpace, class Out>
void require_sums_view(const char* where, const Out& out, int n) {
  static_assert(Kokkos::SpaceAccessibility<ExecSpace, typename Out::memory_space>::accessible,
                "bilevel: the per-sample result View must be accessible from the execution space");
  require_per_sample(where, out, n);
}
}  // namespace impl

/// \brief out(s) = <x_s, y_s> for every sample s (accumulated in double).
template <class ExecSpace, class X, class Y, class Out>
void dot(const ExecSpace& space, const X& x, const Y& y, const Out& out) {
  require_same_shape("bilevel::dot", x, y);
  impl::require_sums_view<ExecSpace>("bilevel::dot", out, int(x.extent(0)));
  const auto xr = impl::as_rows(typename X::const_type(x));
  const auto yr = impl::as_rows(typename X::const_type(y));
  impl::per_sample_sum("bilevel::blas1::dot", space, impl::SampleBlocks<ExecSpace>(shape_of(x)),
                       impl::DotRows<decltype(xr), decltype(yr)>{xr, yr}, out);
}

/// \brief out(s) = ||x_s||^2 for every sample s.
template <class ExecSpace, class X, class Out>
void norm2_squared(const ExecSpace& space, const X& x, const Out& out) {
  dot(space, x, x, out);
}

/// \brief out(s) = ||x_s - y_s||^2 for every sample s.
template <class ExecSpace, class X, class Y, class Out>
void squared_distance(const ExecSpace& space, const X& x, const Y& y, const Out& out) {
  require_same_shape("bilevel::squared_distance", x, y);
  impl::require_sums_view<ExecSpace>("bilevel::squared_distance", out, int(x.extent(0)));
  const auto xr = impl::as_rows(typename X::const_type(x));
  const auto yr = impl::as_rows(typename X::const_type(y));
  impl::per_sample_sum("bilevel::blas1::squared_distance", space,
                       impl::SampleBlocks<ExecSpace>(shape_of(x)),
                       impl::SquaredDistanceRows<decltype(xr), decltype(yr)>{xr, yr}, out);
}

/// \brief y_s = a_s x_s + b_s y_s, with scalar or per-sample coefficients.
template <class ExecSpace, class X, class Y>
void axpby(const ExecSpace& space, const impl::CoefOf<Y>& a, const X& x, const impl::CoefOf<Y>& b,
           const Y& y) {
  using Scalar = typename Y::non_const_value_type;
  require_same_shape("bilevel::axpby", x, y);
  const auto xr = impl::as_rows(x);
  const auto yr = impl::as_rows(y);
  impl::per_sample_for(
      "bilevel::blas1::axpby", space, impl::SampleBlocks<ExecSpace>(shape_of(x)),
      impl::AxpbyRows<false, Scalar, typename Y::memory_space, decltype(xr), decltype(yr)>{a, b, xr,
                                                                                           yr});
}

/// \brief Fused y_s = a_s x_s + b_s y_s and out(s) = ||y_s||^2 in a single pass over memory.
template <class ExecSpace, class X, class Y, class Out>
void axpby_norm2(const ExecSpace& space, const impl::CoefOf<Y>& a, const X& x,
                 const impl::CoefOf<Y>& b, const Y& y, const Out& out) {
  using Scalar = typename Y::non_const_value_type;
  require_same_shape("bilevel::axpby_norm2", x, y);
  impl::require_sums_view<ExecSpace>("bilevel::axpby_norm2", out, int(x.extent(0)));
  const auto xr = impl::as_rows(x);
  const auto yr = impl::as_rows(y);
  impl::per_sample_sum(
      "bilevel::blas1::axpby_norm2", space, impl::SampleBlocks<ExecSpace>(shape_of(x)),
      impl::AxpbyRows<true, Scalar, typename Y::memory_space, decltype(xr), decltype(yr)>{a, b, xr,
                                                                                          yr},
      out);
}

}  // namespace bilevel
