#include <bilevel/optim/parameter_updates.hpp>
#include <bilevel/optim/schedules.hpp>
#include <bilevel/train/batch_sampler.hpp>
#include <set>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

TEST(Schedules, StepAndAccuracyFormulas) {
  const StepSchedule s{1e-2, 0.5};
  EXPECT_DOUBLE_EQ(s(0), 1e-2);
  EXPECT_DOUBLE_EQ(s(3), 1e-2 / 2);
  const AccuracySchedule poly{1.0, 2.0, AccuracyDecay::polynomial};
  EXPECT_DOUBLE_EQ(poly(9), 1e-2);
  const AccuracySchedule log{1.0, 1.0, AccuracyDecay::logarithmic};
  EXPECT_DOUBLE_EQ(log(0), 1 / std::log(2.0));
  const AccuracySchedule geo{1.0, 0.5, AccuracyDecay::geometric};
  EXPECT_DOUBLE_EQ(geo(3), 0.125);
  EXPECT_DOUBLE_EQ((AccuracySchedule{1.0, 0, AccuracyDecay::quadratic})(1), 0.25);
  EXPECT_DOUBLE_EQ((AccuracySchedule{1.0, 0, AccuracyDecay::cubic})(1), 0.125);
  EXPECT_DOUBLE_EQ((AccuracySchedule{1.0, 2.0, AccuracyDecay::polynomial, 0.1})(99), 0.1);
  EXPECT_EQ(parse_accuracy_decay("log"), AccuracyDecay::logarithmic);
  expect_error([] { parse_accuracy_decay("fast"); }, "unknown accuracy schedule 'fast'");
}

TEST(ParameterUpdates, SgdAndAdamFollowTheirFormulas) {
  Kokkos::View<double*> th("th", 2), z("z", 2);
  auto hz = Kokkos::create_mirror_view(z);
  hz(0) = 2, hz(1) = -4;
  Kokkos::deep_copy(z, hz);
  sgd_update(DefaultExecSpace(), th, z, 0.5);
  auto h = host_copy(th);
  EXPECT_DOUBLE_EQ(h(0), -1.0);
  EXPECT_DOUBLE_EQ(h(1), 2.0);
  Kokkos::deep_copy(th, 0.0);
  AdamState<double> st(2);
  adam_update(DefaultExecSpace(), th, z, st, 0.1);  // first step: m_hat/sqrt(v_hat) = sign(g)
  h = host_copy(th);
  EXPECT_NEAR(h(0), -0.1, 1e-8);
  EXPECT_NEAR(h(1), 0.1, 1e-8);
  EXPECT_EQ(st.steps, 1);
}

TEST(BatchSampler, EpochsArePermutationsAndStateRestores) {
  BatchSampler a(10, 4, 7), b(10, 4, 7), c(10, 4, 8);
  std::vector<int> seen;
  for (int i = 0; i < 5; ++i) {  // 20 draws = two epochs
    const auto x = a.next();
    ASSERT_EQ(x, b.next());
    seen.insert(seen.end(), x.begin(), x.end());
  }
  EXPECT_EQ(std::set<int>(seen.begin(), seen.begin() + 10).size(), 10u);
  EXPECT_EQ(std::set<int>(seen.begin() + 10, seen.end()).size(), 10u);
  EXPECT_NE(std::vector<int>(seen.begin(), seen.begin() + 10),
            std::vector<int>(seen.begin() + 10, seen.end()));
  EXPECT_NE(c.next(), BatchSampler(10, 4, 7).next());
  BatchSampler d(10, 4, 7);
  d.restore(a.epoch(), a.position());
  EXPECT_EQ(d.next(), a.next());
  expect_error([] { BatchSampler(3, 4, 0); }, "batch size 4");
}

}  // namespace
}  // namespace bilevel::test
