#pragma once
/// \file
/// Batched linear solvers for the hypergradient's system H q = b, H = Hess_xx h (DESIGN.md
/// section 5): conjugate gradients with per-sample alpha, beta and stop test ||H q - b|| <= delta,
/// and, as the "inexact AD" alternative (talk slides, "IFT vs inexact AD"), gradient descent on
/// the same quadratic with a fixed step 1 / lambda_max(H).

#include <bilevel/solvers/impl/batch_ops.hpp>
#include <bilevel/solvers/lanczos.hpp>
#include <bilevel/solvers/solver_workspace.hpp>
#include <cmath>
#include <type_traits>
#include <vector>

namespace bilevel {

enum class LinearSolverKind { conjugate_gradient = 0, gradient_descent = 1 };

/// \brief Linear solver settings.
struct LinearSolverOptions {
  LinearSolverKind kind = LinearSolverKind::conjugate_gradient;
  int max_iterations = 5000;
  double gd_step = 0;  ///< gradient descent step; 0 estimates 1 / lambda_max(H) by Lanczos
};

/// \brief What a solve did, per sample.
struct LinearSolveResult {
  std::vector<int> iterations;
  std::vector<double> residual_norms;  ///< ||H q - b|| (CG: the recursively updated residual)
  std::vector<int> converged;
  long total_iterations = 0;  ///< sum over samples: the cost
  double gd_step = 0;         ///< the step gradient descent used
};

/// \brief Batched CG / gradient descent. Its images r, p and H p live in slots 0-2 of a
/// SolverWorkspace, its own or the caller's (the hypergradient's, where nmAPG's y, y_prev and z
/// sit idle while CG runs); its per-sample scalars are its own.
template <class Scalar, class ExecSpace = DefaultExecSpace>
class BatchedLinearSolver {
 public:
  using memory_space = typename ExecSpace::memory_space;
  using MutImages = Images<Scalar, memory_space>;
  using Coefs = Kokkos::View<Scalar*, memory_space>;
  using Doubles = PerSample<double, memory_space>;

  explicit BatchedLinearSolver(const LinearSolverOptions& opt = {}) : m_opt(opt) {}
  const LinearSolverOptions& options() const { return m_opt; }
  using Workspace = SolverWorkspace<Scalar, memory_space>;

  /// Solves apply(q) = b per sample to ||apply(q) - b|| <= delta; q holds the warm start and
  /// receives the solution. apply(space, in, out) must be symmetric positive definite. Throws
  /// bilevel::Error on non-positive curvature or non-finite values. An operator that also takes
  /// a SampleSelection, apply(space, in, out, sel), is given the samples still iterating inside
  /// the iterations, so that converged ones cost nothing (its other outputs may be anything
  /// finite).
  template <class Apply>
  LinearSolveResult solve(const ExecSpace& space, const Apply& apply, const MutImages& b,
                          const MutImages& q, double delta) {
    return solve(space, apply, b, q, delta, m_own);
  }
  /// The same with r, p and H p in slots 0-2 of the caller's workspace.
  template <class Apply>
  LinearSolveResult solve(const ExecSpace& space, const Apply& apply, const MutImages& b,
                          const MutImages& q, double delta, Workspace& ws) {
    require(delta > 0 && std::isfinite(delta),
            "bilevel::linear solver: tolerance must be positive, got ", delta);
    require_same_shape("bilevel::linear solver", b, q);
    allocate(space, shape_of(b), ws);
    const bool by_cg = m_opt.kind == LinearSolverKind::conjugate_gradient;
    const ProfilingRegion region(by_cg ? "bilevel::cg" : "bilevel::gradient_descent");
    return by_cg ? cg(space, apply, b, q, delta) : gradient_descent(space, apply, b, q, delta);
  }

