#include <bilevel/regularizers/foe.hpp>

#include "regularizer_checks.hpp"

namespace bilevel::test {
namespace {

TEST(FieldOfExperts, DerivativesMatchFiniteDifferences) {
  FieldOfExperts<double> foe(DefaultExecSpace(), 3, 4, 5, 7);
  check_all(foe, {2, 3, 9, 10});
  FieldOfExperts<double> grey(DefaultExecSpace(), 1, 3, 7, 8);
  check_all(grey, {1, 1, 8, 8});
}

TEST(FieldOfExperts, ZeroMeanFiltersAnnihilateConstantsAndBlocksAreNamed) {
  FieldOfExperts<double> foe(DefaultExecSpace(), 3, 10, 7, 1);
  EXPECT_EQ(foe.num_params(), 10 * 3 * 49 + 10 + 1);  // 1,481 as in the SSVM paper's setting
  EXPECT_EQ(foe.blocks()[1].name, "log_beta");
  EXPECT_EQ(foe.blocks()[1].offset, 1470);
  auto f = host_copy(foe.filters());
  for (int j = 0; j < 10; ++j) {
    double sum = 0, sq = 0;
    for (int c = 0; c < 3; ++c)
      for (int a = 0; a < 7; ++a)
        for (int b = 0; b < 7; ++b) sum += f(j, c, a, b), sq += f(j, c, a, b) * f(j, c, a, b);
    EXPECT_NEAR(sum, 0.0, 1e-12);
    EXPECT_GT(sq, 0.0);
  }
  // A constant image has zero filter response away from the zero-padded border.
  auto x = make_images<double>("x", {1, 3, 16, 16});
  Kokkos::deep_copy(x, 0.6);
  auto z = make_images<double>("z", {1, 10, 16, 16});
  conv2d(DefaultExecSpace(), x, foe.filters(), z);
  auto hz = host_copy(z);
  for (int j = 0; j < 10; ++j)
    for (int i = 3; i < 13; ++i)
      for (int k = 3; k < 13; ++k) EXPECT_NEAR(hz(0, j, i, k), 0.0, 1e-13);
}

TEST(FieldOfExperts, SeedsGiveReproducibleDistinctModels) {
  FieldOfExperts<float> a(DefaultExecSpace(), 3, 4, 5, 1), b(DefaultExecSpace(), 3, 4, 5, 1),
      c(DefaultExecSpace(), 3, 4, 5, 2);
  EXPECT_EQ(a.params_host(), b.params_host());
  EXPECT_NE(a.params_host(), c.params_host());
}

}  // namespace
}  // namespace bilevel::test
