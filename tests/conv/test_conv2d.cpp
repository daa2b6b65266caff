#include <bilevel/conv/conv2d.hpp>
#include <bilevel/core/blas1.hpp>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

template <class Scalar>
class Conv2d : public ::testing::Test {};
TYPED_TEST_SUITE(Conv2d, Scalars);

template <class Scalar>
Filters<Scalar> random_filters(int cout, int cin, int k, unsigned seed) {
  Filters<Scalar> w("w", cout, cin, k, k);
  auto h = Kokkos::create_mirror_view(w);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  for (std::size_t t = 0; t < h.span(); ++t) h.data()[t] = Scalar(u(gen));
  Kokkos::deep_copy(w, h);
  return w;
}

// Naive host reference of the forward convolution, in double.
template <class HX, class HW>
std::vector<double> reference_forward(const HX& x, const HW& w) {
  const int n = x.extent(0), cin = x.extent(1), h = x.extent(2), wd = x.extent(3);
  const int cout = w.extent(0), k = w.extent(2), r = k / 2;
  std::vector<double> y(std::size_t(n) * cout * h * wd, 0.0);
  for (int s = 0; s < n; ++s)
    for (int o = 0; o < cout; ++o)
      for (int i = 0; i < h; ++i)
        for (int j = 0; j < wd; ++j) {
          double acc = 0;
          for (int c = 0; c < cin; ++c)
            for (int a = 0; a < k; ++a)
              for (int b = 0; b < k; ++b) {
                const int ii = i + a - r, jj = j + b - r;
                if (ii >= 0 && ii < h && jj >= 0 && jj < wd)
                  acc += double(w(o, c, a, b)) * x(s, c, ii, jj);
              }
          y[((std::size_t(s) * cout + o) * h + i) * wd + j] = acc;
        }
  return y;
}

struct Case {
  Shape x;
  int cout, k;
};
// Channel counts hit every output blocking (1, 2, 3, 4, 8 and a remainder), kernel sizes the
// unrolled ones and the runtime one (9), images a single pixel, odd sizes and several tiles.
const Case kCases[] = {{{1, 1, 1, 1}, 1, 3},
                       {{2, 3, 5, 7}, 4, 5},
                       {{1, 4, 9, 6}, 8, 5},
                       {{2, 8, 6, 40}, 16, 5},
                       {{1, 2, 7, 33}, 3, 7},
                       {{1, 3, 11, 9}, 2, 9},
                       {{2, 1, 4, 70}, 5, 3},
                       {{1, 5, 3, 3}, 1, 7},
                       // 8-channel blocks with a partial last block, forward and adjoint
                       {{1, 3, 5, 18}, 20, 3},
                       {{1, 17, 4, 19}, 2, 5},
                       // rows with a partial last vector; 12 outputs in blocks of 4
                       {{2, 2, 3, 150}, 12, 5},
                       // rows of more vectors than the filter gradient sums in Scalar (64):
                       // column blocks
                       {{1, 1, 3, 1100}, 4, 3}};

TYPED_TEST(Conv2d, ForwardMatchesNaiveReference) {
  using S = TypeParam;
  for (const Case& cs : kCases) {
    auto x = random_images<S>(cs.x, 11, -1, 1);
    auto w = random_filters<S>(cs.cout, cs.x.c, cs.k, 12);
    auto y = make_images<S>("y", {cs.x.n, cs.cout, cs.x.h, cs.x.w});
    conv2d(DefaultExecSpace(), x, w, y);
    const auto ref = reference_forward(host_copy(x), host_copy(w));
    auto hy = host_copy(y);
    const double tol = sizeof(S) == 4 ? 1e-4 : 1e-12;
    for (std::size_t t = 0; t < ref.size(); ++t)
      ASSERT_NEAR(hy.data()[t], ref[t], tol * (1 + std::abs(ref[t])))
          << "x " << cs.x.str() << " cout " << cs.cout << " k " << cs.k << " element " << t;
  }
}