 public:  // kernels inside: nvcc requires the enclosing functions to be public
  template <class Apply>
  LinearSolveResult cg(const ExecSpace& space, const Apply& apply, const MutImages& b,
                       const MutImages& q, double delta) {
    const int n = int(b.extent(0));
    const int max_it = m_opt.max_iterations;
    const auto rr = m_rr, pap = m_pap, rrn = m_rrn, active = m_active, iters = m_iters, bad = m_bad;
    const auto alpha = m_alpha, nalpha = m_nalpha, beta = m_beta;
    residual(space, apply, b, q);  // r = b - H q
    norm2_squared(space, m_r, m_rr);
    Kokkos::deep_copy(space, m_p, m_r);
    Kokkos::parallel_for(
        "bilevel::cg::init", Kokkos::RangePolicy<ExecSpace>(space, 0, n), KOKKOS_LAMBDA(int i) {
          iters(i) = 0, bad(i) = 0;
          active(i) = math::sqrt(rr(i)) > delta ? 1 : 0;
        });
    // Converged samples leave the operator's work: it sees the active ones only.
    int remaining = impl::count(space, m_active);
    SampleSelection<memory_space> sel = SampleSelection<memory_space>::every(n);
    while (remaining > 0) {
      if (remaining != sel.count) sel = impl::flagged_samples(space, m_active, m_ids, remaining);
      apply_to(space, apply, m_p, m_ap, sel);
      dot(space, m_p, m_ap, m_pap);
      Kokkos::parallel_for(
          "bilevel::cg::alpha", Kokkos::RangePolicy<ExecSpace>(space, 0, n), KOKKOS_LAMBDA(int i) {
            alpha(i) = 0, nalpha(i) = 0;
            if (!active(i)) return;
            if (!(pap(i) > 0) || !math::isfinite(pap(i))) {
              bad(i) = 1, active(i) = 0;
              return;
            }
            alpha(i) = Scalar(rr(i) / pap(i)), nalpha(i) = -alpha(i);
          });
      axpby(space, m_alpha, m_p, m_one, q);                   // q += alpha p
      axpby_norm2(space, m_nalpha, m_ap, m_one, m_r, m_rrn);  // r -= alpha A p, |r|^2 fused
      Kokkos::parallel_for(
          "bilevel::cg::beta", Kokkos::RangePolicy<ExecSpace>(space, 0, n), KOKKOS_LAMBDA(int i) {
            beta(i) = 0;
            if (!active(i)) return;
            beta(i) = Scalar(rrn(i) / rr(i));
            rr(i) = rrn(i);
            iters(i) += 1;
            if (math::sqrt(rr(i)) <= delta || iters(i) >= max_it) active(i) = 0;
          });
      axpby(space, m_one, m_r, m_beta, m_p);  // p = r + beta p
      remaining = impl::count(space, m_active);
    }
    return finish(space, delta, "conjugate gradients");
  }

  template <class Apply>
  LinearSolveResult gradient_descent(const ExecSpace& space, const Apply& apply, const MutImages& b,
                                     const MutImages& q, double delta) {
    const int n = int(b.extent(0));
    double step = m_opt.gd_step;
    if (step <= 0) {
      Lanczos<Scalar, ExecSpace> lanczos(shape_of(b), 20);
      Kokkos::deep_copy(space, m_p, b);
      const auto e = lanczos.top_eigenpair(space, apply, m_p, 1e-3, 200);
      require(e.value > 0, "bilevel::gradient descent: the operator is not positive definite");
      step = 1.0 / (e.value * (1 + 1e-3 + e.residual / e.value));  // stay below 2 / lambda_max
    }
    const int max_it = m_opt.max_iterations;
    const auto rr = m_rr, active = m_active, iters = m_iters, bad = m_bad, k = m_alpha;
    Kokkos::parallel_for(
        "bilevel::gd::init", Kokkos::RangePolicy<ExecSpace>(space, 0, n),
        KOKKOS_LAMBDA(int i) { iters(i) = 0, bad(i) = 0, active(i) = 1; });
    for (;;) {
      residual(space, apply, b, q);  // r = b - H q = -(gradient of the quadratic)
      norm2_squared(space, m_r, m_rr);
      Kokkos::parallel_for(
          "bilevel::gd::step", Kokkos::RangePolicy<ExecSpace>(space, 0, n), KOKKOS_LAMBDA(int i) {
            if (!math::isfinite(rr(i))) bad(i) = 1, active(i) = 0;
            if (active(i) && (math::sqrt(rr(i)) <= delta || iters(i) >= max_it)) active(i) = 0;
            k(i) = active(i) ? Scalar(step) : Scalar(0);
            if (active(i)) iters(i) += 1;
          });
      if (impl::count(space, m_active) == 0) break;
      axpby(space, m_alpha, m_r, m_one, q);  // q += step r
    }
    auto r = finish(space, delta, "gradient descent");
    r.gd_step = step;
    return r;
  }

