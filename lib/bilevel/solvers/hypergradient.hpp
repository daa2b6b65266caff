#pragma once
/// \file
/// The inexact hypergradient by the implicit function theorem (DESIGN.md section 5):
///   x_eps ~ x_hat(theta) by nmAPG to ||grad h_i|| <= eps,
///   b_i = 2 (x_eps,i - x*_i),   H_i q_i = b_i by CG to ||H_i q_i - b_i|| <= delta,
///   z = -(1/N) sum_i (d_theta grad_x h(x_eps,i))^T q_i,
/// with the upper loss F = (1/N) sum_i ||x_eps,i - x*_i||^2, the cost (nmAPG + CG iterations over
/// the samples) and the a-posteriori error bound of Ehrhardt & Roberts (2024) in the form of
/// DESIGN.md section 5, per sample and averaged:
///   e_i = |J| delta_i / mu + L_J eps_i (|q_i| + delta_i / mu)
///         + (|J| + L_J eps_i) (L_g eps_i / mu + L_H eps_i (|grad g_i| + L_g eps_i) / mu^2),
/// eps_i = ||grad h_i(x_eps)|| / mu (certified distance), delta_i the CG residual, L_g = 2.
/// |J| (the norm of d_theta grad_x R at x_eps) is estimated by power iteration on J^T J with J t
/// the regularizer's exact directional derivative; L_H and L_J are local secant estimates along
/// a random perturbation of x_eps unless set by the user. These constants are estimates, not
/// rigorous bounds: the bound is as good as they are.
///
/// Data-parallel (set_distribution): each rank passes its share of the batch; the per-sample
/// sums are taken over the whole batch in batch order, so z, the loss, the costs and the bound
/// are the whole batch's, the same on every rank and for any number of ranks.

#include <bilevel/core/impl/fixed_order.hpp>
#include <bilevel/core/noise.hpp>
#include <bilevel/parallel/distributed_views.hpp>
#include <bilevel/parallel/ordered_mixed_product.hpp>
#include <bilevel/solvers/cg.hpp>
#include <bilevel/solvers/nmapg.hpp>
#include <chrono>
#include <cmath>
#include <memory>
#include <vector>

namespace bilevel {

/// \brief Hypergradient settings.
struct HypergradientOptions {
  NmapgOptions lower;
  LinearSolverOptions linear;
  bool estimate_bound = true;  ///< compute the error bound
  /// Re-estimate |J|, L_H, L_J on this call; otherwise reuse the last estimates (the first
  /// bound always estimates). The formula itself costs a few norms, the constants a few
  /// gradients and parameter updates, so long runs refresh them only now and then.
  bool refresh_constants = true;
  int jacobian_power_iterations = 3;
  double lipschitz_hessian = -1;   ///< L_H; negative: secant estimate
  double lipschitz_jacobian = -1;  ///< L_J; negative: secant estimate
  /// Sum the mixed products sample by sample in batch order (OrderedMixedProduct) even on one
  /// process without MPI: the bits are then those of any MPI run. Always on for an MPI
  /// communicator.
  bool ordered_sample_sum = false;
};

/// \brief The constants of the error bound (DESIGN.md section 5): |J| = |d_theta grad_x R|,
/// the Lipschitz constants L_H of the Hessian and L_J of J in x, and whether they have been
/// estimated yet.
struct BoundConstants {
  double jacobian_norm = 0, lipschitz_hessian = 0, lipschitz_jacobian = 0;
  bool estimated = false;
  /// As checkpoints store them: |J|, L_H, L_J, estimated (1 or 0).
  std::vector<double> to_vector() const {
    return {jacobian_norm, lipschitz_hessian, lipschitz_jacobian, estimated ? 1.0 : 0.0};
  }
  static BoundConstants from_vector(const std::vector<double>& c) {
    require(c.size() == 4, "bilevel::BoundConstants: 4 values expected, got ", c.size());
    return {c[0], c[1], c[2], c[3] != 0};
  }
};

/// \brief One hypergradient and everything measured on the way.
template <class Scalar, class MemorySpace>
struct HypergradientResult {
  Kokkos::View<Scalar*, MemorySpace> z;  ///< the hypergradient (length of theta)
  double loss = 0;                       ///< (1/N) sum ||x_eps - x*||^2
  std::vector<double> sample_losses;
  long lower_cost = 0, linear_cost = 0;  ///< nmAPG and CG iterations summed over samples
  long cost() const { return lower_cost + linear_cost; }
  NmapgResult lower;
  LinearSolveResult linear;
  double mu = 0;
  double certified_distance = 0;  ///< max_i ||grad h_i|| / mu
  double jacobian_norm = 0, lipschitz_hessian = 0, lipschitz_jacobian = 0;
  double bound = 0;  ///< estimate of ||z - grad F||; 0 unless estimate_bound
  /// Wall time of the parts (fenced): lower level, linear solve, mixed product, bound.
  double seconds_lower = 0, seconds_linear = 0, seconds_mixed = 0, seconds_bound = 0;
  /// Data-parallel runs: how long this rank waited for the slowest one, and the most any
  /// rank waited (0 on one process).
  double seconds_idle = 0, seconds_idle_max = 0;
};

/// \brief Fenced wall-clock laps (host timer after space.fence()).
template <class ExecSpace>
class Stopwatch {
 public:
  explicit Stopwatch(const ExecSpace& space)
      : m_space(space), m_last(std::chrono::steady_clock::now()) {}
  double lap() {
    m_space.fence();
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - m_last).count();
    m_last = now;
    return s;
  }

