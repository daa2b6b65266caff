#pragma once
/// \file
/// Multi-channel 2D convolution over a batch, stride 1, zero padding "same", odd k x k kernels:
///
///   forward          y(n, o, i, j) = sum_{c, a, b} W(o, c, a, b) x(n, c, i + a - r, j + b - r)
///   adjoint          x = W^T y  (transposed convolution with the same filters)
///   filter gradient  dW = d<g, W x>/dW,  dW(o, c, a, b) = sum_{n, i, j} g(n, o, i, j) x(n, c, i +
///   a - r, j + b - r)
///
/// with r = k / 2 and x taken as zero outside the image (cross-correlation, as in PyTorch).
/// The adjoint satisfies <W x, y> = <x, W^T y> exactly in exact arithmetic (tested).

#include <bilevel/conv/impl/conv2d_direct.hpp>
#include <bilevel/core/views.hpp>
#include <type_traits>

namespace bilevel {

/// \brief Convolution filters (Cout, Cin, k, k).
template <class Scalar, class MemorySpace = DefaultMemSpace>
using Filters = Kokkos::View<Scalar****, Kokkos::LayoutRight, MemorySpace>;

namespace impl {

template <class X, class Y>
void check_conv(const char* where, const X& x, int x_channels, const Y& y, int y_channels, int k) {
  require(k % 2 == 1 && k >= 1 && k <= kMaxConvKernel, where,
          ": filters must be square with an odd size up to ", kMaxConvKernel, ", got ", k);
  require(int(x.extent(1)) == x_channels, where, ": input has ", x.extent(1),
          " channels, the filters expect ", x_channels);
  require(int(y.extent(1)) == y_channels, where, ": output has ", y.extent(1),
          " channels, the filters produce ", y_channels);
  require(x.extent(0) == y.extent(0) && x.extent(2) == y.extent(2) && x.extent(3) == y.extent(3),
          where, ": input ", shape_of(x).str(), " and output ", shape_of(y).str(),
          " differ in batch or image size");
  require(x.span_is_contiguous() && y.span_is_contiguous(), where, ": Views must be contiguous");
}

/// Output-channel blocking: as many lanes as the layer has outputs, up to 8 (on the host 8
/// channels x host_conv_tile_vectors vectors of pixels are the register tile).
template <class ExecSpace, class Scalar>
inline int conv_block(int n_out) {
  if (n_out >= 8) return 8;
  if (n_out >= 4) return 4;
  return n_out;  // 1, 2 or 3
}

template <class Y>
using SelectionFor = SampleSelection<typename Y::memory_space>;

template <class ExecSpace, int OB, int K, class X, class P, class Y>
void launch_direct(const char* label, const ExecSpace& space, const X& x, const P& packed, int k,
                   const Y& y, const SelectionFor<Y>& sel) {
  using CX = typename X::const_type;
  using CP = typename P::const_type;
  const auto run = [&](const auto& f) {
    Kokkos::parallel_for(
        label, Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, f.items()),
        f);
  };
  if constexpr (is_host_space_v<ExecSpace>)
    run(Conv2dDirectHost<ExecSpace, OB, host_conv_tile_vectors<typename Y::value_type>, K, CX, CP,
                         Y>(x, packed, k, y, sel));
  else
    run(Conv2dDirect<ExecSpace, OB, K, CX, CP, Y>(x, packed, k, y, sel));
}

template <class ExecSpace, int OB, class X, class P, class Y>
void dispatch_k(const char* label, const ExecSpace& space, const X& x, const P& p, int k,
                const Y& y, const SelectionFor<Y>& sel) {
  switch (k) {
    case 3:
      return launch_direct<ExecSpace, OB, 3>(label, space, x, p, k, y, sel);
    case 5:
      return launch_direct<ExecSpace, OB, 5>(label, space, x, p, k, y, sel);
    case 7:
      return launch_direct<ExecSpace, OB, 7>(label, space, x, p, k, y, sel);
    default:
      return launch_direct<ExecSpace, OB, 0>(label, space, x, p, k, y, sel);
  }
}

template <class ExecSpace, class X, class P, class Y>
void dispatch_direct(const char* label, const ExecSpace& space, const X& x, const P& p, int k,
                     int ob, const Y& y, const SelectionFor<Y>& sel) {
  switch (ob) {
    case 8:
      return dispatch_k<ExecSpace, 8>(label, space, x, p, k, y, sel);
    case 4:
      return dispatch_k<ExecSpace, 4>(label, space, x, p, k, y, sel);
    case 3:
      return dispatch_k<ExecSpace, 3>(label, space, x, p, k, y, sel);
    case 2:
      return dispatch_k<ExecSpace, 2>(label, space, x, p, k, y, sel);
    default:
      return dispatch_k<ExecSpace, 1>(label, space, x, p, k, y, sel);
  }
}

template <class ExecSpace, bool Adjoint, int OB, class Wt, class P>
void pack_block(const ExecSpace& space, const Wt& w, const P& packed, int n_in, int n_out) {
  const int k = int(w.extent(2));
  PackFilters<ExecSpace, Adjoint, OB, typename Wt::const_type, P> f{w, packed, n_in, n_out, k};
  Kokkos::parallel_for("bilevel::conv::pack_filters",
                       Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(
                           space, 0, std::int64_t(packed.extent(0))),
                       f);
}

template <class ExecSpace, bool Adjoint, class Wt, class P>
void pack(const ExecSpace& space, const Wt& w, const P& packed, int n_in, int n_out, int ob) {
  switch (ob) {
    case 8:
      return pack_block<ExecSpace, Adjoint, 8>(space, w, packed, n_in, n_out);
    case 4:
      return pack_block<ExecSpace, Adjoint, 4>(space, w, packed, n_in, n_out);
    case 3:
      return pack_block<ExecSpace, Adjoint, 3>(space, w, packed, n_in, n_out);
    case 2:
      return pack_block<ExecSpace, Adjoint, 2>(space, w, packed, n_in, n_out);
    default:
      return pack_block<ExecSpace, Adjoint, 1>(space, w, packed, n_in, n_out);
  }
}

template <class Scalar, class MemorySpace>
using PaddedRows = Kokkos::View<Scalar****, Kokkos::LayoutRight, MemorySpace,
                                Kokkos::MemoryTraits<Kokkos::Unmanaged>>;

/// The selected samples of x (N, C, H, W) as padded rows (PadRows) in `buffer`, which grows
/// when too small (host backends).
template <class ExecSpace, class X, class Buffer>
PaddedRows<typename Buffer::value_type, typename Buffer::memory_space> stage_padded_rows(
    const ExecSpace& space, const X& x, const SampleSelection<typename Buffer::memory_space>& sel,
    Buffer& buffer) {
  using Scalar = typename Buffer::value_type;
  using Rows = PaddedRows<Scalar, typename Buffer::memory_space>;
  const auto shape = padded_rows<Scalar>(int(x.extent(3)));
  const int n = int(x.extent(0)), c = int(x.extent(1)), h = int(x.extent(2));
  const std::size_t need = std::size_t(n) * c * h * shape.stride;
  if (buffer.extent(0) < need)
    buffer =
        Buffer(Kokkos::view_alloc(Kokkos::WithoutInitializing, "bilevel::conv::padded_rows"), need);
  const Rows rows(buffer.data(), n, c, h, shape.stride);
  PadRows<typename X::const_type, Rows> pad{
      x, rows, sel, c, h, int(x.extent(3)), shape.margin, shape.stride};
  Kokkos::parallel_for("bilevel::conv::pad_rows",
                       Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(
                           space, 0, std::int64_t(sel.count) * c * h),
                       pad);
  return rows;
}

template <class ExecSpace, int K, class X, class G, class DW>
void launch_filter_grad(const ExecSpace& space, const X& x, const G& g, const DW& dw,
                        typename DW::non_const_value_type beta) {
  using CX = typename X::const_type;
  using CG = typename G::const_type;
  const int cout = int(dw.extent(0)), cin = int(dw.extent(1)), k = int(dw.extent(2));
  if constexpr (is_host_space_v<ExecSpace>) {
    using Scalar = typename DW::non_const_value_type;
    Kokkos::View<Scalar*, typename DW::memory_space> buffer;
    const auto rows = stage_padded_rows(
        space, x, SampleSelection<typename DW::memory_space>::every(int(x.extent(0))), buffer);
    using Rows = typename std::remove_const_t<decltype(rows)>::const_type;
    // Output channels in blocks of host_filter_grad_block (4: the CRR's 4, 8 and 64), else 2
    // (FoE's 10), else one.
    const auto run = [&](auto block) {
      constexpr int OB = decltype(block)::value;
      Conv2dFilterGradHost<ExecSpace, K, OB, Rows, CG, DW> f{
          rows, g, dw, beta, int(x.extent(0)), cin, int(x.extent(2)), int(x.extent(3)), k};
      Kokkos::parallel_for("bilevel::conv::filter_gradient",
                           Kokkos::RangePolicy<ExecSpace>(space, 0, cout / OB * cin * k), f);
    };
    if (host_filter_grad_block == 4 && cout % 4 == 0)
      run(std::integral_constant<int, 4>());
    else if (cout % 2 == 0)
      run(std::integral_constant<int, 2>());
    else
      run(std::integral_constant<int, 1>());
    space.fence();  // the padded rows are freed on return (a host backend may run asynchronously)
  } else {
    Conv2dFilterGradTeam<ExecSpace, CX, CG, DW> f{
        x, g, dw, beta, int(x.extent(0)), cin, int(x.extent(2)), int(x.extent(3)), k};
    Kokkos::parallel_for("bilevel::conv::filter_gradient",
                         Kokkos::TeamPolicy<ExecSpace>(space, cout * cin * k * k, Kokkos::AUTO), f);
  }
}

}  // namespace impl

