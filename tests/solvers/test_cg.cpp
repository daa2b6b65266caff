#include <algorithm>
#include <bilevel/core/noise.hpp>
#include <bilevel/operators/identity.hpp>
#include <bilevel/regularizers/tv.hpp>
#include <bilevel/solvers/cg.hpp>
#include <bilevel/solvers/lower_level.hpp>

#include "../regularizers/regularizer_checks.hpp"

namespace bilevel::test {
namespace {

struct System {
  SmoothedTV<double> tv{DefaultExecSpace(), 3};
  IdentityOperator<double> id;
  Images<double> x, y, b;
  std::unique_ptr<LowerLevelProblem<double>> h;
  explicit System(const Shape& s) {
    tv.set(DefaultExecSpace(), 0.3, 0.02);  // small nu: an ill-conditioned Hessian
    x = random_images<double>(s, 1);
    y = random_images<double>(s, 2);
    b = random_images<double>(s, 3, -1, 1);
    h = std::make_unique<LowerLevelProblem<double>>(id, tv, y);
  }
  auto apply() {
    return [this](const DefaultExecSpace& sp, const auto& in, const Images<double>& out) {
      h->hessian_vector_product(sp, x, in, out);
    };
  }
  std::vector<double> true_residuals(const Images<double>& q) {
    auto r = make_images<double>("r", shape_of(q));
    h->hessian_vector_product(DefaultExecSpace(), x, q, r);
    axpby(DefaultExecSpace(), -1.0, b, 1.0, r);
    PerSample<double> n("n", q.extent(0));
    norm2_squared(DefaultExecSpace(), r, n);
    std::vector<double> out;
    for (double v : impl::to_vector(n)) out.push_back(std::sqrt(v));
    return out;
  }
};

TEST(LinearSolvers, ConjugateGradientsReachTheTolerancePerSample) {
  const Shape s{3, 3, 10, 10};
  System sys(s);
  auto q = make_images<double>("q", s);
  Kokkos::deep_copy(q, 0.0);
  BatchedLinearSolver<double> cg;
  const auto r = cg.solve(DefaultExecSpace(), sys.apply(), sys.b, q, 1e-10);
  const auto res = sys.true_residuals(q);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(r.converged[i]);
    EXPECT_LT(res[i], 1e-9) << "sample " << i;
  }
  // A warm start from the solution needs no iteration; from a nearby point, fewer.
  const auto again = cg.solve(DefaultExecSpace(), sys.apply(), sys.b, q, 1e-10);
  EXPECT_EQ(again.total_iterations, 0);
  auto noisy = make_images<double>("noisy", s);
  add_gaussian_noise(DefaultExecSpace(), q, 1e-6, 4, noisy);
  const auto near = cg.solve(DefaultExecSpace(), sys.apply(), sys.b, noisy, 1e-10);
  EXPECT_LT(near.total_iterations, r.total_iterations);
}

// An operator that takes a selection is given only the samples still iterating, and what it
// leaves in the others does not change the result: the same bits as the full-batch solve.
TEST(LinearSolvers, ConvergedSamplesLeaveTheOperator) {
  const Shape s{3, 3, 10, 10};
  System sys(s);
  // Sample 1 starts at the solution of a looser tolerance: it finishes first.
  auto q_full = make_images<double>("q_full", s), q_sel = make_images<double>("q_sel", s);
  Kokkos::deep_copy(q_full, 0.0);
  BatchedLinearSolver<double> cg;
  const auto sub = Kokkos::subview(q_full, 1, Kokkos::ALL, Kokkos::ALL, Kokkos::ALL);
  cg.solve(DefaultExecSpace(), sys.apply(), sys.b, q_full, 1e-6);
  Kokkos::deep_copy(q_sel, 0.0);
  Kokkos::deep_copy(Kokkos::subview(q_sel, 1, Kokkos::ALL, Kokkos::ALL, Kokkos::ALL), sub);
  Kokkos::deep_copy(q_full, q_sel);
  const auto full = cg.solve(DefaultExecSpace(), sys.apply(), sys.b, q_full, 1e-10);
  std::vector<int> counts;
  auto tmp = make_images<double>("tmp", s);
  const auto masked = [&](const DefaultExecSpace& sp, const auto& in, const Images<double>& out,
                          const SampleSelection<>& sel = SampleSelection<>::every(3)) {
    counts.push_back(sel.count);
    sys.h->hessian_vector_product(sp, sys.x, in, tmp);
    Kokkos::deep_copy(sp, out, 1e3);  // junk outside the selection
    const auto flags = host_copy(sel.active);
    for (int n = 0; n < s.n; ++n)
      if (sel.all || flags(n))
        Kokkos::deep_copy(sp, Kokkos::subview(out, n, Kokkos::ALL, Kokkos::ALL, Kokkos::ALL),
                          Kokkos::subview(tmp, n, Kokkos::ALL, Kokkos::ALL, Kokkos::ALL));
  };
  BatchedLinearSolver<double> cg2;
  const auto r = cg2.solve(DefaultExecSpace(), masked, sys.b, q_sel, 1e-10);
  EXPECT_EQ(r.iterations, full.iterations);
  auto a = host_copy(q_full), b = host_copy(q_sel);
  for (std::size_t t = 0; t < a.span(); ++t) ASSERT_EQ(a.data()[t], b.data()[t]) << t;
  // The first call is the initial residual (every sample), then one per iteration.
  ASSERT_EQ(counts.size(),
            std::size_t(1 + *std::max_element(full.iterations.begin(), full.iterations.end())));
  EXPECT_EQ(counts.front(), 3);
  EXPECT_LT(counts.back(), 3);
  EXPECT_TRUE(std::is_sorted(counts.rbegin(), counts.rend()));
  // Every iteration's product saw exactly the samples with iterations left.
  for (std::size_t k = 0; k + 1 < counts.size(); ++k) {
    int left = 0;
    for (int it : full.iterations) left += it > int(k);
    EXPECT_EQ(counts[k + 1], left) << "iteration " << k;
  }
}

TEST(LinearSolvers, GradientDescentIsTheSlowerAlternative) {
  const Shape s{2, 3, 8, 8};
  System sys(s);
  auto q1 = make_images<double>("q1", s), q2 = make_images<double>("q2", s);
  Kokkos::deep_copy(q1, 0.0);
  Kokkos::deep_copy(q2, 0.0);
  BatchedLinearSolver<double> cg;
  LinearSolverOptions o;
  o.kind = LinearSolverKind::gradient_descent;
  o.max_iterations = 200000;
  BatchedLinearSolver<double> gd(o);
  const auto rc = cg.solve(DefaultExecSpace(), sys.apply(), sys.b, q1, 1e-6);
  const auto rg = gd.solve(DefaultExecSpace(), sys.apply(), sys.b, q2, 1e-6);
  EXPECT_GT(rg.gd_step, 0.0);
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(rg.converged[i]) << "after " << rg.iterations[i];
  for (double v : sys.true_residuals(q2)) EXPECT_LE(v, 1e-6);
  EXPECT_GT(rg.total_iterations, rc.total_iterations);
  std::printf("CG %ld iterations, gradient descent %ld (step %.3g)\n", rc.total_iterations,
              rg.total_iterations, rg.gd_step);
}

TEST(LinearSolvers, BreakdownIsReported) {
  const Shape s{2, 1, 4, 4};
  auto b = random_images<double>(s, 5), q = make_images<double>("q", s);
  Kokkos::deep_copy(q, 0.0);
  auto negative = [](const DefaultExecSpace& sp, const auto& in, const Images<double>& out) {
    Kokkos::deep_copy(sp, out, in);
    axpby(sp, 0.0, out, -1.0, out);
  };
  BatchedLinearSolver<double> cg;
  expect_error([&] { cg.solve(DefaultExecSpace(), negative, b, q, 1e-8); },
               "breakdown for sample 0");
}

}  // namespace
}  // namespace bilevel::test
