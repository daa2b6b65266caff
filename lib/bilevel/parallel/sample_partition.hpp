#pragma once
/// \file
/// Which samples of a batch each rank solves (DESIGN.md section 9). The counts are fixed by
/// the batch size and the number of ranks (the first n % R ranks hold one more), so every
/// rank's batch buffers keep one shape; which positions a rank holds may change from batch to
/// batch (balanced()). Every rank computes the same partition from the same inputs.

#include <algorithm>
#include <bilevel/core/error.hpp>
#include <numeric>
#include <vector>

namespace bilevel {

class SamplePartition {
 public:
  SamplePartition() : SamplePartition(contiguous(0, 1)) {}

  /// Rank r holds the positions [first_r, first_r + count_r) of a batch of n.
  static SamplePartition contiguous(int n, int ranks) {
    require(n >= 0 && ranks >= 1, "bilevel::SamplePartition: ", n, " samples over ", ranks,
            " ranks");
    SamplePartition p(n, ranks);
    int next = 0;
    for (int r = 0; r < ranks; ++r)
      for (int k = 0; k < count_of(n, ranks, r); ++k)
        p.m_positions[std::size_t(r)].push_back(next++);
    return p;
  }

  /// The same counts as contiguous(), positions chosen to even out the predicted costs: the
  /// costliest sample first, each to the least-loaded rank that has room (ties: the lower rank,
  /// then the lower position), so no rank waits long for the slowest one.
  static SamplePartition balanced(const std::vector<double>& cost, int ranks) {
    const int n = int(cost.size());
    SamplePartition p = contiguous(n, ranks);
    if (ranks == 1) return p;
    std::vector<int> order(std::size_t(n), 0);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return cost[std::size_t(a)] > cost[std::size_t(b)]; });
    std::vector<double> load(std::size_t(ranks), 0.0);
    for (auto& v : p.m_positions) v.clear();
    for (int i : order) {
      int best = -1;
      for (int r = 0; r < ranks; ++r) {
        if (int(p.m_positions[std::size_t(r)].size()) >= count_of(n, ranks, r)) continue;
        if (best < 0 || load[std::size_t(r)] < load[std::size_t(best)]) best = r;
      }
      p.m_positions[std::size_t(best)].push_back(i);
      load[std::size_t(best)] += cost[std::size_t(i)];
    }
    for (auto& v : p.m_positions) std::sort(v.begin(), v.end());
    return p;
  }

  int total() const { return m_total; }
  int ranks() const { return int(m_positions.size()); }
  /// The batch positions rank r holds, increasing.
  const std::vector<int>& positions(int rank) const { return m_positions.at(std::size_t(rank)); }
  int count(int rank) const { return int(positions(rank).size()); }
  /// Every rank's positions, concatenated in rank order (the order gathers deliver).
  std::vector<int> rank_order() const {
    std::vector<int> out;
    for (const auto& v : m_positions) out.insert(out.end(), v.begin(), v.end());
    return out;
  }
  /// Values in rank order (one per sample) put into batch order.
  template <class T>
  std::vector<T> to_batch_order(const std::vector<T>& in_rank_order) const {
    require(int(in_rank_order.size()) == m_total,
            "bilevel::SamplePartition: ", in_rank_order.size(), " values for a batch of ", m_total);
    std::vector<T> out(in_rank_order.size());
    const auto order = rank_order();
    for (std::size_t k = 0; k < order.size(); ++k) out[std::size_t(order[k])] = in_rank_order[k];
    return out;
  }
  /// The largest predicted load of a rank under `cost` (one value per batch position).
  double max_load(const std::vector<double>& cost) const {
    double worst = 0;
    for (const auto& v : m_positions) {
      double l = 0;
      for (int i : v) l += cost.at(std::size_t(i));
      worst = std::max(worst, l);
    }
    return worst;
  }

 private:
  SamplePartition(int n, int ranks) : m_total(n), m_positions(std::size_t(ranks)) {}
  static int count_of(int n, int ranks, int r) { return n / ranks + (r < n % ranks ? 1 : 0); }

  int m_total = 0;
  std::vector<std::vector<int>> m_positions;
};

}  // namespace bilevel
