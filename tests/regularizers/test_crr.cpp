#include <bilevel/regularizers/crr.hpp>

#include "regularizer_checks.hpp"

namespace bilevel::test {
namespace {

CrrOptions tight(RidgePotentialKind kind, double beta) {
  CrrOptions o;
  o.potential = kind;
  o.beta = beta;
  o.initial_scale = 3.0;
  o.spectral_size = 8;  // small domain: the power iteration converges to 1e-13 quickly
  o.spectral_tol = 1e-13;
  o.spectral_max_iterations = 50000;
  return o;
}

TEST(ConvexRidge, DerivativesMatchFiniteDifferencesLogCosh) {
  ConvexRidge<double> crr(DefaultExecSpace(), 3, tight(RidgePotentialKind::log_cosh, 5.0), 3);
  check_all(crr, {2, 3, 6, 7});
}

TEST(ConvexRidge, DerivativesMatchFiniteDifferencesHuber) {
  ConvexRidge<double> crr(DefaultExecSpace(), 1, tight(RidgePotentialKind::huber, 2.0), 4);
  check_all(crr, {1, 1, 7, 6});
}

// On the training domain (64 x 64) the top of W^T W's spectrum is nearly degenerate, and
// Lanczos at its default tolerance stops at a mixture of the top singular vectors. Held, that
// vector defines sigma = ||W v|| as one smooth function of theta, and every derivative,
// including the mixed product that carries dsigma, matches finite differences to 1e-8.
TEST(ConvexRidge, HeldNormalisationIsExactOnNearlyDegenerateSpectra) {
  CrrOptions o;  // default spectral settings: P = 64, relative residual 1e-6
  o.channels = {4, 8, 16};
  o.potential = RidgePotentialKind::log_cosh;
  o.beta = 5;
  o.initial_scale = 3;
  ConvexRidge<double> crr(DefaultExecSpace(), 1, o, 11);
  crr.hold_normalisation(true);
  const double sigma = crr.spectral_norm();
  check_all(crr, {2, 1, 12, 12}, 1e-5, 1e-8);
  crr.set_params(DefaultExecSpace(), crr.params_host());
  EXPECT_EQ(crr.spectral_norm(), sigma);  // held: the same v, the same bits
  // Released, set_params refreshes v and sigma moves only by the Lanczos tolerance's effect.
  crr.hold_normalisation(false);
  crr.set_params(DefaultExecSpace(), crr.params_host());
  EXPECT_NEAR(crr.spectral_norm(), sigma, 1e-6 * sigma);
}

TEST(ConvexRidge, PreparedHessianReusesTheCurvature) {
  CrrOptions o = tight(RidgePotentialKind::huber, 4.0);
  o.channels = {4, 8, 16};
  ConvexRidge<double> crr(DefaultExecSpace(), 3, o, 5);
  check_prepared_hessian(crr, {3, 3, 10, 13}, true);
  check_selected_evaluation(crr, {3, 3, 10, 13});
}

TEST(ConvexRidge, ArchitectureAndParameterBlocks) {
  CrrOptions o;
  o.spectral_size = 16;
  ConvexRidge<float> crr(DefaultExecSpace(), 3, o);
  EXPECT_EQ(crr.num_params(), 4 * 3 * 25 + 8 * 4 * 25 + 64 * 8 * 25 + 64);  // 13,964
  ASSERT_EQ(crr.blocks().size(), 4u);
  EXPECT_EQ(crr.blocks()[2].name, "filters3");
  EXPECT_EQ(crr.blocks()[2].shape, (std::vector<int>{64, 8, 5, 5}));
  EXPECT_EQ(crr.blocks()[3].offset, 300 + 800 + 12800);
}

TEST(ConvexRidge, NormalisedOperatorHasUnitSpectralNorm) {
  CrrOptions o;
  o.spectral_size = 12;
  o.spectral_tol = 1e-8;
  o.spectral_max_iterations = 100000;
  ConvexRidge<double> crr(DefaultExecSpace(), 3, o, 5);
  EXPECT_TRUE(crr.spectral_result().converged);
  std::printf("Lanczos applications: %d\n", crr.spectral_result().applications);
  // An independent Lanczos run on W~^T W~ from another start must find norm 1. W~^T W~ is the
  // HVP at x = 0 of a CRR with the same filters, exp(s) = 1 and a Huber potential of beta = 1
  // (psi''(0) = 1).
  const Shape s{1, 3, 12, 12};
  auto v = random_images<double>(s, 77, -1, 1);
  auto wv = make_images<double>("wv", {1, 64, 12, 12});
  CrrOptions q = o;
  q.initial_scale = 1.0;
  q.potential = RidgePotentialKind::huber;
  q.beta = 1.0;
  ConvexRidge<double> same(DefaultExecSpace(), 3, q, 5);  // same filters (same seed), exp(s) = 1
  auto zero = make_images<double>("zero", s);
  Kokkos::deep_copy(zero, 0.0);
  Lanczos<double> lanczos(s, 40);
  const auto r = lanczos.top_eigenpair(
      DefaultExecSpace(),
      [&](const DefaultExecSpace& sp, const auto& in, const Images<double>& out) {
        same.hessian_vector_product(sp, zero, in, out);
      },
      v, 1e-10, 100000);
  EXPECT_TRUE(r.converged);
  EXPECT_NEAR(std::sqrt(r.value), 1.0, 1e-7);
  crr.apply_normalised(DefaultExecSpace(), v, wv);
  EXPECT_LE(std::sqrt(inner(wv, wv)), 1.0 + 1e-6);
}

TEST(ConvexRidge, ZeroMeanFiltersAnnihilateConstants) {
  CrrOptions o;
  o.spectral_size = 8;
  ConvexRidge<double> crr(DefaultExecSpace(), 3, o, 2);
  auto x = make_images<double>("x", {1, 3, 40, 40});
  Kokkos::deep_copy(x, 0.3);
  auto y = make_images<double>("y", {1, 64, 40, 40});
  crr.apply_normalised(DefaultExecSpace(), x, y);
  auto h = host_copy(y);
  double worst = 0;
  for (int c = 0; c < 64; ++c)
    for (int i = 6; i < 34; ++i)  // three 5x5 layers reach 6 pixels in from the border
      for (int j = 6; j < 34; ++j) worst = std::max(worst, std::abs(h(0, c, i, j)));
  EXPECT_LT(worst, 1e-13);
}

// The cap on exp(s) is a projection: set_params clamps the log-scales above log(max_scale) and
// leaves the others and every filter as given; a start above the cap is refused.
TEST(ConvexRidge, MaxScaleProjectsTheLogScales) {
  CrrOptions o;
  o.channels = {4, 6};
  o.spectral_size = 8;
  o.initial_scale = 0.1;
  o.max_scale = 0.3;
  ConvexRidge<double> crr(DefaultExecSpace(), 1, o, 2);
  auto theta = crr.params_host();
  const ParamBlock& s = crr.blocks().back();
  for (std::int64_t c = 0; c < s.size; ++c)
    theta[std::size_t(s.offset + c)] = std::log(c % 2 ? 0.2 : 0.9);
  crr.set_params(DefaultExecSpace(), theta);
  const auto projected = crr.params_host();
  for (std::size_t k = 0; k < theta.size(); ++k) {
    const bool scale = std::int64_t(k) >= s.offset;
    const bool capped = scale && (std::int64_t(k) - s.offset) % 2 == 0;
    EXPECT_NEAR(projected[k], capped ? std::log(0.3) : theta[k], 1e-15) << k;
  }
  o.initial_scale = 0.5;
  EXPECT_THROW((ConvexRidge<double>(DefaultExecSpace(), 1, o, 2)), Error);
}

TEST(ConvexRidge, FloatBuildRunsAndAgreesWithDouble) {
  CrrOptions o;
  o.spectral_size = 16;
  ConvexRidge<float> f(DefaultExecSpace(), 3, o, 9);
  ConvexRidge<double> d(DefaultExecSpace(), 3, o, 9);
  auto xd = random_images<double>({2, 3, 16, 16}, 5);
  auto xf = random_images<float>({2, 3, 16, 16}, 5);
  PerSample<double> ef("ef", 2), ed("ed", 2);
  f.energy(DefaultExecSpace(), xf, ef);
  d.energy(DefaultExecSpace(), xd, ed);
  EXPECT_NEAR(total(ef), total(ed), 1e-4 * std::abs(total(ed)));
  EXPECT_NEAR(f.spectral_norm(), d.spectral_norm(), 1e-4 * d.spectral_norm());
}

}  // namespace
}  // namespace bilevel::test