 private:
  ExecSpace m_space;
  std::chrono::steady_clock::time_point m_last;
};

/// \brief Computes inexact hypergradients for batches; owns its solvers and buffers.
template <class Scalar, class ExecSpace = DefaultExecSpace>
class HypergradientSolver {
 public:
  using memory_space = typename ExecSpace::memory_space;
  using MutImages = Images<Scalar, memory_space>;
  using ConstImages = Kokkos::View<const Scalar****, Kokkos::LayoutRight, memory_space>;
  using Params = Kokkos::View<Scalar*, memory_space>;
  using Result = HypergradientResult<Scalar, memory_space>;

  explicit HypergradientSolver(const HypergradientOptions& opt = {})
      : m_opt(opt), m_nmapg(opt.lower), m_linear(opt.linear) {}
  const HypergradientOptions& options() const { return m_opt; }
  /// Whether the next computations report the bound, and re-estimate its constants.
  /// The cached constants of the bound (for checkpoints).
  const BoundConstants& constants() const { return m_constants; }
  void set_constants(const BoundConstants& c) { m_constants = c; }
  void set_bound_options(bool estimate_bound, bool refresh_constants) {
    m_opt.estimate_bound = estimate_bound;
    m_opt.refresh_constants = refresh_constants;
  }
  /// Makes this solver one rank of `comm`: the batches passed to compute() are this rank's
  /// positions of `partition` (in increasing order), the results those of the whole batch.
  /// Without a call: one process, the batch given is the whole batch.
  void set_distribution(const Communicator& comm, const SamplePartition& partition) {
    require(partition.ranks() == comm.size(), "bilevel::hypergradient: a partition over ",
            partition.ranks(), " ranks for a communicator of ", comm.size());
    require(!comm.distributed() || m_opt.linear.kind == LinearSolverKind::conjugate_gradient ||
                m_opt.linear.gd_step > 0,
            "bilevel::hypergradient: gradient descent over MPI needs a fixed step (its estimate "
            "of 1/lambda_max couples the samples of a batch)");
    m_comm = comm, m_partition = partition, m_distributed = true;
  }
  const Communicator& communicator() const { return m_comm; }

