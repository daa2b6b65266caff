#pragma once
/// \file
/// Moving per-sample data between ranks (DESIGN.md section 9): image batches and per-sample
/// results are gathered into batch order on every rank, and Views broadcast from one rank.
/// Device Views are staged through one host mirror each way (no GPU-aware MPI needed; on host
/// backends the mirror is the View itself). On one process without MPI every call is a copy.

#include <bilevel/core/views.hpp>
#include <bilevel/parallel/communicator.hpp>
#include <bilevel/parallel/sample_partition.hpp>
#include <bilevel/solvers/cg.hpp>
#include <bilevel/solvers/nmapg.hpp>
#include <cstring>
#include <vector>

namespace bilevel {

/// One value per local sample (this rank's positions of `p`) to one per batch sample, in
/// batch order, on every rank.
template <class T>
std::vector<T> gather_samples(const Communicator& comm, const SamplePartition& p,
                              const std::vector<T>& local) {
  require(int(local.size()) == p.count(comm.rank()), "bilevel::gather_samples: ", local.size(),
          " values for ", p.count(comm.rank()), " local samples");
  if (!comm.distributed()) return p.to_batch_order(local);
  return p.to_batch_order(comm.allgather(local));
}

/// The per-sample results of every rank's share of a batch, in batch order, with the totals.
inline NmapgResult gather_samples(const Communicator& comm, const SamplePartition& p,
                                  const NmapgResult& local) {
  NmapgResult r;
  r.iterations = gather_samples(comm, p, local.iterations);
  r.gradient_norms = gather_samples(comm, p, local.gradient_norms);
  r.converged = gather_samples(comm, p, local.converged);
  for (int i : r.iterations) r.total_iterations += i;
  return r;
}
inline LinearSolveResult gather_samples(const Communicator& comm, const SamplePartition& p,
                                        const LinearSolveResult& local) {
  LinearSolveResult r;
  r.iterations = gather_samples(comm, p, local.iterations);
  r.residual_norms = gather_samples(comm, p, local.residual_norms);
  r.converged = gather_samples(comm, p, local.converged);
  for (int i : r.iterations) r.total_iterations += i;
  r.gd_step = local.gd_step;
  return r;
}

/// global(p) = the sample at batch position p, whichever rank holds it: `local` holds this
/// rank's positions of `p` (in increasing order), `global` the whole batch (every rank).
template <class ExecSpace, class Local, class Global>
void gather_samples(const Communicator& comm, const SamplePartition& p, const ExecSpace& space,
                    const Local& local, const Global& global) {
  static_assert(Local::rank == 4 && Global::rank == 4, "bilevel::gather_samples: image batches");
  using T = typename Global::non_const_value_type;
  require(int(local.extent(0)) == p.count(comm.rank()) && int(global.extent(0)) == p.total() &&
              local.extent(1) == global.extent(1) && local.extent(2) == global.extent(2) &&
              local.extent(3) == global.extent(3),
          "bilevel::gather_samples: local batch ", shape_of(local).str(), " and batch ",
          shape_of(global).str(), " do not match the partition");
  const std::size_t per = local.extent(1) * local.extent(2) * local.extent(3);
  const auto mine = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), local);
  std::vector<T> all(std::size_t(p.total()) * per);
  if (comm.distributed()) {
    std::vector<std::size_t> counts;
    for (int r = 0; r < comm.size(); ++r)
      counts.push_back(std::size_t(p.count(r)) * per * sizeof(T));
    comm.allgather_bytes(mine.data(), mine.span() * sizeof(T), all.data(), counts);
  } else if (per > 0) {
    std::memcpy(all.data(), mine.data(), mine.span() * sizeof(T));
  }
  auto out = Kokkos::create_mirror_view(global);
  const auto order = p.rank_order();
  for (std::size_t k = 0; k < order.size(); ++k)
    std::memcpy(out.data() + std::size_t(order[k]) * per, all.data() + k * per, per * sizeof(T));
  Kokkos::deep_copy(space, global, out);
  space.fence();  // the host buffers go out of scope
}

/// v on every rank becomes rank `root`'s v (a contiguous View of any rank).
template <class ExecSpace, class View>
void broadcast_view(const Communicator& comm, const ExecSpace& space, const View& v, int root) {
  if (!comm.distributed() || comm.size() == 1) return;
  using T = typename View::non_const_value_type;
  require(v.span_is_contiguous(), "bilevel::broadcast_view: View '", v.label(),
          "' is not contiguous");
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  comm.broadcast_bytes(h.data(), h.span() * sizeof(T), root);
  Kokkos::deep_copy(space, v, h);
  space.fence();
}

}  // namespace bilevel
