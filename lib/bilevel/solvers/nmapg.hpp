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
/// F(z) <= F(y) - delta' ||z - y||^2 with delta' = delta / a, scale-free).
/// Stop test per sample: ||grad h_i(x)|| <= eps (default), or the relative step
/// ||x_k - x_{k-1}|| / ||x_k|| <= eps.

#include <array>
#include <bilevel/solvers/impl/batch_ops.hpp>
#include <bilevel/solvers/lower_level.hpp>
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
};

/// \brief What a solve did, per sample.
struct NmapgResult {
  std::vector<int> iterations;         ///< per sample
  std::vector<double> gradient_norms;  ///< ||grad h_i(x)|| at the returned x
  std::vector<int> converged;          ///< 1 if the stop test held
  long total_iterations = 0;           ///< sum over samples: the cost
};

/// \brief Batched nmAPG; owns its work buffers (allocated once per batch shape).
template <class Scalar, class ExecSpace = DefaultExecSpace>
class Nmapg {
 public:
  using memory_space = typename ExecSpace::memory_space;
  using MutImages = Images<Scalar, memory_space>;
  using Coefs = Kokkos::View<Scalar*, memory_space>;
  using Doubles = PerSample<double, memory_space>;

  explicit Nmapg(const NmapgOptions& opt = {}) : m_opt(opt) {}
  const NmapgOptions& options() const { return m_opt; }
  /// Three batch-shaped buffers that hold nothing between solves (y, y_prev, z): a caller
  /// that runs another solver afterwards (the hypergradient's CG) may use them as scratch.
  std::array<MutImages, 3> scratch() const { return {m_y, m_yp, m_z}; }