TYPED_TEST(Conv2d, AdjointIdentity) {
  using S = TypeParam;
  for (const Case& cs : kCases) {
    const Shape ys{cs.x.n, cs.cout, cs.x.h, cs.x.w};
    auto x = random_images<S>(cs.x, 21, -1, 1);
    auto y = random_images<S>(ys, 22, -1, 1);
    auto w = random_filters<S>(cs.cout, cs.x.c, cs.k, 23);
    auto wx = make_images<S>("wx", ys);
    auto wty = make_images<S>("wty", cs.x);
    conv2d(DefaultExecSpace(), x, w, wx);
    conv2d_adjoint(DefaultExecSpace(), y, w, wty);
    PerSample<double> lhs("lhs", cs.x.n), rhs("rhs", cs.x.n), nx("nx", cs.x.n), ny("ny", cs.x.n);
    dot(DefaultExecSpace(), wx, y, lhs);
    dot(DefaultExecSpace(), x, wty, rhs);
    norm2_squared(DefaultExecSpace(), wx, nx);
    norm2_squared(DefaultExecSpace(), y, ny);
    auto hl = host_copy(lhs), hr = host_copy(rhs), hx = host_copy(nx), hy = host_copy(ny);
    const double tol = sizeof(S) == 4 ? 1e-5 : 1e-13;
    for (int s = 0; s < cs.x.n; ++s)
      EXPECT_NEAR(hl(s), hr(s), tol * std::sqrt(hx(s) * hy(s)))
          << "x " << cs.x.str() << " cout " << cs.cout << " k " << cs.k;
  }
}

TYPED_TEST(Conv2d, FilterGradientIsTheDerivativeOfTheBilinearForm) {
  using S = TypeParam;
  for (const Case& cs : kCases) {
    const Shape gs{cs.x.n, cs.cout, cs.x.h, cs.x.w};
    auto x = random_images<S>(cs.x, 31, -1, 1);
    auto g = random_images<S>(gs, 32, -1, 1);
    Filters<S> dw("dw", cs.cout, cs.x.c, cs.k, cs.k);
    conv2d_filter_gradient(DefaultExecSpace(), x, g, dw);
    // <g, W x> is linear in W, so its derivative in W(o, c, a, b) is <g, E_ocab x>: the
    // forward convolution with a unit filter, checked against the naive reference.
    auto hx = host_copy(x), hg = host_copy(g);
    auto hdw = host_copy(dw);
    const int r = cs.k / 2;
    for (int o = 0; o < cs.cout; ++o)
      for (int c = 0; c < cs.x.c; ++c)
        for (int a = 0; a < cs.k; ++a)
          for (int b = 0; b < cs.k; ++b) {
            double ref = 0;
            for (int s = 0; s < cs.x.n; ++s)
              for (int i = 0; i < cs.x.h; ++i)
                for (int j = 0; j < cs.x.w; ++j) {
                  const int ii = i + a - r, jj = j + b - r;
                  if (ii >= 0 && ii < cs.x.h && jj >= 0 && jj < cs.x.w)
                    ref += double(hg(s, o, i, j)) * hx(s, c, ii, jj);
                }
            const double tol = sizeof(S) == 4 ? 1e-4 : 1e-12;
            ASSERT_NEAR(hdw(o, c, a, b), ref, tol * (1 + std::abs(ref)))
                << "x " << cs.x.str() << " cout " << cs.cout << " k " << cs.k;
          }
    // beta = 1 accumulates.
    conv2d_filter_gradient(DefaultExecSpace(), x, g, dw, S(1));
    auto h2 = host_copy(dw);
    for (std::size_t t = 0; t < h2.span(); ++t)
      ASSERT_NEAR(h2.data()[t], 2 * hdw.data()[t], 1e-6 * (1 + std::abs(hdw.data()[t])));
  }
}

// One operator applied to batches of changing size and image shape (its host scratch grows and
// is reused, a larger earlier staging left in it) gives each the naive reference.
TYPED_TEST(Conv2d, OneOperatorServesChangingShapes) {
  using S = TypeParam;
  const int cout = 6, cin = 2, k = 5;
  const auto w = random_filters<S>(cout, cin, k, 71);
  Conv2dOperator<S> op(cout, cin, k);
  op.set_filters(DefaultExecSpace(), w);
  const Shape shapes[] = {{1, cin, 6, 19}, {3, cin, 13, 75}, {2, cin, 5, 4}, {3, cin, 13, 75}};
  unsigned seed = 72;
  for (const Shape& xs : shapes) {
    auto x = random_images<S>(xs, seed++, -1, 1);
    auto y = make_images<S>("y", {xs.n, cout, xs.h, xs.w});
    op.forward(DefaultExecSpace(), x, y);
    const auto ref = reference_forward(host_copy(x), host_copy(w));
    auto hy = host_copy(y);
    const double tol = sizeof(S) == 4 ? 1e-4 : 1e-12;
    for (std::size_t t = 0; t < ref.size(); ++t)
      ASSERT_NEAR(hy.data()[t], ref[t], tol * (1 + std::abs(ref[t])))
          << "x " << xs.str() << " element " << t;
  }
}

