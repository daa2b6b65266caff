// Regularizer workspaces: the model is read-only while it evaluates, so one model serves
// several callers, each with its own workspace, and every result keeps the bits it has when
// computed alone.
#include <bilevel/regularizers/crr.hpp>
#include <bilevel/regularizers/foe.hpp>
#include <bilevel/regularizers/icnn.hpp>
#include <bilevel/regularizers/tv.hpp>
#include <memory>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

using Reg = Regularizer<double>;

std::unique_ptr<Reg> make(const std::string& name, int channels) {
  const DefaultExecSpace space;
  if (name == "tv") return std::make_unique<SmoothedTV<double>>(space, channels);
  if (name == "foe") return std::make_unique<FieldOfExperts<double>>(space, channels, 4, 5, 3);
  if (name == "icnn") {
    IcnnOptions o;
    o.hidden = 6;
    return std::make_unique<InputConvexNet<double>>(space, channels, o, 4);
  }
  CrrOptions o;
  o.channels = {4, 8, 16};
  o.spectral_size = 16;
  o.initial_scale = 0.3;
  return std::make_unique<ConvexRidge<double>>(space, channels, o, 5);
}

void expect_same_bits(const Images<double>& a, const Images<double>& b, const char* what) {
  auto ha = host_copy(a), hb = host_copy(b);
  ASSERT_EQ(ha.span(), hb.span());
  for (std::size_t k = 0; k < ha.span(); ++k) ASSERT_EQ(ha.data()[k], hb.data()[k]) << what << k;
}

class Workspaces : public ::testing::TestWithParam<std::string> {};

// Two callers on two batch shapes, their calls interleaved, give the bits of one caller alone;
// a prepared Hessian survives the other caller's evaluations (the CRR keeps its curvature in
// the workspace, no longer in the model's buffers).
TEST_P(Workspaces, InterleavedCallersKeepTheirBits) {
  const DefaultExecSpace space;
  const auto reg = make(GetParam(), 3);
  const Shape sa{2, 3, 12, 12}, sb{3, 3, 10, 14};
  const auto xa = random_images<double>(sa, 1, 0.1, 0.9), va = random_images<double>(sa, 2, -1, 1);
  const auto xb = random_images<double>(sb, 3, 0.1, 0.9), vb = random_images<double>(sb, 4, -1, 1);
  const auto np = reg->num_params();

  // Alone, in a fresh workspace each.
  auto alone = [&](const Images<double>& x, const Images<double>& v, Images<double>& g,
                   Images<double>& hv, Images<double>& prepared, Kokkos::View<double*>& dtheta) {
    auto ws = reg->make_workspace();
    const Shape s = shape_of(x);
    PerSample<double> e("e", s.n);
    g = make_images<double>("g", s), hv = make_images<double>("hv", s);
    prepared = make_images<double>("prepared", s);
    dtheta = Kokkos::View<double*>("dtheta", np);
    reg->energy_and_gradient(space, x, e, g, *ws);
    reg->hessian_vector_product(space, x, v, hv, *ws);
    reg->prepare_hessian(space, x, *ws);
    reg->prepared_hessian_vector_product(space, v, prepared, Reg::Selection::every(s.n), *ws);
    reg->mixed_product(space, x, v, dtheta, *ws);
  };
  Images<double> ga, hva, pa, gb, hvb, pb;
  Kokkos::View<double*> da, db;
  alone(xa, va, ga, hva, pa, da);
  alone(xb, vb, gb, hvb, pb, db);

  // Interleaved: A prepares its Hessian, B works, A applies it, and so on.
  auto wa = reg->make_workspace(), wb = reg->make_workspace();
  auto g1 = make_images<double>("g1", sa), hv1 = make_images<double>("hv1", sa);
  auto p1 = make_images<double>("p1", sa);
  auto g2 = make_images<double>("g2", sb), hv2 = make_images<double>("hv2", sb);
  auto p2 = make_images<double>("p2", sb);
  Kokkos::View<double*> d1("d1", np), d2("d2", np);
  PerSample<double> e1("e1", sa.n), e2("e2", sb.n);
  reg->prepare_hessian(space, xa, *wa);
  reg->energy_and_gradient(space, xb, e2, g2, *wb);
  reg->prepare_hessian(space, xb, *wb);
  reg->prepared_hessian_vector_product(space, va, p1, Reg::Selection::every(sa.n), *wa);
  reg->mixed_product(space, xb, vb, d2, *wb);
  reg->energy_and_gradient(space, xa, e1, g1, *wa);
  reg->prepared_hessian_vector_product(space, vb, p2, Reg::Selection::every(sb.n), *wb);
  reg->hessian_vector_product(space, xb, vb, hv2, *wb);
  reg->mixed_product(space, xa, va, d1, *wa);
  reg->hessian_vector_product(space, xa, va, hv1, *wa);

  expect_same_bits(g1, ga, "gradient A ");
  expect_same_bits(hv1, hva, "Hessian product A ");
  expect_same_bits(p1, pa, "prepared product A ");
  expect_same_bits(g2, gb, "gradient B ");
  expect_same_bits(hv2, hvb, "Hessian product B ");
  expect_same_bits(p2, pb, "prepared product B ");
  auto h1 = host_copy(d1), h2 = host_copy(d2), ha = host_copy(da), hb = host_copy(db);
  for (std::int64_t k = 0; k < np; ++k) {
    ASSERT_EQ(h1(k), ha(k)) << "mixed product A " << k;
    ASSERT_EQ(h2(k), hb(k)) << "mixed product B " << k;
  }
  // The prepared product is the Hessian product at the prepared point.
  for (std::size_t k = 0; k < p1.span(); ++k)
    EXPECT_NEAR(host_copy(p1).data()[k], host_copy(hv1).data()[k], 1e-12) << k;
}

// The convenience calls (the model's own workspace) agree with an explicit workspace.
TEST_P(Workspaces, OwnWorkspaceGivesTheSameBits) {
  const DefaultExecSpace space;
  const auto reg = make(GetParam(), 1);
  const Shape s{2, 1, 9, 11};
  const auto x = random_images<double>(s, 7, 0.1, 0.9);
  auto g1 = make_images<double>("g1", s), g2 = make_images<double>("g2", s);
  PerSample<double> e1("e1", s.n), e2("e2", s.n);
  reg->energy_and_gradient(space, x, e1, g1);
  auto ws = reg->make_workspace();
  reg->energy_and_gradient(space, x, e2, g2, *ws);
  expect_same_bits(g1, g2, "gradient ");
  EXPECT_EQ(host_copy(e1)(0), host_copy(e2)(0));
}

INSTANTIATE_TEST_SUITE_P(AllRegularizers, Workspaces,
                         ::testing::Values("tv", "foe", "icnn", "crr"));

// A workspace belongs to its regularizer type: another one is refused by name.
TEST(Workspaces, AnotherRegularizersWorkspaceIsRefused) {
  const DefaultExecSpace space;
  const auto crr = make("crr", 1);
  const auto tv = make("tv", 1);
  auto tv_ws = tv->make_workspace();
  const Shape s{1, 1, 8, 8};
  const auto x = random_images<double>(s, 9);
  auto g = make_images<double>("g", s);
  expect_error([&] { crr->gradient(space, x, g, *tv_ws); }, "made by another regularizer");
}

}  // namespace
}  // namespace bilevel::test
