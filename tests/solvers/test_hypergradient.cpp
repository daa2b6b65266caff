#include <bilevel/core/noise.hpp>
#include <bilevel/operators/identity.hpp>
#include <bilevel/regularizers/crr.hpp>
#include <bilevel/regularizers/foe.hpp>
#include <bilevel/regularizers/icnn.hpp>
#include <bilevel/regularizers/tv.hpp>
#include <bilevel/solvers/hypergradient.hpp>
#include <memory>

#include "../regularizers/regularizer_checks.hpp"
#include "quadratic_regularizer.hpp"

namespace bilevel::test {
namespace {

struct Data {
  Images<double> clean, y;
};
Data make_data(const Shape& s, double sigma, unsigned seed) {
  Data d{random_images<double>(s, seed), make_images<double>("y", s)};
  add_gaussian_noise(DefaultExecSpace(), d.clean, sigma, seed + 1, d.y);
  return d;
}

std::vector<double> host(const Kokkos::View<double*>& v) { return impl::to_vector(v); }

double distance(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t k = 0; k < a.size(); ++k) s += (a[k] - b[k]) * (a[k] - b[k]);
  return std::sqrt(s);
}

TEST(Hypergradient, QuadraticProblemExactAndWithinTheBound) {
  const Shape s{2, 1, 4, 4};
  const auto data = make_data(s, 0.1, 1);
  QuadraticRegularizer reg(s, 3, 2);
  IdentityOperator<double> id;
  LowerLevelProblem<double> h(id, reg, data.y);
  Images<double> xhat;
  std::vector<double> exact;
  double loss = 0;
  reg.closed_form(data.y, data.clean, xhat, exact, loss);
  HypergradientSolver<double> solver;
  double previous_bound = 0, previous_err = 0;
  for (double tol : {1e-12, 1e-2, 1e-3, 1e-4}) {
    auto x = make_images<double>("x", s), q = make_images<double>("q", s);
    Kokkos::deep_copy(x, data.y);
    Kokkos::deep_copy(q, 0.0);
    const auto r = solver.compute(DefaultExecSpace(), h, data.clean, x, q, tol, tol);
    const double err = distance(host(r.z), exact);
    double gnorm = 0;
    for (double v : exact) gnorm += v * v;
    std::printf(
        "eps = delta = %g: error %.3e, bound %.3e, cost %ld (|J| %.3g, L_H %.2g, L_J %.2g)\n", tol,
        err, r.bound, r.cost(), r.jacobian_norm, r.lipschitz_hessian, r.lipschitz_jacobian);
    EXPECT_LE(err, r.bound * (1 + 1e-9) + 1e-13) << "error outside the reported bound at " << tol;
    if (tol == 1e-12) {
      EXPECT_LT(err, 1e-10 * std::sqrt(gnorm));
      EXPECT_NEAR(r.loss, loss, 1e-12);
    } else {
      EXPECT_LE(r.bound, tol * 1e3);  // linear in eps and delta
      if (tol < 1e-2) {
        EXPECT_LT(r.bound, previous_bound * 0.2);
        EXPECT_LE(err, previous_err + 1e-15);
      }
      previous_bound = r.bound, previous_err = err;
    }
    EXPECT_EQ(r.cost(), r.lower_cost + r.linear_cost);
    EXPECT_GT(r.linear_cost, 0);
  }
}

// F(theta) with a tight lower-level solve, warm-started from `x`.
double upper_loss(Regularizer<double>& reg, LowerLevelProblem<double>& h, const Data& d,
                  const std::vector<double>& theta, Images<double>& x) {
  reg.set_params(DefaultExecSpace(), theta);
  Nmapg<double> solver;
  solver.solve(DefaultExecSpace(), h, x, 1e-11);
  PerSample<double> l("l", x.extent(0));
  squared_distance(DefaultExecSpace(), x, d.clean, l);
  return total(l) / x.extent(0);
}

void check_against_finite_differences(Regularizer<double>& reg, const Shape& s, double h_theta,
                                      double tol = 1e-5) {
  const auto d = make_data(s, 0.1, 3);
  IdentityOperator<double> id;
  LowerLevelProblem<double> h(id, reg, d.y);
  auto x = make_images<double>("x", s), q = make_images<double>("q", s);
  Kokkos::deep_copy(x, d.y);
  Kokkos::deep_copy(q, 0.0);
  HypergradientOptions o;
  o.estimate_bound = false;
  HypergradientSolver<double> solver(o);
  const auto r = solver.compute(DefaultExecSpace(), h, d.clean, x, q, 1e-11, 1e-11);
  const auto theta = reg.params_host();
  const auto dir = host_normals(5, theta.size());
  const auto z = host(r.z);
  double an = 0;
  for (std::size_t k = 0; k < z.size(); ++k) an += z[k] * dir[k];
  auto xs = make_images<double>("xs", s);
  auto at = [&](double t) {
    std::vector<double> th(theta);
    for (std::size_t k = 0; k < th.size(); ++k) th[k] += t * dir[k];
    Kokkos::deep_copy(xs, x);
    return upper_loss(reg, h, d, th, xs);
  };
  const double fd = richardson(at, h_theta);
  reg.set_params(DefaultExecSpace(), theta);
  EXPECT_LT(rel(fd, an), tol) << reg.name() << ": finite difference " << fd << ", hypergradient "
                              << an;
}

TEST(Hypergradient, MatchesFiniteDifferencesTV) {
  SmoothedTV<double> tv(DefaultExecSpace(), 3);
  tv.set(DefaultExecSpace(), 0.2, 0.05);
  check_against_finite_differences(tv, {2, 3, 8, 8}, 1e-4);
}

TEST(Hypergradient, MatchesFiniteDifferencesFoE) {
  FieldOfExperts<double> foe(DefaultExecSpace(), 1, 4, 5, 6);
  check_against_finite_differences(foe, {2, 1, 8, 8}, 1e-4);
}

TEST(Hypergradient, MatchesFiniteDifferencesCRR) {
  CrrOptions o;
  o.spectral_size = 8;
  o.spectral_tol = 1e-13;
  o.spectral_max_iterations = 50000;
  o.potential = RidgePotentialKind::log_cosh;
  o.beta = 5;
  o.initial_scale = 2;
  ConvexRidge<double> crr(DefaultExecSpace(), 1, o, 7);
  check_against_finite_differences(crr, {1, 1, 8, 8}, 1e-4);
}

// The CRR on its training domain (64 x 64, nearly degenerate top singular values, Lanczos at
// its default tolerance), its normalisation held: the hypergradient is exact for the model.
TEST(Hypergradient, MatchesFiniteDifferencesCrrWithHeldNormalisation) {
  CrrOptions o;
  o.channels = {4, 8, 16};
  o.potential = RidgePotentialKind::log_cosh;
  o.beta = 5;
  o.initial_scale = 2;
  ConvexRidge<double> crr(DefaultExecSpace(), 1, o, 7);
  crr.hold_normalisation(true);
  check_against_finite_differences(crr, {1, 1, 8, 8}, 1e-4, 1e-8);
}

TEST(Hypergradient, MatchesFiniteDifferencesICNN) {
  IcnnOptions o;
  o.hidden = 4;
  o.nu = 0.5;
  InputConvexNet<double> icnn(DefaultExecSpace(), 1, o, 8);
  check_against_finite_differences(icnn, {1, 1, 8, 8}, 1e-4);
}

}  // namespace
}  // namespace bilevel::test