  /// Minimises h over x for every sample to accuracy eps; x holds the start (warm start) and
  /// receives the solution. Throws bilevel::Error on non-finite objectives.
  NmapgResult solve(const ExecSpace& space, LowerLevelProblem<Scalar, ExecSpace>& h,
                    const MutImages& x, double eps) {
    require(eps > 0 && std::isfinite(eps), "bilevel::nmapg: accuracy must be positive, got ", eps);
    require_same_shape("bilevel::nmapg", x, h.measurements());
    const ProfilingRegion region("bilevel::nmapg");
    const Shape s = shape_of(x);
    allocate(space, s);
    m_x = x;  // the caller's View: iterates in place, no copy
    const NmapgOptions o = m_opt;
    const auto active = m_active, iters = m_iters, accept = m_accept, search = m_search;
    const auto t = m_t, tp = m_tp, q = m_q, c = m_c, fx = m_fx, fy = m_fy, fz = m_fz, fv = m_fv;
    const auto gx2 = m_gx2, gy2 = m_gy2, ss = m_ss, sr = m_sr, xx = m_xx;
    const auto ay = m_ay, ax = m_ax, k1 = m_k1, k2 = m_k2, k3 = m_k3;
    const bool by_step = o.stop == StopRule::relative_step;

    h.value_and_gradient(space, x, m_fx, m_gx);
    norm2_squared(space, m_gx, m_gx2);
    Kokkos::deep_copy(space, m_xp, x);
    Kokkos::deep_copy(space, m_z, x);
    Kokkos::parallel_for(
        "bilevel::nmapg::init", Kokkos::RangePolicy<ExecSpace>(space, 0, s.n),
        KOKKOS_LAMBDA(int i) {
          t(i) = 1, tp(i) = 0, q(i) = 1, c(i) = fx(i);
          ay(i) = Scalar(o.initial_step), ax(i) = Scalar(o.initial_step);
          iters(i) = 0;
          active(i) = by_step ? 1 : (math::sqrt(gx2(i)) > eps ? 1 : 0);
        });
    check_finite(space, "at the starting point");

    // Converged samples leave the evaluations: each one sees the samples still iterating.
    auto sel = SampleSelection<memory_space>::every(s.n);
    for (int k = 0, remaining = impl::count(space, m_active); k < o.max_iterations && remaining > 0;
         ++k, remaining = impl::count(space, m_active)) {
      if (remaining != sel.count)
        sel = impl::flagged_samples(space, m_active, m_active_ids, remaining);
      // y = x + (t_{k-1} / t_k)(z - x) + ((t_{k-1} - 1) / t_k)(x - x_{k-1}).
      Kokkos::parallel_for(
          "bilevel::nmapg::extrapolation", Kokkos::RangePolicy<ExecSpace>(space, 0, s.n),
          KOKKOS_LAMBDA(int i) {
            const double a = tp(i) / t(i), b = (tp(i) - 1) / t(i);
            k1(i) = Scalar(1 - a + b), k2(i) = Scalar(a), k3(i) = Scalar(-b);
          });
      impl::masked_lincomb(space, m_active, m_k1, m_x, m_k2, m_z, m_k3, m_xp, m_y);
      h.value_and_gradient(space, m_y, m_fy, m_gy, sel);
      norm2_squared(space, m_gy, m_gy2);
      if (k > 0) bb_step(space, m_y, m_yp, m_gy, m_gyp, m_ay);
      // Backtracking from y: z = y - a_y grad(y) until sufficient decrease.
      line_search(space, h, m_y, m_gy, m_fy, m_gy2, m_ay, m_z, m_fz, m_gz);
      // Accept z if it decreases the nonmonotone reference c; otherwise also try the
      // safeguard step from x and keep the better of the two.
      Kokkos::parallel_for(
          "bilevel::nmapg::accept", Kokkos::RangePolicy<ExecSpace>(space, 0, s.n),
          KOKKOS_LAMBDA(int i) {
            accept(i) = active(i) && fz(i) <= c(i) - o.sufficient_decrease * double(ay(i)) * gy2(i);
            search(i) = active(i) && !accept(i);
          });
      if (impl::count(space, m_search) > 0) {
        if (m_v.data() == nullptr) {  // once per solver and batch shape
          m_v = zeroed(space, s, "bilevel::nmapg::v");
          m_gv = zeroed(space, s, "bilevel::nmapg::grad_v");
        }
        if (k > 0) bb_step(space, m_x, m_xp, m_gx, m_gxp, m_ax);
        Kokkos::parallel_for(
            "bilevel::nmapg::safeguard_mask", Kokkos::RangePolicy<ExecSpace>(space, 0, s.n),
            KOKKOS_LAMBDA(int i) { search(i) = active(i) && !accept(i); });
        line_search(space, h, m_x, m_gx, m_fx, m_gx2, m_ax, m_v, m_fv, m_gv, /*mask=*/true);
        Kokkos::parallel_for(
            "bilevel::nmapg::choose", Kokkos::RangePolicy<ExecSpace>(space, 0, s.n),
            KOKKOS_LAMBDA(int i) {
              // accept: 1 take z, 2 take v
              if (active(i) && !accept(i)) accept(i) = fz(i) <= fv(i) ? 1 : 2;
            });
      }
      // x_{k-1} <- x_k and x_{k+1} <- z or v; y and grad(y) become the previous ones.
      Kokkos::parallel_for(
          "bilevel::nmapg::select", Kokkos::RangePolicy<ExecSpace>(space, 0, s.n),
          KOKKOS_LAMBDA(int i) {
            k1(i) = Scalar(accept(i) == 1 ? 1 : 0), k2(i) = Scalar(accept(i) == 2 ? 1 : 0),
            k3(i) = 0;
          });
      impl::masked_lincomb(space, m_active, m_one, m_x, m_zero, m_x, m_zero, m_x, m_xp);
      const MutImages& v = m_v.data() ? m_v : m_z;  // no safeguard step yet: k2 = 0 anyway
      const MutImages& gv = m_gv.data() ? m_gv : m_gz;
      impl::masked_lincomb(space, m_active, m_k1, m_z, m_k2, v, m_k3, v, m_x);
      impl::masked_lincomb(space, m_active, m_one, m_gx, m_zero, m_gx, m_zero, m_gx, m_gxp);
      impl::masked_lincomb(space, m_active, m_k1, m_gz, m_k2, gv, m_k3, gv, m_gx);
      impl::masked_lincomb(space, m_active, m_one, m_y, m_zero, m_y, m_zero, m_y, m_yp);
      impl::masked_lincomb(space, m_active, m_one, m_gy, m_zero, m_gy, m_zero, m_gy, m_gyp);
      // F and grad F at x_{k+1} come from the line search that accepted it: no extra pass.
      norm2_squared(space, m_gx, m_gx2);
      if (by_step) {
        impl::diff_dot(space, m_x, m_xp, m_x, m_xp, m_ss);
        norm2_squared(space, m_x, m_xx);
      }
      Kokkos::parallel_for(
          "bilevel::nmapg::advance", Kokkos::RangePolicy<ExecSpace>(space, 0, s.n),
          KOKKOS_LAMBDA(int i) {
            if (!active(i)) return;
            fx(i) = accept(i) == 2 ? fv(i) : fz(i);
            const double tn = 0.5 * (1 + math::sqrt(1 + 4 * t(i) * t(i)));
            tp(i) = t(i), t(i) = tn;
            const double qn = o.eta * q(i) + 1;
            c(i) = (o.eta * q(i) * c(i) + fx(i)) / qn, q(i) = qn;
            iters(i) += 1;
            const bool done =
                by_step ? math::sqrt(ss(i)) <= eps * math::sqrt(xx(i)) : math::sqrt(gx2(i)) <= eps;
            if (done || iters(i) >= o.max_iterations) active(i) = 0;
          });
      check_finite(space, "during the iterations");
    }

    NmapgResult r;
    r.iterations = impl::to_vector(m_iters);
    const auto g2 = impl::to_vector(m_gx2);
    for (double v : g2) r.gradient_norms.push_back(std::sqrt(v));
    for (std::size_t i = 0; i < r.iterations.size(); ++i) {
      r.total_iterations += r.iterations[i];
      r.converged.push_back(by_step ? r.iterations[i] < o.max_iterations
                                    : r.gradient_norms[i] <= eps);
    }
    return r;
  }

