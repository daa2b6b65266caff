#include <bilevel/core/blas1.hpp>
#include <bilevel/operators/blur.hpp>
#include <bilevel/operators/identity.hpp>
#include <bilevel/operators/mask.hpp>
#include <bilevel/operators/measurement.hpp>
#include <memory>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

template <class Scalar>
class Operators : public ::testing::Test {};
TYPED_TEST_SUITE(Operators, Scalars);

template <class S>
std::vector<std::unique_ptr<ForwardOperator<S>>> all_operators(const Shape& s) {
  std::vector<std::unique_ptr<ForwardOperator<S>>> ops;
  ops.push_back(std::make_unique<IdentityOperator<S>>());
  ops.push_back(
      std::make_unique<MaskOperator<S>>(MaskOperator<S>::bernoulli(DefaultExecSpace(), s, 0.3, 9)));
  ops.push_back(std::make_unique<BlurOperator<S>>(DefaultExecSpace()));
  return ops;
}

TYPED_TEST(Operators, AdjointIdentityAndNormalOperator) {
  using S = TypeParam;
  for (const Shape& s : {Shape{2, 3, 17, 23}, Shape{1, 1, 5, 4}}) {
    for (const auto& op : all_operators<S>(s)) {
      auto u = random_images<S>(s, 1, -1, 1), v = random_images<S>(s, 2, -1, 1);
      auto au = make_images<S>("au", s), atv = make_images<S>("atv", s);
      auto ata = make_images<S>("ata", s), ata_ref = make_images<S>("ata_ref", s);
      op->apply(DefaultExecSpace(), u, au);
      op->adjoint(DefaultExecSpace(), v, atv);
      op->normal(DefaultExecSpace(), u, ata);
      op->adjoint(DefaultExecSpace(), au, ata_ref);
      PerSample<double> lhs("l", s.n), rhs("r", s.n), nu("nu", s.n), nv("nv", s.n), d("d", s.n);
      dot(DefaultExecSpace(), au, v, lhs);
      dot(DefaultExecSpace(), u, atv, rhs);
      norm2_squared(DefaultExecSpace(), u, nu);
      norm2_squared(DefaultExecSpace(), v, nv);
      squared_distance(DefaultExecSpace(), ata, ata_ref, d);
      auto hl = host_copy(lhs), hr = host_copy(rhs), hu = host_copy(nu), hv = host_copy(nv),
           hd = host_copy(d);
      const double tol = sizeof(S) == 4 ? 1e-6 : 1e-14;
      for (int n = 0; n < s.n; ++n) {
        EXPECT_NEAR(hl(n), hr(n), tol * std::sqrt(hu(n) * hv(n))) << op->name() << " " << s.str();
        EXPECT_LE(std::sqrt(hd(n)), tol * std::sqrt(hu(n))) << op->name() << " normal";
      }
    }
  }
}

TYPED_TEST(Operators, BlurKernelIsANormalisedGaussianAndPreservesInteriorConstants) {
  using S = TypeParam;
  const auto k = gaussian_kernel(7, 2.0);
  double sum = 0;
  for (double v : k) sum += v;
  EXPECT_NEAR(sum, 1.0, 1e-15);
  EXPECT_NEAR(k[3 * 7 + 3] / k[3 * 7 + 5], std::exp(4.0 / 8.0), 1e-12);  // exp(-d^2 / (2 s^2))
  const Shape s{1, 2, 15, 16};
  auto x = make_images<S>("x", s), y = make_images<S>("y", s);
  Kokkos::deep_copy(x, S(0.5));
  BlurOperator<S> blur{DefaultExecSpace()};
  blur.apply(DefaultExecSpace(), x, y);
  auto hy = host_copy(y);
  EXPECT_NEAR(hy(0, 1, 7, 8), 0.5, 1e-6);  // 3+ pixels from every border: full kernel mass
  EXPECT_LT(hy(0, 0, 0, 0), 0.5 * 0.5);  // corner keeps about a quarter of the mass (zero boundary)
}

TYPED_TEST(Operators, MaskKeepsTheRequestedFractionReproducibly) {
  using S = TypeParam;
  const Shape s{4, 3, 64, 64};
  auto a = MaskOperator<S>::bernoulli(DefaultExecSpace(), s, 0.3, 17);
  auto b = MaskOperator<S>::bernoulli(DefaultExecSpace(), s, 0.3, 17);
  auto c = MaskOperator<S>::bernoulli(DefaultExecSpace(), s, 0.3, 17, 1);  // shifted sample ids
  auto ha = host_copy(a.mask()), hb = host_copy(b.mask()), hc = host_copy(c.mask());
  double kept = 0;
  for (std::size_t t = 0; t < ha.span(); ++t) {
    ASSERT_EQ(ha.data()[t], hb.data()[t]);
    ASSERT_TRUE(ha.data()[t] == S(0) || ha.data()[t] == S(1));
    kept += ha.data()[t];
  }
  EXPECT_NEAR(kept / double(ha.span()), 0.3, 0.01);  // 16,384 draws: 5 standard errors
  for (int i = 0; i < 64; ++i)                       // sample 1 of `a` is sample 0 of `c`
    for (int j = 0; j < 64; ++j) ASSERT_EQ(ha(1, 0, i, j), hc(0, 0, i, j));
  // The mask keeps whole pixels: every channel of a masked pixel is zero.
  auto x = random_images<S>(s, 3, 0.1, 1), y = make_images<S>("y", s);
  a.apply(DefaultExecSpace(), x, y);
  auto hy = host_copy(y);
  for (int ch = 0; ch < 3; ++ch) EXPECT_EQ(hy(0, ch, 5, 5) == S(0), ha(0, 0, 5, 5) == S(0));
  expect_error([&] { MaskOperator<S>::bernoulli(DefaultExecSpace(), s, 1.5, 1); },
               "keep probability");
  auto small = random_images<S>({4, 3, 8, 8}, 1);
  expect_error([&] { a.apply(DefaultExecSpace(), small, small); }, "do not fit the mask");
}

TYPED_TEST(Operators, MeasurementsFollowTheNoiseModel) {
  using S = TypeParam;
  const Shape s{2, 1, 32, 32};
  auto clean = random_images<S>(s, 4);
  auto mask = MaskOperator<S>::bernoulli(DefaultExecSpace(), s, 0.3, 5);
  auto y = make_images<S>("y", s);
  simulate_measurement(DefaultExecSpace(), mask, clean, 0.02, 6, y);
  auto hy = host_copy(y), hm = host_copy(mask.mask()), hx = host_copy(clean);
  double dev = 0;
  int kept = 0;
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 32; ++i)
      for (int j = 0; j < 32; ++j) {
        if (hm(n, 0, i, j) == S(0)) {
          ASSERT_EQ(hy(n, 0, i, j), S(0));  // no noise where nothing is measured
        } else {
          const double e = hy(n, 0, i, j) - hx(n, 0, i, j);
          dev += e * e, ++kept;
        }
      }
  EXPECT_NEAR(std::sqrt(dev / kept), 0.02, 0.003);
}

}  // namespace
}  // namespace bilevel::test
