#include <bilevel/core/metrics.hpp>
#include <cmath>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

template <class Scalar>
class Metrics : public ::testing::Test {};
TYPED_TEST_SUITE(Metrics, Scalars);

TYPED_TEST(Metrics, PsnrOfAConstantOffsetIsHandComputed) {
  using S = TypeParam;
  const Shape s{2, 3, 5, 4};
  auto x = make_images<S>("x", s), ref = make_images<S>("ref", s);
  Kokkos::deep_copy(ref, S(0.5));
  // Sample 0 off by 0.1 everywhere: MSE 0.01, PSNR 20 dB. Sample 1 off by 0.1 on one pixel of
  // one channel only: MSE 0.01/60, PSNR 20 + 10 log10(60).
  auto hx = Kokkos::create_mirror_view(x);
  for (std::size_t k = 0; k < hx.span(); ++k) hx.data()[k] = S(0.5);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 4; ++j) hx(0, c, i, j) = S(0.4);
  hx(1, 2, 3, 1) = S(0.6);
  Kokkos::deep_copy(x, hx);
  const double d = double(S(0.5)) - double(S(0.4));  // the offset as rounded in S
  const double d1 = double(S(0.6)) - double(S(0.5));
  const auto p = psnr_host(DefaultExecSpace(), x, ref);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_NEAR(p[0], -10 * std::log10(d * d), 1e-9);
  EXPECT_NEAR(p[1], -10 * std::log10(d1 * d1 / 60.0), 1e-9);
  EXPECT_NEAR(p[0], 20.0, sizeof(S) == 4 ? 1e-5 : 1e-9);
  EXPECT_NEAR(mean(p), 0.5 * (p[0] + p[1]), 1e-12);
}

TYPED_TEST(Metrics, ExactMatchIsInfinitePsnr) {
  using S = TypeParam;
  auto x = random_images<S>({1, 1, 3, 3}, 2);
  const auto p = psnr_host(DefaultExecSpace(), x, x);
  EXPECT_TRUE(std::isinf(p[0]) && p[0] > 0);
}

}  // namespace
}  // namespace bilevel::test
