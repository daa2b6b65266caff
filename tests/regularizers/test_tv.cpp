#include <bilevel/regularizers/tv.hpp>
#include <limits>

#include "regularizer_checks.hpp"

namespace bilevel::test {
namespace {

TEST(SmoothedTV, DerivativesMatchFiniteDifferences) {
  SmoothedTV<double> tv(DefaultExecSpace(), 3);
  tv.set(DefaultExecSpace(), 0.3, 0.05);
  check_all(tv, {2, 3, 9, 11});
  check_all(tv, {1, 3, 1, 1});
}

// The default prepared Hessian (the plain product at the held point) for every regularizer
// that does not override it.
TEST(SmoothedTV, PreparedHessianIsThePlainProduct) {
  SmoothedTV<double> tv(DefaultExecSpace(), 3);
  tv.set(DefaultExecSpace(), 0.3, 0.05);
  check_prepared_hessian(tv, {2, 3, 9, 11}, false);
  expect_error(
      [] {
        SmoothedTV<double> fresh(DefaultExecSpace(), 1);
        auto v = make_images<double>("v", {1, 1, 4, 4});
        fresh.prepared_hessian_vector_product(DefaultExecSpace(), v, v);
      },
      "call prepare_hessian first");
}

TEST(SmoothedTV, EnergyOfAConstantImageIsTheSmoothingFloor) {
  SmoothedTV<double> tv(DefaultExecSpace(), 1);
  tv.set(DefaultExecSpace(), 2.0, 0.1);
  auto x = make_images<double>("x", {1, 1, 4, 5});
  Kokkos::deep_copy(x, 0.7);
  PerSample<double> e("e", 1);
  tv.energy(DefaultExecSpace(), x, e);
  EXPECT_NEAR(total(e), 2.0 * 20 * 0.1, 1e-14);
  auto g = make_images<double>("g", {1, 1, 4, 5});
  tv.gradient(DefaultExecSpace(), x, g);
  EXPECT_EQ(inner(g, g), 0.0);  // constants are minimisers
  // A unit step between columns 1 and 2: TV counts |jump| on each of the 4 rows.
  auto hx = Kokkos::create_mirror_view(x);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 5; ++j) hx(0, 0, i, j) = j < 2 ? 0.0 : 1.0;
  Kokkos::deep_copy(x, hx);
  tv.energy(DefaultExecSpace(), x, e);
  EXPECT_NEAR(total(e), 2.0 * (4 * std::sqrt(1.01) + 16 * 0.1), 1e-12);
}

TEST(SmoothedTV, ParametersAreNamedAndChecked) {
  SmoothedTV<float> tv(DefaultExecSpace(), 3);
  ASSERT_EQ(tv.blocks().size(), 2u);
  EXPECT_EQ(tv.blocks()[1].name, "log_nu");
  EXPECT_EQ(tv.blocks()[1].offset, 1);
  EXPECT_EQ(tv.num_params(), 2);
  expect_error(
      [&] {
        tv.set_params(DefaultExecSpace(), std::vector<float>{1, 2, 3});
      },
      "parameter vector has 3 entries, the model has 2");
  auto x = random_images<float>({1, 1, 4, 4}, 1);
  auto g = make_images<float>("g", {1, 1, 4, 4});
  expect_error([&] { tv.gradient(DefaultExecSpace(), x, g); },
               "images have 1 channels, the regularizer was built for 3");
}

}  // namespace
}  // namespace bilevel::test

namespace bilevel::test {
namespace {
TEST(SmoothedTV, NonFiniteParametersAreRefused) {
  SmoothedTV<double> tv(DefaultExecSpace(), 1);
  expect_error(
      [&] {
        tv.set_params(DefaultExecSpace(), std::vector<double>{0.0, std::nan("")});
      },
      "parameter 1 is not finite");
  Regularizer<double>::Params p("p", 2);
  Kokkos::deep_copy(p, std::numeric_limits<double>::infinity());
  // every entry is bad: the first one is named, whatever the thread count
  expect_error([&] { tv.set_params(DefaultExecSpace(), p); }, "parameter 0 is not finite");
}
}  // namespace
}  // namespace bilevel::test
