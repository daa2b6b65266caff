#include <bilevel/solvers/warm_start.hpp>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

TEST(WarmStartCache, StoresBySampleIdAndFallsBackForNewIds) {
  WarmStartCache<double> cache(DefaultExecSpace(), {5, 2, 3, 4});
  auto a = random_images<double>({2, 2, 3, 4}, 1),
       fallback = random_images<double>({2, 2, 3, 4}, 2);
  cache.scatter(DefaultExecSpace(), {4, 1}, a);
  EXPECT_TRUE(cache.seen(4) && cache.seen(1) && !cache.seen(0));
  auto out = make_images<double>("out", {2, 2, 3, 4});
  cache.gather(DefaultExecSpace(), {1, 3}, fallback, out);  // 1 stored (a's sample 1), 3 new
  auto ha = host_copy(a), hf = host_copy(fallback), ho = host_copy(out);
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j) {
        EXPECT_EQ(ho(0, c, i, j), ha(1, c, i, j));
        EXPECT_EQ(ho(1, c, i, j), hf(1, c, i, j));
      }
  expect_error(
      [&] {
        cache.gather(DefaultExecSpace(), {7, 0}, fallback, out);
      },
      "sample id 7 outside 0..4");
  expect_error([&] { cache.scatter(DefaultExecSpace(), {0}, a); }, "1 ids for a batch of 2");
  // Slots never stored hold zeros (they go into checkpoints as they are).
  auto hs = host_copy(cache.storage());
  for (int id : {0, 2, 3})
    for (int c = 0; c < 2; ++c)
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 4; ++j) EXPECT_EQ(hs(id, c, i, j), 0.0) << "slot " << id;
}

}  // namespace
}  // namespace bilevel::test
