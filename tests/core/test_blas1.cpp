#include <bilevel/core/blas1.hpp>
#include <limits>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

template <class Scalar>
class Blas1 : public ::testing::Test {};
TYPED_TEST_SUITE(Blas1, Scalars);

// Sizes: a single pixel, odd extents, and a sample larger than one host block.
const Shape kShapes[] = {{1, 1, 1, 1}, {3, 2, 5, 7}, {2, 3, 64, 65}};

// Naive host reference: per-sample sum of f(x, y) in long double.
template <class HX, class HY, class F>
std::vector<double> reference(const HX& x, const HY& y, F f) {
  std::vector<double> out(x.extent(0));
  for (std::size_t n = 0; n < x.extent(0); ++n) {
    long double s = 0;
    for (std::size_t c = 0; c < x.extent(1); ++c)
      for (std::size_t i = 0; i < x.extent(2); ++i)
        for (std::size_t j = 0; j < x.extent(3); ++j) s += f(x(n, c, i, j), y(n, c, i, j));
    out[n] = double(s);
  }
  return out;
}

TYPED_TEST(Blas1, DotAndDistanceMatchHostReference) {
  using S = TypeParam;
  for (const Shape& s : kShapes) {
    auto x = random_images<S>(s, 1, -1, 1);
    auto y = random_images<S>(s, 2, -1, 1);
    PerSample<double> d("d", s.n), q("q", s.n), nrm("n", s.n);
    dot(DefaultExecSpace(), x, y, d);
    squared_distance(DefaultExecSpace(), x, y, q);
    norm2_squared(DefaultExecSpace(), x, nrm);
    auto hx = host_copy(x), hy = host_copy(y);
    auto rd = reference(hx, hy, [](double a, double b) { return a * b; });
    auto rq = reference(hx, hy, [](double a, double b) { return (a - b) * (a - b); });
    auto rn = reference(hx, hx, [](double a, double b) { return a * b; });
    auto hd = host_copy(d), hq = host_copy(q), hn = host_copy(nrm);
    for (int n = 0; n < s.n; ++n) {
      // Inputs are exactly representable in S; accumulation is in double.
      EXPECT_NEAR(hd(n), rd[n], 1e-12 * (1 + std::abs(rn[n]))) << s.str() << " sample " << n;
      EXPECT_NEAR(hq(n), rq[n], 1e-12 * (1 + rq[n])) << s.str() << " sample " << n;
      EXPECT_NEAR(hn(n), rn[n], 1e-12 * (1 + rn[n])) << s.str() << " sample " << n;
    }
  }
}

TYPED_TEST(Blas1, AxpbyWithUniformAndPerSampleCoefficients) {
  using S = TypeParam;
  const Shape s{3, 2, 9, 11};
  auto x = random_images<S>(s, 3, -1, 1);
  auto y = random_images<S>(s, 4, -1, 1);
  auto y0 = host_copy(y);
  axpby(DefaultExecSpace(), S(2), x, S(-0.5), y);
  auto hx = host_copy(x), hy = host_copy(y);
  // The kernel may contract a*x + b*y into an FMA: compare to one rounding in S.
  const double eps = 4 * std::numeric_limits<S>::epsilon();
  for (std::size_t k = 0; k < hy.span(); ++k)
    EXPECT_NEAR(hy.data()[k], 2.0 * hx.data()[k] - 0.5 * y0.data()[k], eps);

  PerSample<S> a("a", s.n), b("b", s.n);
  auto ha = Kokkos::create_mirror_view(a), hb = Kokkos::create_mirror_view(b);
  for (int n = 0; n < s.n; ++n) ha(n) = S(n + 1), hb(n) = S(0.25 * n);
  Kokkos::deep_copy(a, ha);
  Kokkos::deep_copy(b, hb);
  Kokkos::deep_copy(y, y0);
  axpby(DefaultExecSpace(), a, x, b, y);
  hy = host_copy(y);
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c)
      for (int i = 0; i < s.h; ++i)
        for (int j = 0; j < s.w; ++j)
          EXPECT_NEAR(hy(n, c, i, j),
                      double(ha(n)) * hx(n, c, i, j) + double(hb(n)) * y0(n, c, i, j), 4 * eps);
}

TYPED_TEST(Blas1, FusedUpdateAndNormEqualsSeparatePasses) {
  using S = TypeParam;
  for (const Shape& s : kShapes) {
    auto x = random_images<S>(s, 5, -1, 1);
    auto y1 = random_images<S>(s, 6, -1, 1);
    auto y2 = make_images<S>("y2", s);
    Kokkos::deep_copy(y2, y1);
    PerSample<double> fused("fused", s.n), separate("separate", s.n);
    axpby_norm2(DefaultExecSpace(), S(0.75), x, S(1.5), y1, fused);
    axpby(DefaultExecSpace(), S(0.75), x, S(1.5), y2);
    norm2_squared(DefaultExecSpace(), y2, separate);
    auto h1 = host_copy(y1), h2 = host_copy(y2);
    for (std::size_t k = 0; k < h1.span(); ++k) ASSERT_EQ(h1.data()[k], h2.data()[k]);
    auto hf = host_copy(fused), hs = host_copy(separate);
    for (int n = 0; n < s.n; ++n) EXPECT_DOUBLE_EQ(hf(n), hs(n));
  }
}

TYPED_TEST(Blas1, MismatchedShapesAreRefusedWithBothExtents) {
  using S = TypeParam;
  auto x = random_images<S>({2, 1, 4, 4}, 1);
  auto y = random_images<S>({2, 1, 4, 5}, 1);
  PerSample<double> d("d", 2), wrong("wrong", 3);
  expect_error([&] { dot(DefaultExecSpace(), x, y, d); }, "(2, 1, 4, 4) vs (2, 1, 4, 5)");
  expect_error([&] { dot(DefaultExecSpace(), x, x, wrong); }, "has 3 entries for a batch of 2");
  expect_error([&] { axpby(DefaultExecSpace(), S(1), x, S(1), y); }, "bilevel::axpby");
}

}  // namespace
}  // namespace bilevel::test
