#pragma once
/// \file
/// Nonmonotone accelerated proximal gradient, nmAPG (Li & Lin 2015, Algorithm 2 with line
/// search), for the smooth lower-level problems (DESIGN.md section 4): extrapolation, a
/// Barzilai-Borwein step guess, backtracking to sufficient decrease, the nonmonotone reference
/// value c_k and the safeguard step from x_k. Batched: every sample has its own step sizes,
/// reference value, iteration count and convergence flag, and a converged sample's state is
/// frozen (its iterations stop counting).
///
/// Sufficient decrease is the Armijo form F(y - a g) <= F(y) - delta a ||g||^2 (Li & Lin's
/// F(z) <= F(y) - delta' ||z - y||^2 with delta' = delta / a, scale-free). Near the solution
/// the decrease a step can make, about ||g||^2 / L, falls below the rounding error of F (in
/// float at once for stiff models: 1e-10 against 1e-6 for the three-layer CRR at eps = 1e-3);
/// there the test is decided by the directional derivative instead, Hager & Zhang's
/// approximate Armijo condition (SIAM J. Optim. 16, 2005): F(z) <= F(y) + noise and
/// <grad F(z), g> >= -(1 - 2 delta) ||g||^2, which is exact Armijo on a quadratic.
/// Stop test per sample: ||grad h_i(x)|| <= eps (default), or the relative step
/// ||x_k - x_{k-1}|| / ||x_k|| <= eps.

#include <bilevel/solvers/impl/nmapg_state.hpp>
#include <bilevel/solvers/lower_level.hpp>
#include <bilevel/solvers/solver_workspace.hpp>
#include <cmath>
#include <vector>

namespace bilevel {

enum class StopRule { gradient_norm = 0, relative_step = 1 };

/// \brief nmAPG settings.
struct NmapgOptions {
  int max_iterations = 10000;
  StopRule stop = StopRule::gradient_norm;
  double initial_step = 1.0;  ///< first step guess (later ones come from Barzilai-Borwein)
  double min_step = 1e-12, max_step = 1e6;
  double shrink = 0.5;                ///< backtracking factor rho
  double sufficient_decrease = 1e-4;  ///< delta
  double eta = 0.8;                   ///< weight of the nonmonotone reference value
  int max_backtracks = 60;
  /// F values within value_noise * machine epsilon * |F| of each other are at rounding level
  /// and are compared by the approximate Armijo test above; 0 turns that test off.
  double value_noise = 64;
};

/// \brief What a solve did, per sample.
struct NmapgResult {
  std::vector<int> iterations;         ///< per sample
  std::vector<double> gradient_norms;  ///< ||grad h_i(x)|| at the returned x
  std::vector<int> converged;          ///< 1 if the stop test held
  long total_iterations = 0;           ///< sum over samples: the cost
};

/// \brief Batched nmAPG. Its per-sample scalars are one named struct (impl::NmapgSamples); its
/// image buffers live in a SolverWorkspace, its own or the caller's (the hypergradient's, shared
/// with CG).
template <class Scalar, class ExecSpace = DefaultExecSpace>
class Nmapg {
 public:
  using memory_space = typename ExecSpace::memory_space;
  using MutImages = Images<Scalar, memory_space>;
  using Workspace = SolverWorkspace<Scalar, memory_space>;
  using Samples = impl::NmapgSamples<Scalar, memory_space>;

  /// The workspace slots nmAPG uses: y, y_prev and z hold nothing between solves, so a solver
  /// that runs afterwards in the same workspace (the hypergradient's CG) may use slots 0-2.
  enum Slot : std::size_t {
    y,
    y_prev,
    z,
    x_prev,
    grad_x,
    grad_x_prev,
    grad_y,
    grad_y_prev,
    grad_z,
    v,
    grad_v
  };

  explicit Nmapg(const NmapgOptions& opt = {}) : m_opt(opt) {}
  const NmapgOptions& options() const { return m_opt; }