 private:
  static MutImages zeroed(const ExecSpace& space, const Shape& s, const char* label) {
    auto v = make_images<Scalar, memory_space>(label, s);
    Kokkos::deep_copy(space, v, Scalar(0));
    return v;
  }

  void allocate(const ExecSpace& space, const Shape& s) {
    if (m_y.data() != nullptr && shape_of(m_y) == s) return;
    auto img = [&](const char* l) {  // zeroed once: no stale values can leak into a solve
      auto v = make_images<Scalar, memory_space>(l, s);
      Kokkos::deep_copy(space, v, Scalar(0));
      return v;
    };
    m_y = img("bilevel::nmapg::y"), m_yp = img("bilevel::nmapg::y_prev"),
    m_z = img("bilevel::nmapg::z");
    m_v = MutImages(), m_gv = MutImages();  // the safeguard step's buffers: on first use
    m_xp = img("bilevel::nmapg::x_prev");
    m_gx = img("bilevel::nmapg::grad_x"), m_gxp = img("bilevel::nmapg::grad_x_prev");
    m_gy = img("bilevel::nmapg::grad_y"), m_gyp = img("bilevel::nmapg::grad_y_prev");
    m_gz = img("bilevel::nmapg::grad_z");
    auto d = [&](const char* l) { return Doubles("bilevel::nmapg::" + std::string(l), s.n); };
    m_t = d("t"), m_tp = d("t_prev"), m_q = d("q"), m_c = d("c"), m_fx = d("fx"), m_fy = d("fy");
    m_fz = d("fz"), m_fv = d("fv"), m_gx2 = d("gx2"), m_gy2 = d("gy2"), m_ss = d("ss"),
    m_sr = d("sr");
    m_xx = d("xx"), m_trial_f = d("trial_f");
    auto cf = [&](const char* l) { return Coefs("bilevel::nmapg::" + std::string(l), s.n); };
    m_ay = cf("alpha_y"), m_ax = cf("alpha_x"), m_k1 = cf("k1"), m_k2 = cf("k2"), m_k3 = cf("k3");
    m_one = cf("one"), m_zero = cf("zero"), m_neg = cf("step");
    Kokkos::deep_copy(space, m_one, Scalar(1));
    Kokkos::deep_copy(space, m_zero, Scalar(0));
    auto fl = [&](const char* l) {
      return impl::Flags<memory_space>("bilevel::nmapg::" + std::string(l), s.n);
    };
    m_active = fl("active"), m_iters = fl("iterations"), m_accept = fl("accept"),
    m_search = fl("search");
    m_active_ids = fl("active_samples"), m_search_ids = fl("searching_samples");
  }

  /// Barzilai-Borwein step <s, s> / <s, r> with s = u - u_prev, r = g - g_prev (kept when the
  /// curvature <s, r> is not positive), clamped to [min_step, max_step].
  void bb_step(const ExecSpace& space, const MutImages& u, const MutImages& up, const MutImages& g,
               const MutImages& gp, const Coefs& alpha) {
    impl::diff_dot(space, u, up, u, up, m_ss);
    impl::diff_dot(space, u, up, g, gp, m_sr);
    const auto ss = m_ss, sr = m_sr, active = m_active;
    const double lo = m_opt.min_step, hi = m_opt.max_step;
    Kokkos::parallel_for(
        "bilevel::nmapg::barzilai_borwein",
        Kokkos::RangePolicy<ExecSpace>(space, 0, alpha.extent(0)), KOKKOS_LAMBDA(int i) {
          if (active(i) && sr(i) > 0 && ss(i) > 0)
            alpha(i) = Scalar(math::min(hi, math::max(lo, ss(i) / sr(i))));
        });
  }

