#pragma once
/// \file
/// Test-set evaluation: every test image reconstructed at the current theta to accuracy eps,
/// in chunks of a few images, each warm-started from its previous reconstruction, and its
/// PSNR against the clean image. The chunk buffers, problems and solvers are built on first
/// use and reused by every later evaluation. Data-parallel: chunk j is solved by rank
/// j mod R and its reconstructions, PSNRs and flags are broadcast, so every rank ends with the
/// whole set (the chunks are the same for any R, so are the results).

#include <bilevel/core/metrics.hpp>
#include <bilevel/parallel/distributed_views.hpp>
#include <bilevel/solvers/lower_level.hpp>
#include <bilevel/solvers/nmapg.hpp>
#include <bilevel/train/task.hpp>
#include <map>
#include <memory>
#include <vector>

namespace bilevel {

template <class Scalar, class ExecSpace = DefaultExecSpace>
class Evaluator {
 public:
  using memory_space = typename ExecSpace::memory_space;
  using MutImages = Images<Scalar, memory_space>;
  using Data = TaskData<Scalar, ExecSpace>;

  /// `chunk` test images are solved together (the last chunk may be smaller).
  Evaluator(const ExecSpace& space, Regularizer<Scalar, ExecSpace>& reg, const Data& test,
            const NmapgOptions& lower, int chunk, double eps, const Communicator& comm = {})
      : m_space(space),
        m_comm(comm),
        m_reg(reg),
        m_test(test),
        m_lower(lower),
        m_chunk(std::max(1, std::min(chunk, test.size()))),
        m_eps(eps) {}

  /// PSNR of every test reconstruction, in test-set order; `cost` receives the iterations.
  std::vector<double> psnrs(long* cost = nullptr) {
    const ProfilingRegion region("bilevel::trainer::test_evaluation");
    const int n = m_test.size();
    if (m_x.data() == nullptr) {
      m_x = make_images<Scalar, memory_space>("bilevel::trainer::test_x", m_test.image_shape());
      Kokkos::deep_copy(m_space, m_x, m_test.measured());
    }
    std::vector<double> out;
    m_capped.clear();
    long c = 0;
    for (int first = 0, j = 0; first < n; first += m_chunk, ++j) {
      Chunk& ch = chunk(std::min(m_chunk, n - first));
      const int count = int(ch.x.extent(0));
      const auto xs = Kokkos::subview(m_x, std::make_pair(first, first + count), Kokkos::ALL,
                                      Kokkos::ALL, Kokkos::ALL);
      const int owner = j % m_comm.size();
      // per image: PSNR, converged; then the chunk's cost
      std::vector<double> info(std::size_t(2 * count + 1), 0.0);
      if (owner == m_comm.rank()) {
        std::vector<int> ids(static_cast<std::size_t>(count));
        for (int i = 0; i < count; ++i) ids[std::size_t(i)] = first + i;
        m_test.gather(m_space, ids, ch.batch);
        Kokkos::deep_copy(m_space, ch.x, xs);
        const auto r = ch.solver.solve(m_space, ch.problem, ch.x, m_eps);
        Kokkos::deep_copy(m_space, xs, ch.x);
        const auto p = psnr_host(m_space, ch.x, ch.batch.clean);
        for (int i = 0; i < count; ++i) {
          info[std::size_t(2 * i)] = p[std::size_t(i)];
          info[std::size_t(2 * i + 1)] = r.converged[std::size_t(i)];
        }
        info.back() = double(r.total_iterations);
      }
      if (m_comm.size() > 1) {
        m_comm.broadcast_bytes(info.data(), info.size() * sizeof(double), owner);
        broadcast_view(m_comm, m_space, xs, owner);
      }
      c += long(info.back());
      for (int i = 0; i < count; ++i) {
        out.push_back(info[std::size_t(2 * i)]);
        if (info[std::size_t(2 * i + 1)] == 0) m_capped.push_back(first + i);
      }
    }
    if (cost) *cost = c;
    return out;
  }

  /// The test images (indices) whose solve stopped at the iteration cap before reaching eps in
  /// the last evaluation: their PSNRs are not certified.
  const std::vector<int>& capped() const { return m_capped; }
  /// The shape of the evaluated set.
  Shape image_shape() const { return m_test.image_shape(); }
  /// The lower-level iteration cap.
  int max_iterations() const { return m_lower.max_iterations; }

  /// The reconstructions of the last evaluation (an empty View before the first).
  const MutImages& reconstructions() const { return m_x; }
  /// Restores reconstructions saved from reconstructions() (a resumed run's warm starts).
  void set_reconstructions(const MutImages& x) {
    require(shape_of(x) == m_test.image_shape(),
            "bilevel::Evaluator: reconstructions of the wrong shape");
    m_x = x;
  }

 private:
  /// The buffers, problem and solver for chunks of one size.
  struct Chunk {
    Chunk(const Evaluator& e, int count)
        : batch(e.m_test.make_batch(e.m_space, count)),
          x(make_images<Scalar, memory_space>("bilevel::trainer::test_chunk",
                                              shape_of(batch.clean))),
          problem(*batch.op, e.m_reg, batch.measured, e.m_test.task().xi),
          solver(e.m_lower) {}
    typename Data::Batch batch;
    MutImages x;
    LowerLevelProblem<Scalar, ExecSpace> problem;
    Nmapg<Scalar, ExecSpace> solver;
  };
  Chunk& chunk(int count) {
    auto& slot = m_chunks[count];
    if (!slot) slot = std::make_unique<Chunk>(*this, count);
    return *slot;
  }

  ExecSpace m_space;
  Communicator m_comm;
  Regularizer<Scalar, ExecSpace>& m_reg;
  const Data& m_test;
  NmapgOptions m_lower;
  int m_chunk;
  double m_eps;
  MutImages m_x;
  std::vector<int> m_capped;
  std::map<int, std::unique_ptr<Chunk>> m_chunks;
};

}  // namespace bilevel