  /// Minimises h over x for every sample to accuracy eps; x holds the start (warm start) and
  /// receives the solution. Throws bilevel::Error on non-finite objectives.
  NmapgResult solve(const ExecSpace& space, LowerLevelProblem<Scalar, ExecSpace>& h,
                    const MutImages& x, double eps) {
    return solve(space, h, x, eps, m_own);
  }
  /// The same in the caller's workspace.
  NmapgResult solve(const ExecSpace& space, LowerLevelProblem<Scalar, ExecSpace>& h,
                    const MutImages& x, double eps, Workspace& ws) {
    require(eps > 0 && std::isfinite(eps), "bilevel::nmapg: accuracy must be positive, got ", eps);
    require_same_shape("bilevel::nmapg", x, h.measurements());
    const ProfilingRegion region("bilevel::nmapg");
    const Shape s = shape_of(x);
    if (m_st.size() != s.n) m_st = Samples(s.n);
    const Buffers b = buffers(space, ws, s);
    const NmapgOptions o = m_opt;
    const bool by_step = o.stop == StopRule::relative_step;
    const auto range = Kokkos::RangePolicy<ExecSpace>(space, 0, s.n);

    h.value_and_gradient(space, x, m_st.f_x, b.grad_x);
    norm2_squared(space, b.grad_x, m_st.g2_x);
    Kokkos::deep_copy(space, b.x_prev, x);
    Kokkos::deep_copy(space, b.z, x);
    Kokkos::parallel_for(
        "bilevel::nmapg::init", range,
        impl::NmapgStart<Scalar, memory_space>{m_st, Scalar(o.initial_step), eps, by_step});
    check_finite(space, "at the starting point");

    // Converged samples leave the evaluations: each one sees the samples still iterating.
    auto sel = SampleSelection<memory_space>::every(s.n);
    for (int k = 0, remaining = impl::count(space, m_st.active);
         k < o.max_iterations && remaining > 0; ++k, remaining = impl::count(space, m_st.active)) {
      if (remaining != sel.count)
        sel = impl::flagged_samples(space, m_st.active, m_st.active_ids, remaining);
      extrapolate(space, x, b);
      h.value_and_gradient(space, b.y, m_st.f_y, b.grad_y, sel);
      norm2_squared(space, b.grad_y, m_st.g2_y);
      if (k > 0) bb_step(space, b.y, b.y_prev, b.grad_y, b.grad_y_prev, m_st.step_y);
      // Backtracking from y: z = y - a_y grad(y) until sufficient decrease.
      Kokkos::deep_copy(space, m_st.search, m_st.active);
      line_search(space, h, b.y, b.grad_y, m_st.f_y, m_st.g2_y, m_st.step_y, b.z, m_st.f_z,
                  b.grad_z);
      Kokkos::parallel_for(
          "bilevel::nmapg::accept", range,
          impl::NmapgAcceptTest<Scalar, memory_space>{m_st, o.sufficient_decrease, value_noise()});
      MutImages v = b.z, grad_v = b.grad_z;  // no safeguard step: accept is 1, v unread
      if (impl::count(space, m_st.search) > 0) {
        // The safeguard step from x, in buffers allocated on first need.
        v = ws.image(space, Slot::v, s, "bilevel::nmapg::v");
        grad_v = ws.image(space, Slot::grad_v, s, "bilevel::nmapg::grad_v");
        if (k > 0) bb_step(space, x, b.x_prev, b.grad_x, b.grad_x_prev, m_st.step_x);
        line_search(space, h, x, b.grad_x, m_st.f_x, m_st.g2_x, m_st.step_x, v, m_st.f_v, grad_v);
        Kokkos::parallel_for("bilevel::nmapg::choose", range,
                             impl::NmapgChooseBetter<Scalar, memory_space>{m_st});
      }
      // x_{k-1} <- x_k and x_{k+1} <- z or v; y and grad(y) become the previous ones.
      impl::masked_copy(space, m_st.active, x, b.x_prev);
      take_accepted(space, b.z, v, x);
      impl::masked_copy(space, m_st.active, b.grad_x, b.grad_x_prev);
      take_accepted(space, b.grad_z, grad_v, b.grad_x);
      impl::masked_copy(space, m_st.active, b.y, b.y_prev);
      impl::masked_copy(space, m_st.active, b.grad_y, b.grad_y_prev);
      // F and grad F at x_{k+1} come from the line search that accepted it: no extra pass.
      norm2_squared(space, b.grad_x, m_st.g2_x);
      if (by_step) {
        impl::diff_dot(space, x, b.x_prev, x, b.x_prev, m_st.ss);
        norm2_squared(space, x, m_st.xx);
      }
      Kokkos::parallel_for(
          "bilevel::nmapg::advance", range,
          impl::NmapgAdvance<Scalar, memory_space>{m_st, o.eta, eps, by_step, o.max_iterations});
      check_finite(space, "during the iterations");
    }

    NmapgResult r;
    r.iterations = impl::to_vector(m_st.iterations);
    const auto g2 = impl::to_vector(m_st.g2_x);
    for (double g : g2) r.gradient_norms.push_back(std::sqrt(g));
    for (std::size_t i = 0; i < r.iterations.size(); ++i) {
      r.total_iterations += r.iterations[i];
      r.converged.push_back(by_step ? r.iterations[i] < o.max_iterations
                                    : r.gradient_norms[i] <= eps);
    }
    return r;
  }

