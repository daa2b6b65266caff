#pragma once
/// \file
/// The mixed product of a batch split over ranks, summed so that the result does not depend on
/// the split (DESIGN.md section 9): each sample's own d_theta <grad_x R(x_s), q_s> is one row,
/// and the rows of the whole batch are added in batch order, in double, on every rank. The
/// bits then agree for any number of ranks and any assignment of samples to ranks (host
/// backends; on GPUs a sample's row is reproducible run to run on one device). The batched
/// Regularizer::mixed_product is cheaper on one process (one pass over the batch); this one
/// costs one pass per sample, plus a gather of rows of the length of theta.

#include <bilevel/parallel/communicator.hpp>
#include <bilevel/parallel/sample_partition.hpp>
#include <bilevel/regularizers/regularizer.hpp>
#include <memory>
#include <vector>

namespace bilevel {

template <class Scalar, class ExecSpace = DefaultExecSpace>
class OrderedMixedProduct {
 public:
  using memory_space = typename ExecSpace::memory_space;
  using ConstImages = Kokkos::View<const Scalar****, Kokkos::LayoutRight, memory_space>;
  using Params = Kokkos::View<Scalar*, memory_space>;

  /// Step 1 (local, no communication): the rows of this rank's samples x, q (its positions of
  /// the partition, in increasing order).
  void compute_rows(const ExecSpace& space, const Regularizer<Scalar, ExecSpace>& reg,
                    const ConstImages& x, const ConstImages& q) {
    require_same_shape("bilevel::OrderedMixedProduct", x, q);
    const std::size_t n = x.extent(0), d = std::size_t(reg.num_params());
    const std::size_t per = x.extent(1) * x.extent(2) * x.extent(3);
    if (m_rows.extent(0) != n * d)
      m_rows = Kokkos::View<Scalar*, memory_space>(
          Kokkos::view_alloc(Kokkos::WithoutInitializing, "bilevel::ordered_mixed_product::rows"),
          n * d);
    // One-sample shapes in a workspace of their own: the callers' batch buffers stay allocated.
    if (!m_workspace || m_workspace_of != &reg)
      m_workspace = reg.make_workspace(), m_workspace_of = &reg;
    for (std::size_t k = 0; k < n; ++k) {
      const ConstImages xk(x.data() + k * per, 1, x.extent(1), x.extent(2), x.extent(3));
      const ConstImages qk(q.data() + k * per, 1, q.extent(1), q.extent(2), q.extent(3));
      reg.mixed_product(space, xk, qk, Params(m_rows.data() + k * d, d), *m_workspace);
    }
  }

  /// Step 2 (collective): dtheta = sum over batch positions, in increasing order, of the rows.
  void reduce(const ExecSpace& space, const Communicator& comm, const SamplePartition& p,
              const Params& dtheta) {
    const std::size_t d = dtheta.extent(0);
    require(m_rows.extent(0) == std::size_t(p.count(comm.rank())) * d,
            "bilevel::OrderedMixedProduct::reduce: rows of ", m_rows.extent(0) / (d ? d : 1),
            " samples for a share of ", p.count(comm.rank()));
    const auto mine = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_rows);
    std::vector<Scalar> all(std::size_t(p.total()) * d);
    std::vector<std::size_t> counts;
    for (int r = 0; r < comm.size(); ++r)
      counts.push_back(std::size_t(p.count(r)) * d * sizeof(Scalar));
    comm.allgather_bytes(mine.data(), mine.span() * sizeof(Scalar), all.data(), counts);
    // row_of[position] = where that sample's row sits in the gathered (rank-ordered) rows
    const auto order = p.rank_order();
    std::vector<std::size_t> row_of(order.size());
    for (std::size_t k = 0; k < order.size(); ++k) row_of[std::size_t(order[k])] = k;
    std::vector<double> acc(d, 0.0);
    for (std::size_t pos = 0; pos < row_of.size(); ++pos) {
      const Scalar* row = all.data() + row_of[pos] * d;
      for (std::size_t j = 0; j < d; ++j) acc[j] += double(row[j]);
    }
    auto out = Kokkos::create_mirror_view(dtheta);
    for (std::size_t j = 0; j < d; ++j) out(j) = Scalar(acc[j]);
    Kokkos::deep_copy(space, dtheta, out);
    space.fence();  // out may be a temporary host mirror
  }

 private:
  Kokkos::View<Scalar*, memory_space> m_rows;
  std::unique_ptr<typename Regularizer<Scalar, ExecSpace>::Workspace> m_workspace;
  const Regularizer<Scalar, ExecSpace>* m_workspace_of = nullptr;  // the model it was made by
};

}  // namespace bilevel
