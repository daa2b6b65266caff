// Every regularizer builds and runs in float, and agrees with its double twin (same seed, same
// point) to float accuracy in energy, gradient, Hessian-vector product and mixed product.
#include <bilevel/regularizers/crr.hpp>
#include <bilevel/regularizers/foe.hpp>
#include <bilevel/regularizers/icnn.hpp>
#include <bilevel/regularizers/tv.hpp>
#include <memory>

#include "regularizer_checks.hpp"

namespace bilevel::test {
namespace {

template <class S>
std::unique_ptr<Regularizer<S>> make(const std::string& which) {
  DefaultExecSpace space;
  if (which == "tv") return std::make_unique<SmoothedTV<S>>(space, 3);
  if (which == "foe") return std::make_unique<FieldOfExperts<S>>(space, 3, 6, 7, 2);
  if (which == "icnn") {
    IcnnOptions o;
    o.nu = 0.05;
    return std::make_unique<InputConvexNet<S>>(space, 3, o, 2);
  }
  CrrOptions o;
  o.spectral_size = 12;
  o.spectral_tol = 1e-7;  // reachable in float
  o.potential = RidgePotentialKind::log_cosh;
  o.beta = 10;
  return std::make_unique<ConvexRidge<S>>(space, 3, o, 2);
}

template <class View>
std::vector<double> flat(const View& v) {
  auto h = host_copy(v);
  return std::vector<double>(h.data(), h.data() + h.span());
}

double rel_l2(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0, n = 0;
  for (std::size_t k = 0; k < a.size(); ++k) d += (a[k] - b[k]) * (a[k] - b[k]), n += b[k] * b[k];
  return std::sqrt(d / std::max(n, 1e-300));
}

class Precisions : public ::testing::TestWithParam<std::string> {};

TEST_P(Precisions, FloatAgreesWithDouble) {
  auto rf = make<float>(GetParam());
  auto rd = make<double>(GetParam());
  ASSERT_EQ(rf->num_params(), rd->num_params());
  const Shape s{2, 3, 12, 13};
  auto xd = random_images<double>(s, 1), vd = random_images<double>(s, 2, -1, 1);
  auto xf = random_images<float>(s, 1), vf = random_images<float>(s, 2, -1, 1);
  PerSample<double> ef("ef", 2), ed("ed", 2);
  rf->energy(DefaultExecSpace(), xf, ef);
  rd->energy(DefaultExecSpace(), xd, ed);
  EXPECT_LT(rel_l2(flat(ef), flat(ed)), 1e-4) << GetParam() << " energy";
  auto gf = make_images<float>("gf", s);
  auto gd = make_images<double>("gd", s);
  rf->gradient(DefaultExecSpace(), xf, gf);
  rd->gradient(DefaultExecSpace(), xd, gd);
  EXPECT_LT(rel_l2(flat(gf), flat(gd)), 1e-4) << GetParam() << " gradient";
  rf->hessian_vector_product(DefaultExecSpace(), xf, vf, gf);
  rd->hessian_vector_product(DefaultExecSpace(), xd, vd, gd);
  EXPECT_LT(rel_l2(flat(gf), flat(gd)), 1e-3) << GetParam() << " Hessian-vector product";
  Regularizer<float>::Params mf("mf", rf->num_params());
  Regularizer<double>::Params md("md", rd->num_params());
  rf->mixed_product(DefaultExecSpace(), xf, vf, mf);
  rd->mixed_product(DefaultExecSpace(), xd, vd, md);
  EXPECT_LT(rel_l2(flat(mf), flat(md)), 1e-3) << GetParam() << " mixed product";
}

INSTANTIATE_TEST_SUITE_P(AllRegularizers, Precisions,
                         ::testing::Values("tv", "foe", "crr", "icnn"));

}  // namespace
}  // namespace bilevel::test