/// \brief A convolution layer's filters, packed once for the forward and the adjoint pass.
/// Regularizers keep one per layer and call set_filters() when the parameters change (once per
/// upper-level step); the solvers' many forward/adjoint applications then reuse the packing.
/// On host backends forward and adjoint first copy their input into rows with zero margins held
/// by the operator (grown to the largest input seen): one operator runs one application at a
/// time.
template <class Scalar, class ExecSpace = DefaultExecSpace>
class Conv2dOperator {
 public:
  using execution_space = ExecSpace;
  using memory_space = typename ExecSpace::memory_space;

  Conv2dOperator() = default;
  /// Allocates the packed buffers of a Cout x Cin x k x k layer.
  Conv2dOperator(int out_channels, int in_channels, int kernel_size)
      : m_cout(out_channels),
        m_cin(in_channels),
        m_k(kernel_size),
        m_ob_fwd(impl::conv_block<ExecSpace, Scalar>(out_channels)),
        m_ob_adj(impl::conv_block<ExecSpace, Scalar>(in_channels)) {
    require(out_channels > 0 && in_channels > 0, "bilevel::Conv2dOperator: channel counts must be ",
            "positive, got ", out_channels, " and ", in_channels);
    require(kernel_size % 2 == 1 && kernel_size >= 1 && kernel_size <= impl::kMaxConvKernel,
            "bilevel::Conv2dOperator: kernel size must be odd and at most ", impl::kMaxConvKernel,
            ", got ", kernel_size);
    const std::int64_t taps = std::int64_t(kernel_size) * kernel_size;
    m_fwd = Kokkos::View<Scalar*, memory_space>(
        Kokkos::view_alloc(Kokkos::WithoutInitializing, "bilevel::conv::packed_forward"),
        std::int64_t((m_cout + m_ob_fwd - 1) / m_ob_fwd) * m_ob_fwd * m_cin * taps);
    m_adj = Kokkos::View<Scalar*, memory_space>(
        Kokkos::view_alloc(Kokkos::WithoutInitializing, "bilevel::conv::packed_adjoint"),
        std::int64_t((m_cin + m_ob_adj - 1) / m_ob_adj) * m_ob_adj * m_cout * taps);
  }

