// Potentials are evaluated on the host here (the structs are plain KOKKOS_INLINE_FUNCTION
// code); their use inside kernels is covered by the regularizer tests.
#include <bilevel/potentials/huber.hpp>
#include <bilevel/potentials/log_cosh.hpp>
#include <bilevel/potentials/smoothed_clipped_relu.hpp>
#include <bilevel/potentials/smoothed_l1.hpp>
#include <cmath>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

// Central differences with step h on points away from the potentials' kinks.
template <class P>
void check_derivatives(const P& p, const std::vector<double>& points, const char* name) {
  const double h = 1e-6;
  for (double u : points) {
    const double fd1 = (p.value(u + h) - p.value(u - h)) / (2 * h);
    const double fd2 = (p.d1(u + h) - p.d1(u - h)) / (2 * h);
    EXPECT_NEAR(p.d1(u), fd1, 1e-7 * (1 + std::abs(fd1))) << name << " psi' at " << u;
    EXPECT_NEAR(p.d2(u), fd2, 1e-6 * (1 + std::abs(fd2))) << name << " psi'' at " << u;
    EXPECT_GE(p.d2(u), 0.0) << name << " convexity at " << u;
    EXPECT_LE(p.d2(u), p.d2_bound() * (1 + 1e-12)) << name << " d2 bound at " << u;
  }
}

TEST(Potentials, HuberDerivatives) {
  check_derivatives(Huber<double>{2.0}, {-3.0, -0.7, -0.2, 0.0, 0.13, 0.4, 2.5}, "huber");
  const Huber<double> p{2.0};
  EXPECT_DOUBLE_EQ(p.value(0.5), 0.25);        // (beta/2) u^2 at the junction |u| = 1/beta
  EXPECT_DOUBLE_EQ(p.value(2.0), 2.0 - 0.25);  // |u| - 1/(2 beta)
}

TEST(Potentials, LogCoshDerivativesAndStability) {
  check_derivatives(LogCosh<double>{3.0}, {-2.0, -0.3, 0.0, 0.01, 0.5, 4.0}, "log-cosh");
  const LogCosh<double> p{3.0};
  EXPECT_NEAR(p.value(0.2), std::log(std::cosh(0.6)) / 3.0, 1e-15);
  // cosh(3e4) overflows; the stable form gives |u| - log(2) / beta.
  EXPECT_NEAR(p.value(1e4), 1e4 - std::log(2.0) / 3.0, 1e-9);
  EXPECT_TRUE(std::isfinite(LogCosh<float>{10.0f}.value(1e3f)));
  EXPECT_NEAR(LogCosh<float>{10.0f}.value(-1e3f), 1e3f - std::log(2.0f) / 10.0f, 1e-3f);
}

TEST(Potentials, SmoothedL1DerivativesIncludingNu) {
  check_derivatives(SmoothedL1<double>{0.05}, {-1.0, -0.02, 0.0, 0.03, 0.7}, "smoothed l1");
  const double h = 1e-7;
  for (double z : {-0.4, 0.0, 0.02, 1.3}) {
    SmoothedL1<double> p{0.05}, lo{0.05 - h}, hi{0.05 + h};
    EXPECT_NEAR(p.dvalue_dnu(z), (hi.value(z) - lo.value(z)) / (2 * h), 1e-7);
    EXPECT_NEAR(p.d1_dnu(z), (hi.d1(z) - lo.d1(z)) / (2 * h), 1e-5 * (1 + std::abs(p.d1_dnu(z))));
  }
}

TEST(Potentials, SmoothedClippedReluDerivatives) {
  const SmoothedClippedRelu<double> p{1e-3};
  check_derivatives(p, {-1.0, -1e-4, 2e-4, 5e-4, 8e-4, 2e-3, 1.0}, "clipped relu");
  EXPECT_EQ(p.value(-0.5), 0.0);
  EXPECT_DOUBLE_EQ(p.value(0.5e-3), 0.125e-3);
  EXPECT_DOUBLE_EQ(p.value(2.0), 2.0 - 0.5e-3);
  EXPECT_DOUBLE_EQ(p.value(1e-3), 0.5e-3);  // continuous at nu
}

}  // namespace
}  // namespace bilevel::test
