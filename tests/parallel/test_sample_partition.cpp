#include <gtest/gtest.h>

#include <bilevel/parallel/communicator.hpp>
#include <bilevel/parallel/sample_partition.hpp>

namespace bilevel::test {
namespace {

TEST(SamplePartition, ContiguousCountsDifferByAtMostOne) {
  const auto p = SamplePartition::contiguous(7, 3);
  EXPECT_EQ(p.total(), 7);
  EXPECT_EQ(p.positions(0), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(p.positions(1), (std::vector<int>{3, 4}));
  EXPECT_EQ(p.positions(2), (std::vector<int>{5, 6}));
  EXPECT_EQ(p.rank_order(), (std::vector<int>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_THROW(SamplePartition::contiguous(3, 0), Error);
}

TEST(SamplePartition, BalancedKeepsTheCountsAndLowersTheLargestLoad) {
  // Two slow samples at the front: consecutive positions put both on rank 0.
  const std::vector<double> cost{100, 90, 10, 10, 10, 10, 5, 5};
  const auto c = SamplePartition::contiguous(8, 2);
  const auto b = SamplePartition::balanced(cost, 2);
  for (int r = 0; r < 2; ++r) EXPECT_EQ(b.count(r), c.count(r));
  EXPECT_DOUBLE_EQ(c.max_load(cost), 210);
  EXPECT_LT(b.max_load(cost), 130);
  EXPECT_NE(b.positions(0), c.positions(0));
  // Every position exactly once; to_batch_order inverts rank_order.
  auto order = b.rank_order();
  std::vector<int> seen(8, 0);
  for (int i : order) ++seen[std::size_t(i)];
  EXPECT_EQ(seen, std::vector<int>(8, 1));
  std::vector<int> values;
  for (int i : order) values.push_back(10 * i);
  EXPECT_EQ(b.to_batch_order(values), (std::vector<int>{0, 10, 20, 30, 40, 50, 60, 70}));
  // Deterministic: equal inputs give equal partitions (every rank computes its own).
  EXPECT_EQ(SamplePartition::balanced(cost, 2).rank_order(), order);
  EXPECT_EQ(SamplePartition::balanced(cost, 1).rank_order(),
            SamplePartition::contiguous(8, 1).rank_order());
}

TEST(Communicator, OneProcessCollectivesAreTheIdentity) {
  const Communicator one;
  EXPECT_EQ(one.size(), 1);
  EXPECT_EQ(one.rank(), 0);
  EXPECT_FALSE(one.distributed());
  EXPECT_EQ(one.allgather(std::vector<double>{1.5, -2}), (std::vector<double>{1.5, -2}));
  EXPECT_EQ(one.sum(std::int64_t(7)), 7);
  EXPECT_EQ(one.max(2.5), 2.5);
  EXPECT_TRUE(one.any(true));
  EXPECT_FALSE(one.any(false));
  double v = 3;
  EXPECT_NO_THROW(one.broadcast_bytes(&v, sizeof v, 0));
  EXPECT_THROW(one.broadcast_bytes(&v, sizeof v, 1), Error);
  EXPECT_EQ(v, 3);
}

}  // namespace
}  // namespace bilevel::test
