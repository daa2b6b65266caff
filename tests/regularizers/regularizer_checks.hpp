#pragma once
// The checks every regularizer must pass, in double precision on small random images:
// gradient, Hessian-vector product and mixed product against central finite differences, HVP
// symmetry and convexity. Each check prints the relative error on failure.

#include <bilevel/core/blas1.hpp>
#include <bilevel/regularizers/regularizer.hpp>
#include <random>

#include "../test_utils.hpp"

namespace bilevel::test {

using Reg = Regularizer<double>;

inline double total(const PerSample<double>& v) {
  auto h = host_copy(v);
  double s = 0;
  for (std::size_t k = 0; k < h.extent(0); ++k) s += h(k);
  return s;
}

inline double inner(const Images<double>& a, const Images<double>& b) {
  PerSample<double> d("d", a.extent(0));
  dot(DefaultExecSpace(), a, b, d);
  return total(d);
}

/// x + t d.
inline Images<double> shifted(const Images<double>& x, double t, const Images<double>& d) {
  auto y = make_images<double>("shifted", shape_of(x));
  Kokkos::deep_copy(y, x);
  axpby(DefaultExecSpace(), t, d, 1.0, y);
  return y;
}

/// Relative error |a - b| / max(|a|, |b|, floor).
inline double rel(double a, double b, double floor = 1e-12) {
  return std::abs(a - b) / std::max({std::abs(a), std::abs(b), floor});
}

/// Central difference of f at 0 with Richardson extrapolation: (4 D(h/2) - D(h)) / 3 is exact
/// up to O(h^4), so steep potentials (nu = 1e-2) still give tight checks.
template <class F>
double richardson(F f, double h) {
  const double d1 = (f(h) - f(-h)) / (2 * h), d2 = (f(h / 2) - f(-h / 2)) / h;
  return (4 * d2 - d1) / 3;
}

/// Gradient: d/dt R(x + t d) at 0 equals <grad R(x), d>, per direction over the batch.
inline void check_gradient(Reg& r, const Images<double>& x, double h, double tol) {
  const Shape s = shape_of(x);
  auto d = random_images<double>(s, 101, -1, 1);
  auto g = make_images<double>("g", s);
  r.gradient(DefaultExecSpace(), x, g);
  PerSample<double> e("e", s.n);
  const double fd = richardson(
      [&](double t) {
        r.energy(DefaultExecSpace(), shifted(x, t, d), e);
        return total(e);
      },
      h);
  const double an = inner(g, d);
  EXPECT_LT(rel(fd, an), tol) << r.name() << " gradient: finite difference " << fd << ", analytic "
                              << an;
}

/// HVP: d/dt grad R(x + t v) at 0 equals H v (compared as vectors).
inline void check_hvp(Reg& r, const Images<double>& x, double h, double tol) {
  const Shape s = shape_of(x);
  auto v = random_images<double>(s, 102, -1, 1);
  auto hv = make_images<double>("hv", s), fd = make_images<double>("fd", s),
       g = make_images<double>("g", s);
  r.hessian_vector_product(DefaultExecSpace(), x, v, hv);
  // Richardson-extrapolated central difference of the gradient along v, accumulated in fd.
  Kokkos::deep_copy(fd, 0.0);
  const std::pair<double, double> terms[] = {
      {h, -1 / (6 * h)}, {-h, 1 / (6 * h)}, {h / 2, 4 / (3 * h)}, {-h / 2, -4 / (3 * h)}};
  for (const auto& [t, w] : terms) {
    r.gradient(DefaultExecSpace(), shifted(x, t, v), g);
    axpby(DefaultExecSpace(), w, g, 1.0, fd);
  }
  PerSample<double> err("err", s.n), nrm("nrm", s.n);
  squared_distance(DefaultExecSpace(), fd, hv, err);
  norm2_squared(DefaultExecSpace(), hv, nrm);
  const double e = std::sqrt(total(err) / std::max(total(nrm), 1e-300));
  EXPECT_LT(e, tol) << r.name() << " Hessian-vector product: relative error " << e
                    << " (|Hv|^2 = " << total(nrm) << ")";
}

/// Symmetry <H u, v> = <u, H v>.
inline void check_hvp_symmetry(Reg& r, const Images<double>& x, double tol) {
  const Shape s = shape_of(x);
  auto u = random_images<double>(s, 103, -1, 1), v = random_images<double>(s, 104, -1, 1);
  auto hu = make_images<double>("hu", s), hv = make_images<double>("hv", s);
  r.hessian_vector_product(DefaultExecSpace(), x, u, hu);
  r.hessian_vector_product(DefaultExecSpace(), x, v, hv);
  const double a = inner(hu, v), b = inner(u, hv);
  EXPECT_LT(rel(a, b), tol) << r.name() << " HVP symmetry: " << a << " vs " << b;
}

/// A seeded standard normal direction in parameter space.
inline std::vector<double> random_direction(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> nd;
  std::vector<double> e(n);
  for (auto& v : e) v = nd(gen);
  return e;
}

/// Mixed product: d/dt <grad R_{theta + t e}(x), q> at 0 equals <mixed(x, q), e>.
inline void check_mixed(Reg& r, const Images<double>& x, double h, double tol) {
  const Shape s = shape_of(x);
  auto q = random_images<double>(s, 105, -1, 1);
  const auto theta = r.params_host();
  const auto e = random_direction(theta.size(), 106);
  Reg::Params dtheta("dtheta", r.num_params());
  r.mixed_product(DefaultExecSpace(), x, q, dtheta);
  auto hd = host_copy(dtheta);
  double an = 0;
  for (std::size_t k = 0; k < e.size(); ++k) an += hd(k) * e[k];
  auto g = make_images<double>("g", s);
  auto at = [&](double t) {
    std::vector<double> th(theta);
    for (std::size_t k = 0; k < th.size(); ++k) th[k] += t * e[k];
    r.set_params(DefaultExecSpace(), th);
    r.gradient(DefaultExecSpace(), x, g);
    return inner(g, q);
  };
  const double fd = richardson(at, h);
  r.set_params(DefaultExecSpace(), theta);
  EXPECT_LT(rel(fd, an), tol) << r.name() << " mixed product: finite difference " << fd
                              << ", analytic " << an;
}

/// Directional derivative in theta: J t against central differences of grad R (per element,
/// through a random q), and against the mixed product as its adjoint, <J t, q> = <t, J^T q>.
inline void check_jacobian_vector_product(Reg& r, const Images<double>& x, double h, double tol) {
  const Shape s = shape_of(x);
  auto q = random_images<double>(s, 107, -1, 1);
  const auto theta = r.params_host();
  const auto e = random_direction(theta.size(), 108);
  Reg::Params t("t", r.num_params());
  {
    auto ht = Kokkos::create_mirror_view(t);
    for (std::size_t k = 0; k < e.size(); ++k) ht(k) = e[k];
    Kokkos::deep_copy(t, ht);
  }
  auto jt = make_images<double>("jt", s), g = make_images<double>("g", s);
  r.jacobian_vector_product(DefaultExecSpace(), x, t, jt);
  const double an = inner(jt, q);
  // The adjoint pair: <J t, q> = <t, mixed(x, q)>.
  Reg::Params mixed("mixed", r.num_params());
  r.mixed_product(DefaultExecSpace(), x, q, mixed);
  auto hm = host_copy(mixed);
  double adj = 0;
  for (std::size_t k = 0; k < e.size(); ++k) adj += hm(k) * e[k];
  EXPECT_LT(rel(an, adj), 1e-10) << r.name() << " <J t, q> " << an << ", <t, J^T q> " << adj;
  // Finite differences of the gradient in theta, element by element (through the norm of the
  // difference) and projected on q.
  auto at = [&](double tau, const Images<double>& out) {
    std::vector<double> th(theta);
    for (std::size_t k = 0; k < th.size(); ++k) th[k] += tau * e[k];
    r.set_params(DefaultExecSpace(), th);
    r.gradient(DefaultExecSpace(), x, out);
  };
  auto gp = make_images<double>("gp", s), gm = make_images<double>("gm", s);
  auto gp2 = make_images<double>("gp2", s), gm2 = make_images<double>("gm2", s);
  at(h, gp), at(-h, gm), at(h / 2, gp2), at(-h / 2, gm2);
  r.set_params(DefaultExecSpace(), theta);
  auto hp = host_copy(gp), hmi = host_copy(gm), hp2 = host_copy(gp2), hm2 = host_copy(gm2);
  auto hj = host_copy(jt);
  double diff2 = 0, norm2 = 0;
  for (std::size_t k = 0; k < hj.span(); ++k) {
    const double d1 = (hp.data()[k] - hmi.data()[k]) / (2 * h);
    const double d2 = (hp2.data()[k] - hm2.data()[k]) / h;
    const double fd = (4 * d2 - d1) / 3;
    diff2 += (fd - hj.data()[k]) * (fd - hj.data()[k]);
    norm2 += hj.data()[k] * hj.data()[k];
  }
  EXPECT_LT(std::sqrt(diff2 / std::max(norm2, 1e-24)), tol)
      << r.name() << " J t: relative distance to finite differences";
}

/// Monotone gradient: <grad R(x) - grad R(y), x - y> >= 0 (convexity).
inline void check_convexity(Reg& r, const Images<double>& x) {
  const Shape s = shape_of(x);
  for (unsigned seed = 0; seed < 3; ++seed) {
    auto y = random_images<double>(s, 200 + seed, 0, 1);
    auto gx = make_images<double>("gx", s), gy = make_images<double>("gy", s);
    r.gradient(DefaultExecSpace(), x, gx);
    r.gradient(DefaultExecSpace(), y, gy);
    axpby(DefaultExecSpace(), -1.0, gy, 1.0, gx);  // gx <- grad R(x) - grad R(y)
    auto diff = shifted(x, -1.0, y);               // x - y
    EXPECT_GE(inner(gx, diff), -1e-12) << r.name() << " convexity";
  }
}

/// The fused energy_and_gradient equals energy and gradient computed separately.
inline void check_fused(Reg& r, const Images<double>& x) {
  const Shape s = shape_of(x);
  PerSample<double> e1("e1", s.n), e2("e2", s.n);
  auto g1 = make_images<double>("g1", s), g2 = make_images<double>("g2", s);
  r.energy_and_gradient(DefaultExecSpace(), x, e1, g1);
  r.energy(DefaultExecSpace(), x, e2);
  r.gradient(DefaultExecSpace(), x, g2);
  EXPECT_LT(rel(total(e1), total(e2)), 1e-14) << r.name() << " fused energy";
  PerSample<double> d("d", s.n);
  squared_distance(DefaultExecSpace(), g1, g2, d);
  EXPECT_LE(total(d), 1e-28 * (1 + inner(g2, g2))) << r.name() << " fused gradient";
}

/// The prepared Hessian (prepare_hessian, then products) gives the plain product's bits, for
/// every sample and for a selection (the others finite, or zero when `zero_outside`), and
/// follows theta when set_params moves it after the preparation.
inline void check_prepared_hessian(Reg& r, const Shape& s, bool zero_outside) {
  auto x = random_images<double>(s, 200, 0, 1);
  auto v = random_images<double>(s, 201, -1, 1);
  auto plain = make_images<double>("plain", s), prepared = make_images<double>("prepared", s);
  r.hessian_vector_product(DefaultExecSpace(), x, v, plain);
  r.prepare_hessian(DefaultExecSpace(), x);
  r.prepared_hessian_vector_product(DefaultExecSpace(), v, prepared);
  auto a = host_copy(plain), b = host_copy(prepared);
  for (std::size_t t = 0; t < a.span(); ++t)
    ASSERT_EQ(a.data()[t], b.data()[t]) << r.name() << " prepared product, element " << t;
  // Only the last sample selected.
  Kokkos::View<int*> ids("ids", 1), flags("flags", s.n);
  Kokkos::deep_copy(flags, 0);
  Kokkos::deep_copy(Kokkos::subview(flags, std::make_pair(s.n - 1, s.n)), 1);
  Kokkos::deep_copy(ids, s.n - 1);
  const auto sel = Reg::Selection::listed(ids, flags, 1);
  r.prepared_hessian_vector_product(DefaultExecSpace(), v, prepared, sel);
  b = host_copy(prepared);
  const std::int64_t per = s.per_sample();
  for (std::int64_t t = 0; t < std::int64_t(a.span()); ++t) {
    const bool on = t / per == s.n - 1;
    if (on)
      ASSERT_EQ(b.data()[t], a.data()[t]) << r.name() << " selected product, element " << t;
    else if (zero_outside)
      ASSERT_EQ(b.data()[t], 0.0) << r.name() << " outside the selection, element " << t;
    else
      ASSERT_TRUE(std::isfinite(b.data()[t])) << r.name() << " outside the selection";
  }
  // theta moves after the preparation: the products follow it.
  auto theta = r.params_host();
  for (auto& t : theta) t *= 1.01;
  r.set_params(DefaultExecSpace(), theta);
  r.hessian_vector_product(DefaultExecSpace(), x, v, plain);
  r.prepared_hessian_vector_product(DefaultExecSpace(), v, prepared);
  a = host_copy(plain), b = host_copy(prepared);
  for (std::size_t t = 0; t < a.span(); ++t)
    ASSERT_EQ(a.data()[t], b.data()[t]) << r.name() << " after set_params, element " << t;
}

/// A selected evaluation gives the selected samples the bits of the full one.
inline void check_selected_evaluation(Reg& r, const Shape& s) {
  auto x = random_images<double>(s, 210, 0, 1);
  PerSample<double> e_all("e_all", s.n), e_sel("e_sel", s.n);
  auto g_all = make_images<double>("g_all", s), g_sel = make_images<double>("g_sel", s);
  r.energy_and_gradient(DefaultExecSpace(), x, e_all, g_all);
  Kokkos::View<int*> ids("ids", 1), flags("flags", s.n);
  Kokkos::deep_copy(flags, 0);
  Kokkos::deep_copy(Kokkos::subview(flags, std::make_pair(0, 1)), 1);
  Kokkos::deep_copy(ids, 0);
  r.energy_and_gradient_selected(DefaultExecSpace(), x, e_sel, g_sel,
                                 Reg::Selection::listed(ids, flags, 1));
  EXPECT_EQ(host_copy(e_all)(0), host_copy(e_sel)(0)) << r.name() << " selected energy";
  auto a = host_copy(g_all), b = host_copy(g_sel);
  for (std::int64_t t = 0; t < s.per_sample(); ++t)
    ASSERT_EQ(a.data()[t], b.data()[t]) << r.name() << " selected gradient, element " << t;
}

/// All derivative checks at a random point with the given tolerances.
inline void check_all(Reg& r, const Shape& s, double h = 1e-5, double tol = 1e-6) {
  auto x = random_images<double>(s, 100, 0, 1);
  check_gradient(r, x, h, tol);
  check_hvp(r, x, h, tol);
  check_hvp_symmetry(r, x, 1e-10);
  check_mixed(r, x, h, tol);
  check_jacobian_vector_product(r, x, h, tol);
  check_convexity(r, x);
  check_fused(r, x);
}

}  // namespace bilevel::test