  /// out = base - alpha grad for the searching samples, shrinking alpha until
  /// F(out) <= F(base) - delta alpha ||grad||^2 (or max_backtracks); fout and gout receive F
  /// and grad F at the accepted points. Every trial evaluates the samples still searching only:
  /// the others keep their accepted values in fout and gout. With `mask`, the searching set is
  /// m_search as given; otherwise m_active.
  void line_search(const ExecSpace& space, LowerLevelProblem<Scalar, ExecSpace>& h,
                   const MutImages& base, const MutImages& grad, const Doubles& fbase,
                   const Doubles& g2, const Coefs& alpha, const MutImages& out, const Doubles& fout,
                   const MutImages& gout, bool mask = false) {
    if (!mask) Kokkos::deep_copy(space, m_search, m_active);
    const auto search = m_search, k = m_neg;
    const double delta = m_opt.sufficient_decrease, rho = m_opt.shrink, lo = m_opt.min_step;
    for (int b = 0, searching = impl::count(space, m_search);
         b <= m_opt.max_backtracks && searching > 0;
         ++b, searching = impl::count(space, m_search)) {
      Kokkos::parallel_for(
          "bilevel::nmapg::trial_step", Kokkos::RangePolicy<ExecSpace>(space, 0, alpha.extent(0)),
          KOKKOS_LAMBDA(int i) { k(i) = -alpha(i); });
      impl::masked_lincomb(space, m_search, m_one, base, m_neg, grad, m_zero, grad, out);
      // Only the searching samples are evaluated; the others keep their accepted values.
      h.value_and_gradient(space, out, m_trial_f, gout,
                           impl::flagged_samples(space, m_search, m_search_ids, searching));
      const auto tf = m_trial_f;
      const bool last = b == m_opt.max_backtracks;
      Kokkos::parallel_for(
          "bilevel::nmapg::armijo", Kokkos::RangePolicy<ExecSpace>(space, 0, alpha.extent(0)),
          KOKKOS_LAMBDA(int i) {
            if (!search(i)) return;
            fout(i) = tf(i);
            const bool ok = tf(i) <= fbase(i) - delta * double(alpha(i)) * g2(i);
            // At rounding level no step decreases F: accept rather than shrink forever.
            if (ok || last || double(alpha(i)) * rho < lo)
              search(i) = 0;
            else
              alpha(i) = Scalar(double(alpha(i)) * rho);
          });
    }
  }

  void check_finite(const ExecSpace& space, const char* when) {
    const auto fx = m_fx, g2 = m_gx2;
    // The first non-finite sample: a Min over the offending indices (Min's identity, INT_MAX,
    // means "none", so the answer does not depend on how Kokkos splits the range).
    const int n = int(fx.extent(0));
    int bad = n;
    Kokkos::parallel_reduce(
        "bilevel::nmapg::check_finite", Kokkos::RangePolicy<ExecSpace>(space, 0, n),
        KOKKOS_LAMBDA(int i, int& first) {
          if (!(math::isfinite(fx(i)) && math::isfinite(g2(i))) && i < first) first = i;
        },
        Kokkos::Min<int>(bad));
    require(bad >= n, "bilevel::nmapg: the lower-level objective of sample ", bad,
            " is not finite ", when,
            " (check the data and the regularizer's parameters for NaN or Inf)");
  }

  NmapgOptions m_opt;
  MutImages m_x, m_y, m_yp, m_z, m_v, m_xp, m_gx, m_gxp, m_gy, m_gyp, m_gz, m_gv;
  Doubles m_t, m_tp, m_q, m_c, m_fx, m_fy, m_fz, m_fv, m_gx2, m_gy2, m_ss, m_sr, m_xx;
  Doubles m_trial_f;
  Coefs m_ay, m_ax, m_k1, m_k2, m_k3, m_one, m_zero, m_neg;
  impl::Flags<memory_space> m_active, m_iters, m_accept, m_search;
  impl::Flags<memory_space> m_active_ids, m_search_ids;  // the selections' sample lists
};

}  // namespace bilevel