 private:
  /// The workspace's images a solve uses every iteration (v and grad v come on first need).
  struct Buffers {
    MutImages y, y_prev, z, x_prev, grad_x, grad_x_prev, grad_y, grad_y_prev, grad_z;
  };
  static Buffers buffers(const ExecSpace& space, Workspace& ws, const Shape& s) {
    auto img = [&](Slot k, const char* l) { return ws.image(space, k, s, l); };
    return {img(Slot::y, "bilevel::nmapg::y"),
            img(Slot::y_prev, "bilevel::nmapg::y_prev"),
            img(Slot::z, "bilevel::nmapg::z"),
            img(Slot::x_prev, "bilevel::nmapg::x_prev"),
            img(Slot::grad_x, "bilevel::nmapg::grad_x"),
            img(Slot::grad_x_prev, "bilevel::nmapg::grad_x_prev"),
            img(Slot::grad_y, "bilevel::nmapg::grad_y"),
            img(Slot::grad_y_prev, "bilevel::nmapg::grad_y_prev"),
            img(Slot::grad_z, "bilevel::nmapg::grad_z")};
  }

  /// y = x + (t_{k-1} / t_k)(z - x) + ((t_{k-1} - 1) / t_k)(x - x_{k-1}), active samples.
  void extrapolate(const ExecSpace& space, const MutImages& x, const Buffers& b) const {
    const auto xr = impl::as_rows(x);
    using Rows = impl::NmapgExtrapolationRows<Scalar, memory_space, decltype(xr)>;
    impl::per_sample_for(
        "bilevel::nmapg::extrapolation", space, impl::SampleBlocks<ExecSpace>(shape_of(x)),
        Rows{m_st, xr, impl::as_rows(b.z), impl::as_rows(b.x_prev), impl::as_rows(b.y)});
  }

  /// out = z (accept 1) or v (accept 2) for the active samples.
  void take_accepted(const ExecSpace& space, const MutImages& z, const MutImages& v,
                     const MutImages& out) const {
    const auto zr = impl::as_rows(z);
    using Rows = impl::NmapgAcceptedRows<Scalar, memory_space, decltype(zr)>;
    impl::per_sample_for("bilevel::nmapg::select", space,
                         impl::SampleBlocks<ExecSpace>(shape_of(z)),
                         Rows{m_st, zr, impl::as_rows(v), impl::as_rows(out)});
  }