  /// Packs filters w (Cout, Cin, k, k) for both directions.
  template <class Wt>
  void set_filters(const ExecSpace& space, const Wt& w) {
    static_assert(Wt::rank == 4, "bilevel: filters are a rank-4 View (Cout, Cin, k, k)");
    require(int(w.extent(0)) == m_cout && int(w.extent(1)) == m_cin && int(w.extent(2)) == m_k &&
                int(w.extent(3)) == m_k,
            "bilevel::Conv2dOperator::set_filters: filters are ", w.extent(0), "x", w.extent(1),
            "x", w.extent(2), "x", w.extent(3), ", the layer is ", m_cout, "x", m_cin, "x", m_k,
            "x", m_k);
    impl::pack<ExecSpace, false>(space, w, m_fwd, m_cin, m_cout, m_ob_fwd);
    impl::pack<ExecSpace, true>(space, w, m_adj, m_cout, m_cin, m_ob_adj);
  }

  using Selection = SampleSelection<memory_space>;

  /// y = W x; x (N, Cin, H, W), y (N, Cout, H, W). With a selection only its samples are
  /// computed (the others of y are left as they are).
  template <class X, class Y>
  void forward(const ExecSpace& space, const X& x, const Y& y) const {
    forward(space, x, y, Selection::every(int(y.extent(0))));
  }
  template <class X, class Y>
  void forward(const ExecSpace& space, const X& x, const Y& y, const Selection& sel) const {
    impl::check_conv("bilevel::conv2d", x, m_cin, y, m_cout, m_k);
    apply("bilevel::conv::forward", space, x, m_fwd, m_ob_fwd, y, sel);
  }

  /// x = W^T y; y (N, Cout, H, W), x (N, Cin, H, W); with a selection as forward.
  template <class Y, class X>
  void adjoint(const ExecSpace& space, const Y& y, const X& x) const {
    adjoint(space, y, x, Selection::every(int(x.extent(0))));
  }
  template <class Y, class X>
  void adjoint(const ExecSpace& space, const Y& y, const X& x, const Selection& sel) const {
    impl::check_conv("bilevel::conv2d_adjoint", y, m_cout, x, m_cin, m_k);
    apply("bilevel::conv::adjoint", space, y, m_adj, m_ob_adj, x, sel);
  }