  /// x: warm start in, x_eps out; q: warm start in, CG solution out (both batch-shaped: this
  /// rank's share under set_distribution).
  Result compute(const ExecSpace& space, LowerLevelProblem<Scalar, ExecSpace>& h,
                 const ConstImages& clean, const MutImages& x, const MutImages& q, double eps,
                 double delta) {
    require_same_shape("bilevel::hypergradient", clean, h.measurements());
    require_same_shape("bilevel::hypergradient", x, q);
    require(delta > 0, "bilevel::hypergradient: delta must be positive, got ", delta);
    const ProfilingRegion region("bilevel::hypergradient");
    auto& reg = h.regularizer();
    const Shape s = shape_of(x);
    if (!m_distributed) m_partition = SamplePartition::contiguous(s.n, 1);
    require(s.n == m_partition.count(m_comm.rank()), "bilevel::hypergradient: a batch of ", s.n,
            " samples for a share of ", m_partition.count(m_comm.rank()));
    const int total = m_partition.total();
    allocate(s, reg.num_params());
    Result r;
    r.mu = h.mu();
    Stopwatch clock(space);
    // Everything local first, so that the wait for the slowest rank is measured in one place.
    const NmapgResult lower = m_nmapg.solve(space, h, x, eps, m_workspace);
    r.seconds_lower = clock.lap();
    squared_distance(space, x, clean, m_loss);
    const auto losses = impl::to_vector(m_loss);
    // b = 2 (x - x*) is the gradient of the upper loss g at x_eps.
    Kokkos::deep_copy(space, m_b, x);
    axpby(space, Scalar(-2), clean, Scalar(2), m_b);
    // One Hessian for the whole solve: its curvature is computed once, and CG hands the
    // products only the samples that are still iterating.
    h.prepare_hessian(space, x);
    // CG's r, p, H p take the workspace slots of nmAPG's y, y_prev, z, idle until its next solve.
    const LinearSolveResult linear =
        m_linear.solve(space, h.prepared_operator(), m_b, q, delta, m_workspace);
    r.seconds_linear = clock.lap();
    r.z = Params("bilevel::hypergradient::z", reg.num_params());
    {
      const ProfilingRegion mixed("bilevel::hypergradient::mixed_product");
      if (ordered())
        m_ordered.compute_rows(space, reg, x, q);
      else
        reg.mixed_product(space, x, q, r.z);
    }
    r.seconds_mixed = clock.lap();
    if (m_comm.distributed()) {
      const double busy = r.seconds_lower + r.seconds_linear + r.seconds_mixed;
      const double slowest = m_comm.max(busy);
      r.seconds_idle = slowest - busy;
      r.seconds_idle_max = slowest - m_comm.min(busy);
    }
    if (ordered()) m_ordered.reduce(space, m_comm, m_partition, r.z);
    axpby_params(space, r.z, -1.0 / total);
    r.lower = gather_samples(m_comm, m_partition, lower);
    r.linear = gather_samples(m_comm, m_partition, linear);
    r.sample_losses = gather_samples(m_comm, m_partition, losses);
    for (double l : r.sample_losses) r.loss += l / total;
    r.lower_cost = r.lower.total_iterations;
    r.linear_cost = r.linear.total_iterations;
    double worst = 0;
    for (double g : r.lower.gradient_norms) worst = std::max(worst, g);
    r.certified_distance = worst / r.mu;
    clock.lap();
    if (m_opt.estimate_bound) {
      const ProfilingRegion bound("bilevel::hypergradient::bound");
      error_bound(space, h, x, q, r);
    }
    r.seconds_bound = clock.lap();
    return r;
  }

 private:
  void allocate(const Shape& s, std::int64_t p) {
    if (m_b.data() == nullptr || shape_of(m_b) != s) {
      m_b = make_images<Scalar, memory_space>("bilevel::hypergradient::b", s);
      {  // scratch for the constants' estimates
        m_t1 = make_images<Scalar, memory_space>("bilevel::hypergradient::t1", s);
        m_t2 = make_images<Scalar, memory_space>("bilevel::hypergradient::t2", s);
        m_t3 = make_images<Scalar, memory_space>("bilevel::hypergradient::t3", s);
      }
      m_loss = PerSample<double, memory_space>("bilevel::hypergradient::loss", s.n);
      m_norms = PerSample<double, memory_space>("bilevel::hypergradient::norms", s.n);
    }
    if (m_p1.extent(0) != std::size_t(p)) {
      m_p1 = Params("bilevel::hypergradient::p1", p);
      m_p2 = Params("bilevel::hypergradient::p2", p);
    }
  }

