#pragma once
/// \file
/// Which rank solves which sample of a data-parallel batch (DESIGN.md section 9). Samples
/// converge at different speeds, so consecutive positions can leave ranks waiting for the
/// slowest. The balancer predicts a sample's cost by its last solve (lower-level plus CG
/// iterations) and can split the batch to even out the predicted loads. The split never changes
/// the results (sums are taken in batch order), only the waiting. Since a sample's iterations do
/// not depend on the rank that solves it, every step also tells exactly what the other split
/// would have cost the slowest rank; the automatic mode balances only while that record says
/// balancing saves iterations, so a poor prediction turns it off by itself. Every rank keeps
/// the same history (from gathered counts), so every rank computes the same split.

#include <bilevel/core/error.hpp>
#include <bilevel/parallel/sample_partition.hpp>
#include <string>
#include <vector>

namespace bilevel {

/// off: consecutive positions; on: the balanced split whenever it predicts a lower largest
/// load; automatic: as on, but only while balancing has saved iterations lately.
enum class BalanceMode { off, on, automatic };

inline BalanceMode parse_balance_mode(const std::string& s) {
  if (s == "off") return BalanceMode::off;
  if (s == "on") return BalanceMode::on;
  if (s == "auto") return BalanceMode::automatic;
  throw Error("bilevel: unknown load balancing '" + s + "' (off, on or auto)");
}
inline const char* to_string(BalanceMode m) {
  return m == BalanceMode::off ? "off" : m == BalanceMode::on ? "on" : "auto";
}

/// \brief What the splits cost, in iterations of the slowest rank (summed over steps).
struct LoadBalanceStats {
  long steps = 0;                 ///< recorded steps
  long balanced_steps = 0;        ///< of them, split by predicted cost
  long max_load = 0;              ///< the slowest rank's iterations under the splits taken
  long consecutive_max_load = 0;  ///< the same under consecutive splits
};

class LoadBalancer {
 public:
  LoadBalancer() = default;
  /// `samples`: the training set's size (sample ids are 0 .. samples-1).
  LoadBalancer(int samples, int ranks, BalanceMode mode)
      : m_ranks(ranks), m_mode(mode), m_last(std::size_t(samples), 0) {
    require(samples >= 0 && ranks >= 1, "bilevel::LoadBalancer: ", samples, " samples over ", ranks,
            " ranks");
  }

  BalanceMode mode() const { return m_mode; }
  const LoadBalanceStats& stats() const { return m_stats; }

  /// The split of the batch of sample ids `ids`; record() must follow with its costs.
  SamplePartition split(const std::vector<int>& ids) {
    const int n = int(ids.size());
    m_consecutive = SamplePartition::contiguous(n, m_ranks);
    m_balanced = m_consecutive;
    if (m_ranks > 1 && m_mode != BalanceMode::off) {
      const auto predicted = predict(ids);
      const auto b = SamplePartition::balanced(predicted, m_ranks);
      if (b.max_load(predicted) < m_consecutive.max_load(predicted)) m_balanced = b;
    }
    const bool differs = m_balanced.rank_order() != m_consecutive.rank_order();
    m_use_balanced =
        differs && (m_mode == BalanceMode::on || (m_mode == BalanceMode::automatic && m_gain > 0));
    m_ids = ids;
    return m_use_balanced ? m_balanced : m_consecutive;
  }

  /// The iterations each sample of the last split's batch took, in batch order.
  void record(const std::vector<int>& costs) {
    require(costs.size() == m_ids.size(), "bilevel::LoadBalancer: ", costs.size(),
            " costs for a batch of ", m_ids.size());
    std::vector<double> c(costs.begin(), costs.end());
    const long consecutive = long(m_consecutive.max_load(c));
    const long balanced = long(m_balanced.max_load(c));
    // What balancing saved the slowest rank this step, taken or not; older steps count less.
    m_gain = m_gain / 2 + double(consecutive - balanced);
    ++m_stats.steps;
    m_stats.consecutive_max_load += consecutive;
    if (m_use_balanced) ++m_stats.balanced_steps;
    m_stats.max_load += m_use_balanced ? balanced : consecutive;
    for (std::size_t k = 0; k < m_ids.size(); ++k)
      m_last.at(std::size_t(m_ids[k])) = std::max(1, costs[k]);
  }

 private:
  /// Each sample's last cost; a sample never solved is predicted at the mean of those that were
  /// (all equal when none was: nothing to balance).
  std::vector<double> predict(const std::vector<int>& ids) const {
    double sum = 0;
    int known = 0;
    for (int id : ids)
      if (const int c = m_last.at(std::size_t(id)); c > 0) sum += c, ++known;
    const double unknown = known > 0 ? sum / known : 1.0;
    std::vector<double> out;
    for (int id : ids) {
      const int c = m_last[std::size_t(id)];
      out.push_back(c > 0 ? double(c) : unknown);
    }
    return out;
  }

  int m_ranks = 1;
  BalanceMode m_mode = BalanceMode::off;
  std::vector<int> m_last;  // per sample: its last cost (0: never solved)
  std::vector<int> m_ids;   // the last split's batch
  SamplePartition m_consecutive, m_balanced;
  bool m_use_balanced = false;
  double m_gain = 0;  // recent iterations saved by the balanced split, decayed by half a step
  LoadBalanceStats m_stats;
};

}  // namespace bilevel