  /// Barzilai-Borwein step <s, s> / <s, r> with s = u - u_prev, r = g - g_prev (kept when the
  /// curvature <s, r> is not positive), clamped to [min_step, max_step].
  void bb_step(const ExecSpace& space, const MutImages& u, const MutImages& up, const MutImages& g,
               const MutImages& gp, const Kokkos::View<Scalar*, memory_space>& step) {
    impl::diff_dot(space, u, up, u, up, m_st.ss);
    impl::diff_dot(space, u, up, g, gp, m_st.sr);
    Kokkos::parallel_for("bilevel::nmapg::barzilai_borwein",
                         Kokkos::RangePolicy<ExecSpace>(space, 0, m_st.size()),
                         impl::NmapgBarzilaiBorwein<Scalar, memory_space>{
                             m_st, step, m_opt.min_step, m_opt.max_step});
  }

  /// out = base - step grad for the samples flagged in m_st.search, shrinking their steps
  /// until F(out) <= F(base) - delta step ||grad||^2 (or max_backtracks); f_out and grad_out
  /// receive F and grad F at the accepted points. Every trial evaluates the samples still
  /// searching only: the others keep their accepted values in f_out and grad_out.
  void line_search(const ExecSpace& space, LowerLevelProblem<Scalar, ExecSpace>& h,
                   const MutImages& base, const MutImages& grad,
                   const PerSample<double, memory_space>& f_base,
                   const PerSample<double, memory_space>& g2,
                   const Kokkos::View<Scalar*, memory_space>& step, const MutImages& out,
                   const PerSample<double, memory_space>& f_out, const MutImages& grad_out) {
    const double noise = value_noise();
    const auto br = impl::as_rows(base);
    using Trial = impl::NmapgTrialRows<Scalar, memory_space, decltype(br)>;
    for (int k = 0, searching = impl::count(space, m_st.search);
         k <= m_opt.max_backtracks && searching > 0;
         ++k, searching = impl::count(space, m_st.search)) {
      impl::per_sample_for("bilevel::nmapg::trial_step", space,
                           impl::SampleBlocks<ExecSpace>(shape_of(out)),
                           Trial{m_st, step, br, impl::as_rows(grad), impl::as_rows(out)});
      // Only the searching samples are evaluated; the others keep their accepted values.
      h.value_and_gradient(space, out, m_st.trial_f, grad_out,
                           impl::flagged_samples(space, m_st.search, m_st.search_ids, searching));
      if (noise > 0) dot(space, grad_out, grad, m_st.slope);
      Kokkos::parallel_for("bilevel::nmapg::armijo",
                           Kokkos::RangePolicy<ExecSpace>(space, 0, m_st.size()),
                           impl::NmapgArmijo<Scalar, memory_space>{
                               m_st, f_base, g2, f_out, step, m_opt.sufficient_decrease,
                               m_opt.shrink, m_opt.min_step, noise, k == m_opt.max_backtracks});
    }
  }

  /// The relative rounding level of F values: value_noise machine epsilons of Scalar.
  double value_noise() const {
    return m_opt.value_noise * double(std::numeric_limits<Scalar>::epsilon());
  }

  void check_finite(const ExecSpace& space, const char* when) {
    const int n = m_st.size();
    int bad = n;
    Kokkos::parallel_reduce(
        "bilevel::nmapg::check_finite", Kokkos::RangePolicy<ExecSpace>(space, 0, n),
        impl::NmapgFirstNonFinite<Scalar, memory_space>{m_st}, Kokkos::Min<int>(bad));
    require(bad >= n, "bilevel::nmapg: the lower-level objective of sample ", bad,
            " is not finite ", when,
            " (check the data and the regularizer's parameters for NaN or Inf)");
  }

  NmapgOptions m_opt;
  Samples m_st;     // per-sample state of the current solve
  Workspace m_own;  // the images of solves not given a workspace
};

}  // namespace bilevel