 public:  // kernels inside: nvcc requires the enclosing functions to be public
  /// v = f v.
  static void axpby_params(const ExecSpace& space, const Params& v, double f) {
    Kokkos::parallel_for(
        "bilevel::hypergradient::scale", Kokkos::RangePolicy<ExecSpace>(space, 0, v.extent(0)),
        KOKKOS_LAMBDA(std::int64_t k) { v(k) = Scalar(f * v(k)); });
  }
  /// v -= w.
  static void subtract_params(const ExecSpace& space, const Params& v, const Params& w) {
    Kokkos::parallel_for(
        "bilevel::hypergradient::difference", Kokkos::RangePolicy<ExecSpace>(space, 0, v.extent(0)),
        KOKKOS_LAMBDA(std::int64_t k) { v(k) -= w(k); });
  }

 private:
  bool ordered() const { return m_comm.distributed() || m_opt.ordered_sample_sum; }

  double params_norm(const ExecSpace& space, const Params& v) const {
    return impl::flat_norm("bilevel::hypergradient::params_norm", space, v);
  }

  /// |v_i| of every sample of the whole batch, in batch order.
  std::vector<double> sample_norms(const ExecSpace& space, const MutImages& v) {
    norm2_squared(space, v, m_norms);
    std::vector<double> out;
    for (double x : impl::to_vector(m_norms)) out.push_back(std::sqrt(x));
    return gather_samples(m_comm, m_partition, out);
  }
  double max_sample_norm(const ExecSpace& space, const MutImages& v) {
    double m = 0;
    for (double n : sample_norms(space, v)) m = std::max(m, n);
    return m;
  }

  /// out = the whole batch's mixed product (x, v: this rank's share).
  void batch_mixed_product(const ExecSpace& space, Regularizer<Scalar, ExecSpace>& reg,
                           const MutImages& x, const MutImages& v, const Params& out) {
    if (!ordered()) return reg.mixed_product(space, x, v, out);
    m_ordered.compute_rows(space, reg, x, v);
    m_ordered.reduce(space, m_comm, m_partition, out);
  }

  /// noisy = x + N(0, step^2) per pixel, the noise of a sample keyed by its batch position.
  void perturb(const ExecSpace& space, const MutImages& x, double step, const MutImages& noisy) {
    const auto& mine = m_partition.positions(m_comm.rank());
    const Shape s = shape_of(x);
    const std::size_t per = std::size_t(s.per_sample());
    for (std::size_t k = 0; k < mine.size(); ++k) {
      const MutImages xk(x.data() + k * per, 1, s.c, s.h, s.w);
      const MutImages nk(noisy.data() + k * per, 1, s.c, s.h, s.w);
      add_gaussian_noise(space, xk, step, 0xD1, nk, std::uint64_t(mine[k]));
    }
  }

  /// |J|, L_H, L_J estimates (or the cached ones) and the bound (DESIGN.md section 5).
  void error_bound(const ExecSpace& space, LowerLevelProblem<Scalar, ExecSpace>& h,
                   const MutImages& x, const MutImages& q, Result& r) {
    if (m_opt.refresh_constants || !m_constants.estimated) estimate_constants(space, h, x, q);
    const BoundConstants& c = m_constants;
    r.jacobian_norm = c.jacobian_norm, r.lipschitz_hessian = c.lipschitz_hessian;
    r.lipschitz_jacobian = c.lipschitz_jacobian;
    const double jn = c.jacobian_norm, lh = c.lipschitz_hessian, lj = c.lipschitz_jacobian;
    // b = grad g(x_eps) = 2 (x - x*) is in m_b.
    const auto qn = sample_norms(space, q), gn = sample_norms(space, m_b);
    const double mu = r.mu, lg = 2.0;
    const int n = m_partition.total();
    double total = 0;
    for (int i = 0; i < n; ++i) {
      const double e = r.lower.gradient_norms[i] / mu, d = r.linear.residual_norms[i];
      total += jn * d / mu + lj * e * (qn[i] + d / mu) +
               (jn + lj * e) * (lg * e / mu + lh * e * (gn[i] + lg * e) / (mu * mu));
    }
    r.bound = total / n;
  }