// A selection computes its samples exactly as the full batch does and leaves the others alone
// (what lets converged CG samples stop costing time).
TYPED_TEST(Conv2d, SelectedSamplesOnly) {
  using S = TypeParam;
  const Shape xs{4, 3, 9, 21}, ys{4, 8, 9, 21};
  auto x = random_images<S>(xs, 51, -1, 1);
  auto y = random_images<S>(ys, 52, -1, 1);
  const auto w = random_filters<S>(8, 3, 5, 53);
  Conv2dOperator<S> op(8, 3, 5);
  op.set_filters(DefaultExecSpace(), w);
  auto wx_all = make_images<S>("wx_all", ys), wx_sel = make_images<S>("wx_sel", ys);
  auto wty_all = make_images<S>("wty_all", xs), wty_sel = make_images<S>("wty_sel", xs);
  op.forward(DefaultExecSpace(), x, wx_all);
  op.adjoint(DefaultExecSpace(), y, wty_all);
  Kokkos::deep_copy(wx_sel, S(7));
  Kokkos::deep_copy(wty_sel, S(7));
  Kokkos::View<int*> ids("ids", 2), flags("flags", 4);
  auto hi = Kokkos::create_mirror_view(ids);
  auto hf = Kokkos::create_mirror_view(flags);
  hi(0) = 1, hi(1) = 3;
  hf(0) = 0, hf(1) = 1, hf(2) = 0, hf(3) = 1;
  Kokkos::deep_copy(ids, hi);
  Kokkos::deep_copy(flags, hf);
  const auto sel = SampleSelection<DefaultMemSpace>::listed(ids, flags, 2);
  op.forward(DefaultExecSpace(), x, wx_sel, sel);
  op.adjoint(DefaultExecSpace(), y, wty_sel, sel);
  auto a = host_copy(wx_all), b = host_copy(wx_sel), c = host_copy(wty_all), d = host_copy(wty_sel);
  for (int n = 0; n < 4; ++n) {
    const bool on = hf(n) != 0;
    for (int o = 0; o < 8; ++o)
      for (int i = 0; i < 9; ++i)
        for (int j = 0; j < 21; ++j)
          ASSERT_EQ(b(n, o, i, j), on ? a(n, o, i, j) : S(7)) << "forward, sample " << n;
    for (int o = 0; o < 3; ++o)
      for (int i = 0; i < 9; ++i)
        for (int j = 0; j < 21; ++j)
          ASSERT_EQ(d(n, o, i, j), on ? c(n, o, i, j) : S(7)) << "adjoint, sample " << n;
  }
  expect_error([&] { op.forward(DefaultExecSpace(), x, wx_sel, SampleSelection<>::every(3)); },
               "sample selection for a batch of 3");
}

// Float inputs: products are summed in float over at most 64 vectors per lane, those partial
// sums in double. On a 512 x 512 image of positive values (262,144 products per weight, 4,096
// partial sums) the float result stays within one rounding of the double sum.
TEST(Conv2dFloat, FilterGradientIsTheDoubleSumToRounding) {
  const Shape xs{1, 1, 512, 512};
  auto x = random_images<float>(xs, 41, 0, 1);
  auto g = random_images<float>(xs, 42, 0, 1);
  Filters<float> dw("dw", 1, 1, 3, 3);
  conv2d_filter_gradient(DefaultExecSpace(), x, g, dw);
  auto hx = host_copy(x), hg = host_copy(g);
  auto hdw = host_copy(dw);
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) {
      double ref = 0;
      for (int i = 0; i < xs.h; ++i)
        for (int j = 0; j < xs.w; ++j) {
          const int ii = i + a - 1, jj = j + b - 1;
          if (ii >= 0 && ii < xs.h && jj >= 0 && jj < xs.w)
            ref += double(hg(0, 0, i, j)) * double(hx(0, 0, ii, jj));
        }
      EXPECT_NEAR(hdw(0, 0, a, b), ref, 1.2e-7 * ref) << "tap " << a << ", " << b;
    }
}

