#pragma once
/// \file
/// nmAPG's per-sample state (Li & Lin 2015, Algorithm 2) as one named struct, and the functors
/// that update it: each sample has its own momentum weights, nonmonotone reference, step sizes,
/// objective values, iteration count and flags, so samples converge independently.

#include <bilevel/core/kokkos_compat.hpp>
#include <bilevel/solvers/impl/batch_ops.hpp>
#include <string>

namespace bilevel::impl {

/// \brief The per-sample scalars of a batched nmAPG solve (device Views of length N).
template <class Scalar, class MemorySpace>
struct NmapgSamples {
  using Doubles = PerSample<double, MemorySpace>;
  using Steps = Kokkos::View<Scalar*, MemorySpace>;

  Doubles t, t_prev;              ///< momentum weights t_k, t_{k-1}
  Doubles q, c;                   ///< nonmonotone weight and reference value c_k
  Doubles f_x, f_y, f_z, f_v;     ///< F at x_k, y_k, the step from y (z) and from x (v)
  Doubles g2_x, g2_y;             ///< ||grad F||^2 at x_k and y_k
  Doubles ss, sr, xx;             ///< <s, s>, <s, r> (Barzilai-Borwein), ||x||^2 (relative step)
  Doubles trial_f, slope;         ///< F and <grad F, g> at a line search's trial points
  Steps step_y, step_x;           ///< the step sizes from y and from x
  Flags<MemorySpace> active;      ///< 1 while the sample iterates
  Flags<MemorySpace> iterations;  ///< per sample
  Flags<MemorySpace> accept;      ///< 1: take z, 2: take v
  Flags<MemorySpace> search;      ///< 1 while the line search shrinks the sample's step
  Flags<MemorySpace> approx;      ///< 1: the last line search accepted by the derivative
  Flags<MemorySpace> active_ids, search_ids;  ///< the selections' sample lists