namespace bilevel::test {
namespace {

// The bound's constants are estimates; on a smooth non-quadratic problem the reported bound
// should still cover the actual error at moderate accuracies.
TEST(Hypergradient, BoundCoversTheErrorForTV) {
  const Shape s{2, 1, 10, 10};
  const auto d = make_data(s, 0.1, 9);
  SmoothedTV<double> tv(DefaultExecSpace(), 1);
  tv.set(DefaultExecSpace(), 0.2, 0.1);
  IdentityOperator<double> id;
  LowerLevelProblem<double> h(id, tv, d.y);
  HypergradientSolver<double> solver;
  auto solve = [&](double tol) {
    auto x = make_images<double>("x", s), q = make_images<double>("q", s);
    Kokkos::deep_copy(x, d.y);
    Kokkos::deep_copy(q, 0.0);
    return solver.compute(DefaultExecSpace(), h, d.clean, x, q, tol, tol);
  };
  const auto exact = host(solve(1e-12).z);
  for (double tol : {1e-1, 1e-2, 1e-3}) {
    const auto r = solve(tol);
    const double err = distance(host(r.z), exact);
    std::printf("TV eps = delta = %g: error %.3e, bound %.3e\n", tol, err, r.bound);
    EXPECT_LE(err, r.bound) << "at eps = delta = " << tol;
  }
}

// The bound's constants perturb theta with the CRR's spectral vector held (one pass of W per
// perturbation, no Lanczos refresh) and leave the model as it was: theta, the internal state,
// sigma and the caller's hold, bit for bit.
TEST(Hypergradient, BoundConstantsLeaveTheCrrAsItWas) {
  const Shape s{2, 1, 12, 12};
  const auto d = make_data(s, 0.1, 5);
  CrrOptions o;
  o.channels = {4, 8};
  o.spectral_size = 16;
  ConvexRidge<double> crr(DefaultExecSpace(), 1, o, 3);
  IdentityOperator<double> id;
  LowerLevelProblem<double> h(id, crr, d.y);
  HypergradientSolver<double> solver;
  for (bool held : {false, true}) {
    crr.hold_normalisation(held);
    const auto theta = crr.params_host();
    const auto state = crr.internal_state();
    const double sigma = crr.spectral_norm();
    auto x = make_images<double>("x", s), q = make_images<double>("q", s);
    Kokkos::deep_copy(x, d.y);
    Kokkos::deep_copy(q, 0.0);
    const auto r = solver.compute(DefaultExecSpace(), h, d.clean, x, q, 1e-4, 1e-4);
    EXPECT_GT(r.jacobian_norm, 0.0);
    EXPECT_GT(r.bound, 0.0);
    EXPECT_EQ(crr.params_host(), theta) << "held " << held;
    EXPECT_EQ(crr.internal_state(), state) << "held " << held;
    EXPECT_EQ(crr.spectral_norm(), sigma) << "held " << held;
    EXPECT_EQ(crr.internal_state_held(), held);
  }
}

TEST(Hypergradient, FloatRunsAndAgreesWithDouble) {
  const Shape s{2, 3, 12, 12};
  auto cd = random_images<double>(s, 1);
  auto cf = random_images<float>(s, 1);
  auto yd = make_images<double>("yd", s);
  auto yf = make_images<float>("yf", s);
  add_gaussian_noise(DefaultExecSpace(), cd, 0.1, 2, yd);
  add_gaussian_noise(DefaultExecSpace(), cf, 0.1, 2, yf);
  FieldOfExperts<double> rd(DefaultExecSpace(), 3, 4, 5, 3);
  FieldOfExperts<float> rf(DefaultExecSpace(), 3, 4, 5, 3);
  IdentityOperator<double> idd;
  IdentityOperator<float> idf;
  LowerLevelProblem<double> hd(idd, rd, yd);
  LowerLevelProblem<float> hf(idf, rf, yf);
  auto xd = make_images<double>("xd", s), qd = make_images<double>("qd", s);
  auto xf = make_images<float>("xf", s), qf = make_images<float>("qf", s);
  Kokkos::deep_copy(xd, yd), Kokkos::deep_copy(xf, yf);
  Kokkos::deep_copy(qd, 0.0), Kokkos::deep_copy(qf, 0.0f);
  HypergradientSolver<double> sd;
  HypergradientSolver<float> sf;
  const auto a = sd.compute(DefaultExecSpace(), hd, cd, xd, qd, 1e-4, 1e-4);
  const auto b = sf.compute(DefaultExecSpace(), hf, cf, xf, qf, 1e-3, 1e-3);
  const auto za = host(a.z);
  const auto zb = impl::to_vector(b.z);
  double num = 0, den = 0;
  for (std::size_t k = 0; k < za.size(); ++k)
    num += (za[k] - zb[k]) * (za[k] - zb[k]), den += za[k] * za[k];
  EXPECT_LT(std::sqrt(num / den), 1e-2);
  EXPECT_NEAR(a.loss, b.loss, 1e-3 * a.loss);
}

}  // namespace
}  // namespace bilevel::test