  int out_channels() const { return m_cout; }
  int in_channels() const { return m_cin; }
  int kernel_size() const { return m_k; }

 private:
  using Packed = Kokkos::View<Scalar*, memory_space>;

  /// On host backends the input is first staged into rows with zero margins (the operator's
  /// scratch, grown on demand and reused; so one operator runs one application at a time).
  template <class In, class Out>
  void apply(const char* label, const ExecSpace& space, const In& in, const Packed& packed, int ob,
             const Out& out, const Selection& sel) const {
    require_selection(label, sel, int(out.extent(0)));
    if constexpr (is_host_space_v<ExecSpace>) {
      const auto rows = impl::stage_padded_rows(space, in, sel, m_padded);
      impl::dispatch_direct(label, space, rows, packed, m_k, ob, out, sel);
    } else {
      impl::dispatch_direct(label, space, in, packed, m_k, ob, out, sel);
    }
  }

  int m_cout = 0, m_cin = 0, m_k = 0, m_ob_fwd = 1, m_ob_adj = 1;
  Packed m_fwd, m_adj;
  mutable Packed m_padded;  // host backends: the input in padded rows (see apply)
};

/// \brief y = W x for a batch: x (N, Cin, H, W), filters (Cout, Cin, k, k), y (N, Cout, H, W).
/// Packs the filters on every call; keep a Conv2dOperator to apply the same filters often.
template <class ExecSpace, class X, class Wt, class Y>
void conv2d(const ExecSpace& space, const X& x, const Wt& w, const Y& y) {
  static_assert(Wt::rank == 4, "bilevel: filters are a rank-4 View (Cout, Cin, k, k)");
  require(w.extent(2) == w.extent(3), "bilevel::conv2d: filters must be square, got ", w.extent(2),
          "x", w.extent(3));
  Conv2dOperator<typename Y::non_const_value_type, ExecSpace> op(int(w.extent(0)), int(w.extent(1)),
                                                                 int(w.extent(2)));
  op.set_filters(space, w);
  op.forward(space, x, y);
}

/// \brief x = W^T y: the adjoint of conv2d with the same filters (packs on every call).
template <class ExecSpace, class Y, class Wt, class X>
void conv2d_adjoint(const ExecSpace& space, const Y& y, const Wt& w, const X& x) {
  static_assert(Wt::rank == 4, "bilevel: filters are a rank-4 View (Cout, Cin, k, k)");
  require(w.extent(2) == w.extent(3), "bilevel::conv2d_adjoint: filters must be square, got ",
          w.extent(2), "x", w.extent(3));
  Conv2dOperator<typename X::non_const_value_type, ExecSpace> op(int(w.extent(0)), int(w.extent(1)),
                                                                 int(w.extent(2)));
  op.set_filters(space, w);
  op.adjoint(space, y, x);
}

/// \brief dW = beta dW + d<g, W x>/dW (the derivative of the bilinear form in the filters).
/// x (N, Cin, H, W), g (N, Cout, H, W), dW (Cout, Cin, k, k). beta = 0 overwrites dW.
template <class ExecSpace, class X, class G, class DW>
void conv2d_filter_gradient(const ExecSpace& space, const X& x, const G& g, const DW& dw,
                            typename DW::non_const_value_type beta = 0) {
  static_assert(DW::rank == 4, "bilevel: filters are a rank-4 View (Cout, Cin, k, k)");
  require(dw.extent(2) == dw.extent(3), "bilevel::conv2d_filter_gradient: filters must be square");
  impl::check_conv("bilevel::conv2d_filter_gradient", x, int(dw.extent(1)), g, int(dw.extent(0)),
                   int(dw.extent(2)));
  switch (dw.extent(2)) {
    case 3:
      return impl::launch_filter_grad<ExecSpace, 3>(space, x, g, dw, beta);
    case 5:
      return impl::launch_filter_grad<ExecSpace, 5>(space, x, g, dw, beta);
    case 7:
      return impl::launch_filter_grad<ExecSpace, 7>(space, x, g, dw, beta);
    default:
      return impl::launch_filter_grad<ExecSpace, 0>(space, x, g, dw, beta);
  }
}

/// \brief Floating-point operations of one forward, adjoint or filter-gradient pass (2 per
/// multiply-add, border zeros counted as in a dense implementation).
inline double conv2d_flops(const Shape& x, int cout, int k) {
  return 2.0 * x.n * double(cout) * x.c * k * k * double(x.h) * x.w;
}

}  // namespace bilevel