 private:
  /// apply(space, in, out, sel) when the operator takes a selection (its unselected outputs are
  /// ignored: their alpha and beta are zero), else apply(space, in, out) on every sample.
  template <class Apply>
  static void apply_to(const ExecSpace& space, const Apply& apply, const MutImages& in,
                       const MutImages& out, const SampleSelection<memory_space>& sel) {
    if constexpr (std::is_invocable_v<const Apply&, const ExecSpace&, const MutImages&,
                                      const MutImages&, const SampleSelection<memory_space>&>)
      apply(space, in, out, sel);
    else
      apply(space, in, out);
  }

  template <class Apply>
  void residual(const ExecSpace& space, const Apply& apply, const MutImages& b,
                const MutImages& q) {
    apply(space, q, m_r);
    axpby(space, Scalar(1), b, Scalar(-1), m_r);
  }

  LinearSolveResult finish(const ExecSpace& space, double delta, const char* name) {
    const auto bad = impl::to_vector(m_bad);
    for (std::size_t i = 0; i < bad.size(); ++i)
      require(!bad[i], "bilevel::", name, ": breakdown for sample ", i,
              " (non-positive curvature or non-finite values: is the Hessian positive definite?)");
    LinearSolveResult r;
    r.iterations = impl::to_vector(m_iters);
    for (double v : impl::to_vector(m_rr)) r.residual_norms.push_back(std::sqrt(v));
    for (std::size_t i = 0; i < r.iterations.size(); ++i) {
      r.total_iterations += r.iterations[i];
      r.converged.push_back(r.residual_norms[i] <= delta);
    }
    (void)space;
    return r;
  }

  void allocate(const ExecSpace& space, const Shape& s, Workspace& ws) {
    m_r = ws.image(space, 0, s, "bilevel::cg::r");
    m_p = ws.image(space, 1, s, "bilevel::cg::p");
    m_ap = ws.image(space, 2, s, "bilevel::cg::Ap");
    if (m_rr.data() != nullptr && m_rr.extent(0) == std::size_t(s.n)) return;
    auto d = [&](const char* l) { return Doubles(std::string(l), s.n); };
    m_rr = d("bilevel::cg::rr"), m_pap = d("bilevel::cg::pAp"), m_rrn = d("bilevel::cg::rr_new");
    auto c = [&](const char* l) { return Coefs(std::string(l), s.n); };
    m_alpha = c("bilevel::cg::alpha"), m_nalpha = c("bilevel::cg::neg_alpha"),
    m_beta = c("bilevel::cg::beta");
    m_one = c("bilevel::cg::one");
    Kokkos::deep_copy(space, m_one, Scalar(1));
    m_active = impl::Flags<memory_space>("bilevel::cg::active", s.n);
    m_iters = impl::Flags<memory_space>("bilevel::cg::iterations", s.n);
    m_bad = impl::Flags<memory_space>("bilevel::cg::breakdown", s.n);
    m_ids = impl::Flags<memory_space>("bilevel::cg::active_samples", s.n);
  }

  LinearSolverOptions m_opt;
  Workspace m_own;           // the images of solves not given a workspace
  MutImages m_r, m_p, m_ap;  // the current solve's (slots 0-2 of its workspace)
  Doubles m_rr, m_pap, m_rrn;
  Coefs m_alpha, m_nalpha, m_beta, m_one;
  impl::Flags<memory_space> m_active, m_iters, m_bad, m_ids;
};

}  // namespace bilevel