// The GPU kernels (one thread per pixel; one team per filter weight) are written for any
// execution space, so they run here on the host too: each must give the host kernels' result
// (what a GPU build computes, checked where no GPU is).
TYPED_TEST(Conv2d, DeviceKernelsAgreeWithTheHostKernels) {
  using S = TypeParam;
  using Exec = DefaultExecSpace;
  const Shape xs{2, 3, 7, 37};
  const int cout = 8, k = 5;
  auto x = random_images<S>(xs, 61, -1, 1);
  auto g = random_images<S>({xs.n, cout, xs.h, xs.w}, 62, -1, 1);
  const auto w = random_filters<S>(cout, xs.c, k, 63);
  Conv2dOperator<S> op(cout, xs.c, k);
  op.set_filters(Exec(), w);
  auto y_host = make_images<S>("y_host", {xs.n, cout, xs.h, xs.w});
  auto y_dev = make_images<S>("y_dev", {xs.n, cout, xs.h, xs.w});
  op.forward(Exec(), x, y_host);

  constexpr int OB = 8;
  Kokkos::View<S*, DefaultMemSpace> packed("packed", std::int64_t(cout) * xs.c * k * k);
  impl::pack_block<Exec, false, OB>(Exec(), w, packed, xs.c, cout);
  using Direct = impl::Conv2dDirect<Exec, OB, 5, typename Images<S>::const_type,
                                    typename decltype(packed)::const_type, Images<S>>;
  Direct f(x, packed, k, y_dev, SampleSelection<DefaultMemSpace>::every(xs.n));
  Kokkos::parallel_for(
      Kokkos::RangePolicy<Exec, Kokkos::IndexType<std::int64_t>>(Exec(), 0, f.items()), f);
  auto a = host_copy(y_host), b = host_copy(y_dev);
  const double tol = sizeof(S) == 4 ? 1e-5 : 1e-13;
  for (std::size_t t = 0; t < a.span(); ++t)
    ASSERT_NEAR(a.data()[t], b.data()[t], tol * (1 + std::abs(a.data()[t]))) << "forward " << t;

  Filters<S> dw_host("dw_host", cout, xs.c, k, k), dw_dev("dw_dev", cout, xs.c, k, k);
  conv2d_filter_gradient(Exec(), x, g, dw_host);
  using Team = impl::Conv2dFilterGradTeam<Exec, typename Images<S>::const_type,
                                          typename Images<S>::const_type, Filters<S>>;
  Team t{x, g, dw_dev, S(0), xs.n, xs.c, xs.h, xs.w, k};
  Kokkos::parallel_for(Kokkos::TeamPolicy<Exec>(Exec(), cout * xs.c * k * k, Kokkos::AUTO), t);
  auto c = host_copy(dw_host), d = host_copy(dw_dev);
  for (std::size_t e = 0; e < c.span(); ++e)
    ASSERT_NEAR(c.data()[e], d.data()[e], tol * 10 * (1 + std::abs(c.data()[e])))
        << "filter gradient " << e;
}

TYPED_TEST(Conv2d, MismatchesAreRefused) {
  using S = TypeParam;
  auto x = random_images<S>({1, 3, 8, 8}, 1);
  auto y = make_images<S>("y", {1, 4, 8, 8});
  auto w_cin = random_filters<S>(4, 2, 5, 1);
  auto w_even = random_filters<S>(4, 3, 4, 1);
  auto w_ok = random_filters<S>(4, 3, 5, 1);
  auto y_small = make_images<S>("y", {1, 4, 8, 7});
  expect_error([&] { conv2d(DefaultExecSpace(), x, w_cin, y); },
               "input has 3 channels, the filters expect 2");
  expect_error([&] { conv2d(DefaultExecSpace(), x, w_even, y); }, "must be odd");
  expect_error(
      [&] {
        Conv2dOperator<S> op(4, 3, 5);
        op.set_filters(DefaultExecSpace(), w_cin);
      },
      "filters are 4x2x5x5, the layer is 4x3x5x5");
  expect_error([&] { conv2d(DefaultExecSpace(), x, w_ok, y_small); },
               "differ in batch or image size");
  expect_error([&] { conv2d_adjoint(DefaultExecSpace(), x, w_ok, y); },
               "input has 3 channels, the filters expect 4");
}

}  // namespace
}  // namespace bilevel::test
