#pragma once
/// \file
/// Warm starts keyed by sample id (DESIGN.md sections 4 and 5): the last lower-level solution
/// (or CG solution) of every training sample, so that the next time a sample is drawn into a
/// mini-batch its solve starts where the previous one ended.

#include <bilevel/core/views.hpp>
#include <vector>

namespace bilevel {

/// \brief Per-sample storage of the last solution, for `capacity` sample ids 0 .. capacity-1.
template <class Scalar, class ExecSpace = DefaultExecSpace>
class WarmStartCache {
 public:
  using memory_space = typename ExecSpace::memory_space;
  using MutImages = Images<Scalar, memory_space>;
  using ConstImages = Kokkos::View<const Scalar****, Kokkos::LayoutRight, memory_space>;

  WarmStartCache() = default;
  /// Room for `capacity` samples of shape (c, h, w) (s.n is the capacity), zeroed on `space`
  /// (slots never stored are written to checkpoints too: no uninitialised memory there).
  WarmStartCache(const ExecSpace& space, const Shape& s)
      : m_store(make_images<Scalar, memory_space>("bilevel::warm_start", s)),
        m_seen(std::size_t(s.n), 0) {
    Kokkos::deep_copy(space, m_store, Scalar(0));
  }

  int capacity() const { return int(m_seen.size()); }
  bool seen(int id) const { return m_seen.at(std::size_t(id)) != 0; }

  /// out(k) = stored solution of ids[k], or fallback(k) for an id never stored.
  void gather(const ExecSpace& space, const std::vector<int>& ids, const ConstImages& fallback,
              const MutImages& out) const {
    check("gather", ids, out);
    require_same_shape("bilevel::WarmStartCache::gather", fallback, out);
    for (std::size_t k = 0; k < ids.size(); ++k) {
      const auto dst = sample(out, int(k));
      if (m_seen[std::size_t(ids[k])])
        Kokkos::deep_copy(space, dst, sample(m_store, ids[k]));
      else
        Kokkos::deep_copy(space, dst, sample(fallback, int(k)));
    }
  }

  /// Stores x(k) as the solution of ids[k].
  void scatter(const ExecSpace& space, const std::vector<int>& ids, const ConstImages& x) {
    check("scatter", ids, x);
    for (std::size_t k = 0; k < ids.size(); ++k) {
      Kokkos::deep_copy(space, sample(m_store, ids[k]), sample(x, int(k)));
      m_seen[std::size_t(ids[k])] = 1;
    }
  }

  /// Everything stored (for checkpoints) and the seen flags.
  const MutImages& storage() const { return m_store; }
  const std::vector<char>& seen_flags() const { return m_seen; }
  void set_seen_flags(const std::vector<char>& f) {
    require(f.size() == m_seen.size(), "bilevel::WarmStartCache: ", f.size(), " flags for ",
            m_seen.size(), " samples");
    m_seen = f;
  }

 private:
  template <class V>
  static auto sample(const V& v, int k) {
    return Kokkos::subview(v, std::make_pair(k, k + 1), Kokkos::ALL, Kokkos::ALL, Kokkos::ALL);
  }
  template <class V>
  void check(const char* where, const std::vector<int>& ids, const V& batch) const {
    require(ids.size() == batch.extent(0), "bilevel::WarmStartCache::", where, ": ", ids.size(),
            " ids for a batch of ", batch.extent(0));
    require(batch.extent(1) == m_store.extent(1) && batch.extent(2) == m_store.extent(2) &&
                batch.extent(3) == m_store.extent(3),
            "bilevel::WarmStartCache::", where, ": batch ", shape_of(batch).str(),
            " does not match the stored samples ", shape_of(m_store).str());
    for (int id : ids)
      require(id >= 0 && id < capacity(), "bilevel::WarmStartCache::", where, ": sample id ", id,
              " outside 0..", capacity() - 1);
  }

  MutImages m_store;
  std::vector<char> m_seen;
};

}  // namespace bilevel
