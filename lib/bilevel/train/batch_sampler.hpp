#pragma once
/// \file
/// Seeded mini-batch sampling: each epoch is a fresh permutation of the sample ids (Fisher-Yates
/// driven by SplitMix64 of (seed, epoch)), consumed in consecutive batches; a batch that runs
/// past the end of an epoch continues into the next one. The state is two integers, so a
/// checkpoint restores the exact sequence.

#include <bilevel/core/error.hpp>
#include <bilevel/core/random.hpp>
#include <numeric>
#include <vector>

namespace bilevel {

class BatchSampler {
 public:
  BatchSampler() = default;
  BatchSampler(int samples, int batch, std::uint64_t seed)
      : m_n(samples), m_batch(batch), m_seed(seed) {
    require(samples > 0 && batch > 0 && batch <= samples, "bilevel::BatchSampler: batch size ",
            batch, " must be between 1 and the number of samples (", samples, ")");
    shuffle();
  }

  /// The next mini-batch of sample ids.
  std::vector<int> next() {
    std::vector<int> ids;
    while (int(ids.size()) < m_batch) {
      if (m_pos == m_n) {
        ++m_epoch;
        m_pos = 0;
        shuffle();
      }
      ids.push_back(m_perm[m_pos++]);
    }
    return ids;
  }

  long epoch() const { return m_epoch; }
  long position() const { return m_pos; }
  /// Restores a state saved from epoch() and position().
  void restore(long epoch, long position) {
    require(epoch >= 0 && position >= 0 && position <= m_n,
            "bilevel::BatchSampler: invalid state (", epoch, ", ", position, ")");
    m_epoch = epoch;
    m_pos = int(position);
    shuffle();
  }

 private:
  void shuffle() {
    m_perm.resize(std::size_t(m_n));
    std::iota(m_perm.begin(), m_perm.end(), 0);
    std::uint64_t state = splitmix64(m_seed ^ splitmix64(std::uint64_t(m_epoch) + 0xBA7C4ull));
    for (int i = m_n - 1; i > 0; --i) {
      state = splitmix64(state);
      const int j = int(state % std::uint64_t(i + 1));
      std::swap(m_perm[i], m_perm[j]);
    }
  }

  int m_n = 0, m_batch = 0;
  std::uint64_t m_seed = 0;
  long m_epoch = 0;
  int m_pos = 0;
  std::vector<int> m_perm;
};

}  // namespace bilevel
