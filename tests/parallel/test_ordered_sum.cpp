#include <bilevel/core/noise.hpp>
#include <bilevel/operators/identity.hpp>
#include <bilevel/regularizers/crr.hpp>
#include <bilevel/regularizers/foe.hpp>
#include <bilevel/solvers/hypergradient.hpp>
#include <memory>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

// The hypergradient with its mixed products summed sample by sample in batch order (the sum
// every MPI run takes) against the batched sum of one process: the same solves and loss, z and
// the bound equal to rounding.
template <class S>
void check_ordered_against_batched(Regularizer<S>& reg, double tol) {
  const Shape s{5, reg.channels(), 10, 10};
  auto clean = random_images<S>(s, 4);
  auto y = make_images<S>("y", s);
  add_gaussian_noise(DefaultExecSpace(), clean, 0.1, 5, y);
  IdentityOperator<S> id;
  LowerLevelProblem<S> h(id, reg, y);
  HypergradientOptions batched_options, ordered_options;
  ordered_options.ordered_sample_sum = true;
  HypergradientSolver<S> batched(batched_options), ordered(ordered_options);
  auto run = [&](HypergradientSolver<S>& solver) {
    auto x = make_images<S>("x", s), q = make_images<S>("q", s);
    Kokkos::deep_copy(x, y);
    Kokkos::deep_copy(q, S(0));
    return solver.compute(DefaultExecSpace(), h, clean, x, q, 1e-3, 1e-3);
  };
  const auto a = run(batched), b = run(ordered);
  EXPECT_EQ(a.lower.iterations, b.lower.iterations);
  EXPECT_EQ(a.linear.iterations, b.linear.iterations);
  EXPECT_EQ(a.loss, b.loss);
  const auto za = impl::to_vector(a.z), zb = impl::to_vector(b.z);
  ASSERT_EQ(za.size(), zb.size());
  double num = 0, den = 0;
  for (std::size_t k = 0; k < za.size(); ++k)
    num += (double(za[k]) - zb[k]) * (double(za[k]) - zb[k]), den += double(za[k]) * za[k];
  EXPECT_GT(den, 0);
  EXPECT_LT(std::sqrt(num / den), tol) << reg.name();
  EXPECT_NEAR(a.bound, b.bound, 1e2 * tol * a.bound) << reg.name();
}

TEST(OrderedSampleSum, AgreesWithTheBatchedSumCrr) {
  CrrOptions o;
  o.channels = {4, 6};
  o.spectral_size = 10;
  ConvexRidge<double> d(DefaultExecSpace(), 1, o, 3);
  check_ordered_against_batched(d, 1e-12);
  ConvexRidge<float> f(DefaultExecSpace(), 1, o, 3);
  check_ordered_against_batched(f, 1e-5);
}

TEST(OrderedSampleSum, AgreesWithTheBatchedSumFoe) {
  FieldOfExperts<double> d(DefaultExecSpace(), 3, 4, 5, 3);
  check_ordered_against_batched(d, 1e-12);
  FieldOfExperts<float> f(DefaultExecSpace(), 3, 4, 5, 3);
  check_ordered_against_batched(f, 1e-5);
}

}  // namespace
}  // namespace bilevel::test