  NmapgSamples() = default;
  explicit NmapgSamples(int n) {
    auto d = [n](const char* l) { return Doubles(std::string("bilevel::nmapg::") + l, n); };
    t = d("t"), t_prev = d("t_prev"), q = d("q"), c = d("c");
    f_x = d("f_x"), f_y = d("f_y"), f_z = d("f_z"), f_v = d("f_v");
    g2_x = d("g2_x"), g2_y = d("g2_y"), ss = d("ss"), sr = d("sr"), xx = d("xx");
    trial_f = d("trial_f"), slope = d("slope");
    auto s = [n](const char* l) { return Steps(std::string("bilevel::nmapg::") + l, n); };
    step_y = s("step_y"), step_x = s("step_x");
    auto f = [n](const char* l) {
      return Flags<MemorySpace>(std::string("bilevel::nmapg::") + l, n);
    };
    active = f("active"), iterations = f("iterations"), accept = f("accept");
    search = f("search"), approx = f("approximate_armijo");
    active_ids = f("active_samples"), search_ids = f("searching_samples");
  }
  int size() const { return int(t.extent(0)); }
};

/// The start: t = 1, t_prev = 0, c = F(x_0), both steps at the initial guess; a sample whose
/// gradient already meets the tolerance does not iterate (relative-step stops always start).
template <class Scalar, class Mem>
struct NmapgStart {
  NmapgSamples<Scalar, Mem> st;
  Scalar initial_step;
  double eps;
  bool by_step;
  KOKKOS_INLINE_FUNCTION void operator()(int i) const {
    st.t(i) = 1, st.t_prev(i) = 0, st.q(i) = 1, st.c(i) = st.f_x(i);
    st.step_y(i) = initial_step, st.step_x(i) = initial_step;
    st.iterations(i) = 0;
    st.active(i) = by_step ? 1 : (math::sqrt(st.g2_x(i)) > eps ? 1 : 0);
  }
};

/// Rows of y = x + (t_{k-1} / t_k)(z - x) + ((t_{k-1} - 1) / t_k)(x - x_{k-1}) for the active
/// samples, through masked_lincomb's row (zero coefficients skip their input).
template <class Scalar, class Mem, class R>
struct NmapgExtrapolationRows {
  NmapgSamples<Scalar, Mem> st;
  R x, z, x_prev, y;
  using Row = typename MaskedLincombRows<Scalar, Mem, R>::Row;
  KOKKOS_INLINE_FUNCTION Row row(int s) const {
    const double a = st.t_prev(s) / st.t(s), b = (st.t_prev(s) - 1) / st.t(s);
    return Row{st.active(s) != 0, Scalar(1 - a + b), Scalar(a),     Scalar(-b),
               &x(s, 0),          &z(s, 0),          &x_prev(s, 0), &y(s, 0)};
  }
};

/// Rows of out = base - step grad for the searching samples.
template <class Scalar, class Mem, class R>
struct NmapgTrialRows {
  NmapgSamples<Scalar, Mem> st;
  Kokkos::View<Scalar*, Mem> step;
  R base, grad, out;
  using Row = typename MaskedLincombRows<Scalar, Mem, R>::Row;
  KOKKOS_INLINE_FUNCTION Row row(int s) const {
    return Row{st.search(s) != 0, Scalar(1),   Scalar(-step(s)), Scalar(0),
               &base(s, 0),       &grad(s, 0), &grad(s, 0),      &out(s, 0)};
  }
};

/// Rows of x_{k+1} = z (accept 1) or v (accept 2) for the active samples.
template <class Scalar, class Mem, class R>
struct NmapgAcceptedRows {
  NmapgSamples<Scalar, Mem> st;
  R z, v, out;
  using Row = typename MaskedLincombRows<Scalar, Mem, R>::Row;
  KOKKOS_INLINE_FUNCTION Row row(int s) const {
    const int a = st.accept(s);
    return Row{st.active(s) != 0,
               Scalar(a == 1 ? 1 : 0),
               Scalar(a == 2 ? 1 : 0),
               Scalar(0),
               &z(s, 0),
               &v(s, 0),
               &v(s, 0),
               &out(s, 0)};
  }
};

/// Barzilai-Borwein step <s, s> / <s, r> into `step` (kept when the curvature <s, r> is not
/// positive), clamped to [lo, hi].
template <class Scalar, class Mem>
struct NmapgBarzilaiBorwein {
  NmapgSamples<Scalar, Mem> st;
  Kokkos::View<Scalar*, Mem> step;
  double lo, hi;
  KOKKOS_INLINE_FUNCTION void operator()(int i) const {
    if (st.active(i) && st.sr(i) > 0 && st.ss(i) > 0)
      step(i) = Scalar(math::min(hi, math::max(lo, st.ss(i) / st.sr(i))));
  }
};

/// The line search's test at its trial points: sufficient decrease F(out) <= F(base) - delta
/// step ||grad||^2, or at rounding level the directional derivative (approximate Armijo); the
/// step floor or the last backtrack also end the search. Otherwise the step shrinks by rho.
template <class Scalar, class Mem>
struct NmapgArmijo {
  NmapgSamples<Scalar, Mem> st;
  PerSample<double, Mem> f_base, g2, f_out;
  Kokkos::View<Scalar*, Mem> step;
  double delta, rho, lo, noise;
  bool last;
  KOKKOS_INLINE_FUNCTION void operator()(int i) const {
    if (!st.search(i)) return;
    const double tf = st.trial_f(i);
    f_out(i) = tf;
    const bool ok = tf <= f_base(i) - delta * double(step(i)) * g2(i);
    // F differences at rounding level: the directional derivative decides.
    const bool level = !ok && noise > 0 && tf <= f_base(i) + noise * math::fabs(f_base(i)) &&
                       st.slope(i) >= -(1 - 2 * delta) * g2(i);
    st.approx(i) = level ? 1 : 0;
    // The step floor: accept rather than shrink forever.
    if (ok || level || last || double(step(i)) * rho < lo)
      st.search(i) = 0;
    else
      step(i) = Scalar(double(step(i)) * rho);
  }
};

/// Accept z if it decreases the nonmonotone reference c (a step the line search certified by
/// its derivative is accepted at rounding level); the others search from x (the safeguard).
template <class Scalar, class Mem>
struct NmapgAcceptTest {
  NmapgSamples<Scalar, Mem> st;
  double delta, noise;
  KOKKOS_INLINE_FUNCTION void operator()(int i) const {
    const double c = st.c(i), fz = st.f_z(i);
    const bool decrease = fz <= c - delta * double(st.step_y(i)) * st.g2_y(i);
    const bool level = st.approx(i) && fz <= c + noise * math::fabs(c);
    st.accept(i) = st.active(i) && (decrease || level);
    st.search(i) = st.active(i) && !st.accept(i);
  }
};

/// After the safeguard step: the better of z and v (accept 1 or 2).
template <class Scalar, class Mem>
struct NmapgChooseBetter {
  NmapgSamples<Scalar, Mem> st;
  KOKKOS_INLINE_FUNCTION void operator()(int i) const {
    if (st.active(i) && !st.accept(i)) st.accept(i) = st.f_z(i) <= st.f_v(i) ? 1 : 2;
  }
};

/// The step is taken: F(x_{k+1}), t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2, the nonmonotone
/// reference c_{k+1} = (eta q_k c_k + F(x_{k+1})) / (eta q_k + 1), the count, and the stop test.
template <class Scalar, class Mem>
struct NmapgAdvance {
  NmapgSamples<Scalar, Mem> st;
  double eta, eps;
  bool by_step;
  int max_iterations;
  KOKKOS_INLINE_FUNCTION void operator()(int i) const {
    if (!st.active(i)) return;
    st.f_x(i) = st.accept(i) == 2 ? st.f_v(i) : st.f_z(i);
    const double t = st.t(i), tn = 0.5 * (1 + math::sqrt(1 + 4 * t * t));
    st.t_prev(i) = t, st.t(i) = tn;
    const double qn = eta * st.q(i) + 1;
    st.c(i) = (eta * st.q(i) * st.c(i) + st.f_x(i)) / qn, st.q(i) = qn;
    st.iterations(i) += 1;
    const bool done = by_step ? math::sqrt(st.ss(i)) <= eps * math::sqrt(st.xx(i))
                              : math::sqrt(st.g2_x(i)) <= eps;
    if (done || st.iterations(i) >= max_iterations) st.active(i) = 0;
  }
};

/// The first sample whose F or gradient is not finite (n: none); a Min over the offending
/// indices, whose identity means "none", so the answer does not depend on how Kokkos splits
/// the range.
template <class Scalar, class Mem>
struct NmapgFirstNonFinite {
  NmapgSamples<Scalar, Mem> st;
  KOKKOS_INLINE_FUNCTION void operator()(int i, int& first) const {
    if (!(math::isfinite(st.f_x(i)) && math::isfinite(st.g2_x(i))) && i < first) first = i;
  }
};

}  // namespace bilevel::impl
