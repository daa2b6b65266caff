#include <bilevel/core/noise.hpp>
#include <cmath>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

template <class Scalar>
class Noise : public ::testing::Test {};
TYPED_TEST_SUITE(Noise, Scalars);

TYPED_TEST(Noise, SameSeedSameBitsOtherSeedOtherBits) {
  using S = TypeParam;
  const Shape s{2, 3, 17, 19};
  auto clean = random_images<S>(s, 7);
  auto a = make_images<S>("a", s), b = make_images<S>("b", s), c = make_images<S>("c", s);
  add_gaussian_noise(DefaultExecSpace(), clean, 0.1, 42, a);
  add_gaussian_noise(DefaultExecSpace(), clean, 0.1, 42, b);
  add_gaussian_noise(DefaultExecSpace(), clean, 0.1, 43, c);
  auto ha = host_copy(a), hb = host_copy(b), hc = host_copy(c);
  std::size_t differ = 0;
  for (std::size_t k = 0; k < ha.span(); ++k) {
    ASSERT_EQ(ha.data()[k], hb.data()[k]) << "element " << k;
    differ += ha.data()[k] != hc.data()[k];
  }
  EXPECT_GT(differ, ha.span() * 99 / 100);
}

TYPED_TEST(Noise, SampleNoiseDoesNotDependOnItsBatch) {
  using S = TypeParam;
  auto clean = random_images<S>({3, 1, 8, 8}, 8);
  auto all = make_images<S>("all", shape_of(clean));
  add_gaussian_noise(DefaultExecSpace(), clean, 0.2, 5, all);
  // Sample 2 alone, with its sample id, gets the same noise as in the batch of three.
  auto clean2 = Kokkos::subview(clean, std::make_pair(2, 3), Kokkos::ALL, Kokkos::ALL, Kokkos::ALL);
  auto one = make_images<S>("one", shape_of(clean2));
  add_gaussian_noise(DefaultExecSpace(), clean2, 0.2, 5, one, 2);
  auto ha = host_copy(all), h1 = host_copy(one);
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) EXPECT_EQ(h1(0, 0, i, j), ha(2, 0, i, j));
}

// The noise is the library's own stream (Kokkos' generators changed between 3.4 and 4.x), so
// every backend and Kokkos version must give the host reference's bits, and the stream itself
// must never change silently: a seed names a dataset.
TYPED_TEST(Noise, EqualsTheHostReferenceAndThePinnedStream) {
  using S = TypeParam;
  const Shape s{2, 3, 5, 7};
  auto clean = random_images<S>(s, 3);
  auto y = make_images<S>("y", s);
  add_gaussian_noise(DefaultExecSpace(), clean, 0.1, 9, y, 4);
  auto hc = host_copy(clean), hy = host_copy(y);
  const std::int64_t per = s.per_sample();
  for (int n = 0; n < s.n; ++n)
    for (std::int64_t j = 0; j < per; ++j) {
      KeyedStream g = keyed_stream(9, 4 + n, std::uint64_t(j));
      const S expected = hc.data()[n * per + j] + S(0.1) * S(g.normal());
      ASSERT_EQ(hy.data()[n * per + j], expected) << "sample " << n << ", element " << j;
    }
  KeyedStream g = keyed_stream(1, 2, 3);
  EXPECT_EQ(g.uniform(), 0x1.4476800101b4p-1);         // integer arithmetic: exact everywhere
  EXPECT_DOUBLE_EQ(g.normal(), 0x1.49f65cf825d59p+0);  // through log and cos: to 4 ulps
}

TYPED_TEST(Noise, StatisticsMatchTheRequestedLevel) {
  using S = TypeParam;
  const Shape s{4, 3, 100, 100};  // 120,000 draws
  auto zero = make_images<S>("zero", s);
  Kokkos::deep_copy(zero, S(0));
  auto y = make_images<S>("y", s);
  const double sigma = 25.0 / 255.0;
  add_gaussian_noise(DefaultExecSpace(), zero, sigma, 1234, y);
  auto h = host_copy(y);
  double m1 = 0, m2 = 0, m4 = 0;
  std::size_t tail = 0;
  for (std::size_t k = 0; k < h.span(); ++k) {
    const double v = h.data()[k] / sigma;
    m1 += v, m2 += v * v, m4 += v * v * v * v;
    tail += std::abs(v) > 1.959964;
  }
  const double n = double(h.span());
  m1 /= n, m2 /= n, m4 /= n;
  // Standard errors at n = 1.2e5: mean 0.003, variance 0.004, kurtosis 0.02; 5-sigma bounds.
  EXPECT_NEAR(m1, 0.0, 0.015);
  EXPECT_NEAR(m2, 1.0, 0.02);
  EXPECT_NEAR(m4 / (m2 * m2), 3.0, 0.1);
  EXPECT_NEAR(double(tail) / n, 0.05, 0.004);
}

TYPED_TEST(Noise, InvalidLevelIsRefused) {
  using S = TypeParam;
  auto x = random_images<S>({1, 1, 2, 2}, 1);
  expect_error([&] { add_gaussian_noise(DefaultExecSpace(), x, -1.0, 1, x); }, "noise level");
  expect_error([&] { add_gaussian_noise(DefaultExecSpace(), x, std::nan(""), 1, x); },
               "noise level");
}

}  // namespace
}  // namespace bilevel::test
