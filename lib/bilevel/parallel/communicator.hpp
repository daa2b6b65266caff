#pragma once
/// \file
/// The group of processes a training run spans (DESIGN.md section 9). The default-constructed
/// Communicator is one process without MPI: every collective is the identity and the serial
/// code path is unchanged. Built with Bilevel_ENABLE_MPI, a Communicator wraps an MPI
/// communicator (not owned). Collectives move host memory; device Views go through
/// parallel/distributed_views.hpp, which stages them through one host mirror (works on MPI
/// libraries that are not GPU-aware). Every rank must make the same calls in the same order.

#include <bilevel/config.hpp>
#include <bilevel/core/error.hpp>
#include <cstddef>
#include <cstdint>
#include <vector>
#if BILEVEL_HAVE_MPI
#include <mpi.h>
#endif

namespace bilevel {

class Communicator {
 public:
  /// One process, no MPI.
  Communicator() = default;
#if BILEVEL_HAVE_MPI
  /// The processes of `comm` (not duplicated, not freed: the caller keeps it alive).
  explicit Communicator(MPI_Comm comm);
  MPI_Comm mpi_comm() const { return m_comm; }
#endif

  int rank() const { return m_rank; }
  int size() const { return m_size; }
  bool is_root() const { return m_rank == 0; }
  /// True for an MPI communicator, even of one process: the hypergradient then sums its
  /// per-sample terms in batch order, so results do not depend on the number of ranks.
  bool distributed() const { return m_mpi; }

  void barrier() const;
  /// The maximum (and minimum) over ranks.
  double max(double v) const;
  double min(double v) const;
  std::uint64_t max(std::uint64_t v) const;
  std::uint64_t min(std::uint64_t v) const;
  /// The sum over ranks (integers: exact, independent of the reduction order).
  std::int64_t sum(std::int64_t v) const;
  /// True if `flag` is true on any rank.
  bool any(bool flag) const;

  /// Every rank's `bytes` bytes at `local`, concatenated in rank order into `out` (which holds
  /// the sum of `counts`, the byte count of each rank, known to every rank).
  void allgather_bytes(const void* local, std::size_t bytes, void* out,
                       const std::vector<std::size_t>& counts) const;
  /// `bytes` bytes at `data` from rank `root` to every rank.
  void broadcast_bytes(void* data, std::size_t bytes, int root) const;

  /// Every rank's values in rank order (the counts may differ between ranks).
  template <class T>
  std::vector<T> allgather(const std::vector<T>& local) const {
    const auto counts = allgather_counts(local.size() * sizeof(T));
    std::size_t total = 0;
    for (auto c : counts) total += c;
    std::vector<T> out(total / sizeof(T));
    allgather_bytes(local.data(), local.size() * sizeof(T), out.data(), counts);
    return out;
  }
  /// Each rank's byte count, in rank order.
  std::vector<std::size_t> allgather_counts(std::size_t bytes) const;

 private:
#if BILEVEL_HAVE_MPI
  MPI_Comm m_comm = MPI_COMM_NULL;
#endif
  int m_rank = 0, m_size = 1;
  bool m_mpi = false;
};

}  // namespace bilevel
