#include <bilevel/regularizers/icnn.hpp>

#include "regularizer_checks.hpp"

namespace bilevel::test {
namespace {

TEST(InputConvexNet, DerivativesMatchFiniteDifferences) {
  // A larger nu than the paper's 1e-3 keeps the clipped ReLU's kinks (where phi'' jumps) away
  // from the finite-difference stencils; the paper's value is exercised below.
  IcnnOptions o;
  o.hidden = 6;
  o.nu = 0.5;
  InputConvexNet<double> icnn(DefaultExecSpace(), 3, o, 3);
  // Move the biases off zero so every branch of phi is visited.
  auto th = icnn.params_host();
  for (int c = 0; c < 6; ++c) th[icnn.blocks()[1].offset + c] = 0.2 * (c - 2);
  icnn.set_params(DefaultExecSpace(), th);
  check_all(icnn, {2, 3, 7, 8}, 1e-5, 1e-6);
}

TEST(InputConvexNet, PaperSettingsGradientAndConvexity) {
  InputConvexNet<double> icnn(DefaultExecSpace(), 3, IcnnOptions{}, 4);
  auto x = random_images<double>({1, 3, 10, 10}, 100, 0, 1);
  check_gradient(icnn, x, 1e-7, 1e-5);
  check_hvp_symmetry(icnn, x, 1e-10);
  check_convexity(icnn, x);
}

TEST(InputConvexNet, ClampKeepsWzNonNegativeAndBlocksAreNamed) {
  InputConvexNet<float> icnn(DefaultExecSpace(), 1, IcnnOptions{}, 1);
  const auto& b = icnn.blocks();
  ASSERT_EQ(b.size(), 5u);
  EXPECT_EQ(b[2].name, "wz");
  EXPECT_EQ(b[2].shape, (std::vector<int>{1, 32, 5, 5}));
  auto th = icnn.params_host();
  for (std::int64_t t = 0; t < b[2].size; ++t) th[b[2].offset + t] = (t % 2 ? -1.0f : 0.5f);
  icnn.set_params(DefaultExecSpace(), th);
  const auto after = icnn.params_host();
  for (std::int64_t t = 0; t < b[2].size; ++t)
    EXPECT_EQ(after[b[2].offset + t], t % 2 ? 0.0f : 0.5f);
}

}  // namespace
}  // namespace bilevel::test