  void estimate_constants(const ExecSpace& space, LowerLevelProblem<Scalar, ExecSpace>& h,
                          const MutImages& x, const MutImages& q) {
    auto& reg = h.regularizer();
    const Shape s = shape_of(x);
    if (!m_workspace_of_estimate || m_estimate_model != &reg)
      m_workspace_of_estimate = reg.make_workspace(), m_estimate_model = &reg;
    auto& ws = *m_workspace_of_estimate;
    // |J| by power iteration on J^T J: J t exact (forward mode), J^T (J t) the mixed product.
    // Neither touches the model, so the run's trajectory does not depend on when constants are
    // estimated (exact resumes), and a model shared with other callers is left alone.
    if (m_direction.extent(0) != std::size_t(reg.num_params()))
      m_direction = Params("bilevel::hypergradient::direction", reg.num_params());
    auto t = Kokkos::create_mirror_view(m_direction);
    {
      const auto z0 = host_normals(0x4A, t.extent(0));
      double tn = 0;
      for (double v : z0) tn += v * v;
      tn = std::sqrt(tn);
      for (std::size_t k = 0; k < t.extent(0); ++k) t(k) = Scalar(z0[k] / tn);
    }
    double jn = 0;
    for (int it = 0; it < m_opt.jacobian_power_iterations; ++it) {
      Kokkos::deep_copy(space, m_direction, t);
      reg.jacobian_vector_product(space, x, m_direction, m_t1, ws);  // J t
      batch_mixed_product(space, reg, x, m_t1, m_p1);                // J^T J t
      auto hp = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_p1);
      double n2 = 0;
      for (std::size_t k = 0; k < hp.extent(0); ++k) n2 += double(hp(k)) * double(hp(k));
      jn = std::sqrt(std::sqrt(n2));  // |J^T J t| -> |J|^2 for the top singular vector
      for (std::size_t k = 0; k < t.extent(0); ++k) t(k) = Scalar(hp(k) / std::sqrt(n2));
    }
    // Secant estimates along a random perturbation d of x with |d_i| ~ 1e-2 |x_i|.
    const double scale = max_sample_norm(space, x);
    const double step = 1e-2 * std::max(scale, 1e-3) / std::sqrt(double(s.per_sample()));
    perturb(space, x, step, m_t3);  // m_t3 = x + d
    double dn = 0;
    {
      axpby(space, Scalar(-1), x, Scalar(1), m_t3);  // d
      dn = max_sample_norm(space, m_t3);
      axpby(space, Scalar(1), x, Scalar(1), m_t3);  // back to x + d
    }
    double lh = m_opt.lipschitz_hessian, lj = m_opt.lipschitz_jacobian;
    if (lh < 0) {  // |H(x + d) u - H(x) u| / |d| with u = q / |q|
      h.hessian_vector_product(space, m_t3, q, m_t1);
      h.hessian_vector_product(space, x, q, m_t2);
      axpby(space, Scalar(-1), m_t2, Scalar(1), m_t1);
      const double num = max_sample_norm(space, m_t1), qn = max_sample_norm(space, q);
      lh = qn > 0 ? num / (qn * dn) : 0;
    }
    if (lj < 0) {  // |J(x + d)^T q - J(x)^T q| / (|d| |q|)
      batch_mixed_product(space, reg, m_t3, q, m_p1);
      batch_mixed_product(space, reg, x, q, m_p2);
      subtract_params(space, m_p1, m_p2);
      const double qn = max_sample_norm(space, q);
      lj = qn > 0 ? params_norm(space, m_p1) / (qn * dn) : 0;
    }
    m_constants = {jn, lh, lj, true};
  }

  HypergradientOptions m_opt;
  Communicator m_comm;
  SamplePartition m_partition;
  bool m_distributed = false;
  OrderedMixedProduct<Scalar, ExecSpace> m_ordered;
  Nmapg<Scalar, ExecSpace> m_nmapg;
  BatchedLinearSolver<Scalar, ExecSpace> m_linear;
  SolverWorkspace<Scalar, memory_space> m_workspace;  // nmAPG's and CG's images
  MutImages m_b, m_t1, m_t2, m_t3;
  BoundConstants m_constants;
  PerSample<double, memory_space> m_loss, m_norms;
  Params m_p1, m_p2, m_direction;  // m_direction: t of the |J| power iteration
  // The estimate's own regularizer workspace, and the model it was made for.
  std::unique_ptr<typename Regularizer<Scalar, ExecSpace>::Workspace> m_workspace_of_estimate;
  const Regularizer<Scalar, ExecSpace>* m_estimate_model = nullptr;
};

}  // namespace bilevel
