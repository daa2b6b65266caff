#include <gtest/gtest.h>

#include <bilevel/parallel/load_balancer.hpp>

namespace bilevel::test {
namespace {

const std::vector<int> kIds{5, 1, 4, 0};
// Samples 5 and 1 are slow: consecutive positions put both on rank 0.
const std::vector<int> kSlowFirst{100, 90, 10, 10};

TEST(LoadBalancer, OffKeepsConsecutivePositionsAndCountsWhatBalancingWouldSave) {
  LoadBalancer lb(6, 2, BalanceMode::off);
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(lb.split(kIds).rank_order(), SamplePartition::contiguous(4, 2).rank_order());
    lb.record(kSlowFirst);
  }
  EXPECT_EQ(lb.stats().steps, 3);
  EXPECT_EQ(lb.stats().balanced_steps, 0);
  EXPECT_EQ(lb.stats().max_load, 3 * 190);
  EXPECT_EQ(lb.stats().consecutive_max_load, 3 * 190);
}

TEST(LoadBalancer, OnSplitsByTheLastCosts) {
  LoadBalancer lb(6, 2, BalanceMode::on);
  // No history: every sample predicted alike, nothing to balance.
  EXPECT_EQ(lb.split(kIds).rank_order(), SamplePartition::contiguous(4, 2).rank_order());
  lb.record(kSlowFirst);
  const auto p = lb.split(kIds);
  EXPECT_EQ(p.count(0), 2);
  EXPECT_EQ(p.count(1), 2);
  EXPECT_EQ(p.max_load(std::vector<double>{100, 90, 10, 10}), 110);  // one slow sample each
  lb.record(kSlowFirst);
  EXPECT_EQ(lb.stats().balanced_steps, 1);
  EXPECT_EQ(lb.stats().max_load, 190 + 110);
  EXPECT_EQ(lb.stats().consecutive_max_load, 2 * 190);
  // The same batch in another order: the split follows the samples, not the positions.
  const auto q = lb.split({0, 4, 1, 5});
  EXPECT_EQ(q.max_load(std::vector<double>{10, 10, 90, 100}), 110);
  EXPECT_THROW(lb.record({1, 2}), Error);
}

TEST(LoadBalancer, UnseenSamplesArePredictedAtTheMeanOfTheSeen) {
  LoadBalancer lb(8, 2, BalanceMode::on);
  lb.split({0, 1});
  lb.record({100, 100});
  // 0 and 1 cost 100; 2 and 3 are predicted at 100 too, so no split beats consecutive.
  EXPECT_EQ(lb.split({0, 1, 2, 3}).rank_order(), (std::vector<int>{0, 1, 2, 3}));
}

TEST(LoadBalancer, AutomaticBalancesOnlyWhileItSavesIterations) {
  LoadBalancer lb(6, 2, BalanceMode::automatic);
  EXPECT_EQ(lb.split(kIds).rank_order(), SamplePartition::contiguous(4, 2).rank_order());
  lb.record(kSlowFirst);  // no prediction yet: nothing saved, stays consecutive
  EXPECT_EQ(lb.split(kIds).rank_order(), SamplePartition::contiguous(4, 2).rank_order());
  lb.record(kSlowFirst);  // the balanced split would have saved 80: balance from now on
  EXPECT_NE(lb.split(kIds).rank_order(), SamplePartition::contiguous(4, 2).rank_order());
  lb.record(kSlowFirst);
  EXPECT_EQ(lb.stats().balanced_steps, 1);
  EXPECT_EQ(lb.stats().max_load, 190 + 190 + 110);
  // Costs that make the last ones a bad prediction: every step the two samples that the
  // balanced split (from the last costs) puts on rank 0 are the slow ones. Balancing then loses
  // iterations, and the automatic mode stops taking the balanced split.
  std::vector<int> last = kSlowFirst;
  for (int k = 0; k < 4; ++k) {
    const auto candidate =
        SamplePartition::balanced(std::vector<double>(last.begin(), last.end()), 2);
    lb.split(kIds);
    std::vector<int> cost(4, 10);
    for (int pos : candidate.positions(0)) cost[std::size_t(pos)] = 100;
    lb.record(cost);
    last = cost;
  }
  EXPECT_EQ(lb.split(kIds).rank_order(), SamplePartition::contiguous(4, 2).rank_order());
  // Costs that repeat make the prediction good again, and balancing resumes.
  lb.record(last);
  EXPECT_NE(lb.split(kIds).rank_order(), SamplePartition::contiguous(4, 2).rank_order());
  lb.record(last);
  EXPECT_GT(lb.stats().steps, lb.stats().balanced_steps);
}

TEST(LoadBalancer, ModesParseByName) {
  EXPECT_EQ(parse_balance_mode("off"), BalanceMode::off);
  EXPECT_EQ(parse_balance_mode("on"), BalanceMode::on);
  EXPECT_EQ(parse_balance_mode("auto"), BalanceMode::automatic);
  EXPECT_STREQ(to_string(BalanceMode::automatic), "auto");
  EXPECT_THROW(parse_balance_mode("sometimes"), Error);
}

}  // namespace
}  // namespace bilevel::test
