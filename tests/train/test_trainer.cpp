#include <bilevel/regularizers/tv.hpp>
#include <bilevel/train/trainer.hpp>

#include "../solvers/quadratic_regularizer.hpp"
#include "edge_images.hpp"

namespace bilevel::test {
namespace {

// The quadratic bilevel problem: F(theta) = theta^T P theta + 2 b^T theta + c exactly, so
// theta* = -P^{-1} b; P and b come from closed-form hypergradients at 0 and the unit vectors.
struct Quadratic {
  Shape s{8, 1, 4, 4};
  Images<double> clean = random_images<double>(s, 11);
  TaskData<double> data{DefaultExecSpace(), TaskSpec{TaskKind::denoise, 0.1}, clean};
  QuadraticRegularizer reg{s, 3, 12};
  std::vector<double> theta_star;
  double lmax = 0;

  Quadratic() {
    auto grad_at = [&](const std::vector<double>& th) {
      reg.set_params(DefaultExecSpace(), th);
      Images<double> x;
      std::vector<double> g;
      double l;
      reg.closed_form(data.measured(), clean, x, g, l);
      return g;
    };
    const auto th0 = reg.params_host();
    const auto g0 = grad_at({0, 0, 0});
    double P[3][3], b[3];
    for (int k = 0; k < 3; ++k) {
      std::vector<double> e(3, 0.0);
      e[k] = 1;
      const auto gk = grad_at(e);
      for (int i = 0; i < 3; ++i) P[i][k] = 0.5 * (gk[i] - g0[i]);
      b[k] = 0.5 * g0[k];
    }
    // theta* = -P^{-1} b by Gaussian elimination; lmax by the power method on P.
    double a[3][4];
    for (int i = 0; i < 3; ++i) {
      for (int k = 0; k < 3; ++k) a[i][k] = P[i][k];
      a[i][3] = -b[i];
    }
    for (int c = 0; c < 3; ++c)
      for (int r = c + 1; r < 3; ++r) {
        const double f = a[r][c] / a[c][c];
        for (int k = c; k < 4; ++k) a[r][k] -= f * a[c][k];
      }
    theta_star.assign(3, 0.0);
    for (int r = 2; r >= 0; --r) {
      double v = a[r][3];
      for (int k = r + 1; k < 3; ++k) v -= a[r][k] * theta_star[k];
      theta_star[r] = v / a[r][r];
    }
    std::vector<double> v{1, 1, 1};
    for (int it = 0; it < 200; ++it) {
      std::vector<double> w(3, 0.0);
      for (int i = 0; i < 3; ++i)
        for (int k = 0; k < 3; ++k) w[i] += P[i][k] * v[k];
      lmax = std::sqrt(w[0] * w[0] + w[1] * w[1] + w[2] * w[2]);
      for (int i = 0; i < 3; ++i) v[i] = w[i] / lmax;
    }
    reg.set_params(DefaultExecSpace(), th0);
  }
  double distance() const {
    const auto th = reg.params_host();
    double d = 0;
    for (int k = 0; k < 3; ++k) d += (th[k] - theta_star[k]) * (th[k] - theta_star[k]);
    return std::sqrt(d);
  }
  double true_loss() {
    Images<double> x;
    std::vector<double> g;
    double l;
    reg.closed_form(data.measured(), clean, x, g, l);
    return l;
  }
};

TEST(Trainer, IsgdWithDecayingStepAndAccuracyConverges) {
  Quadratic qp;
  const double d0 = qp.distance();
  TrainOptions o;
  o.batch_size = 4;
  o.schedule.step = {0.5 / qp.lmax, 0.6};
  o.schedule.accuracy = {1e-2, 1.0, AccuracyDecay::polynomial};
  o.max_steps = 1500;
  Trainer<double> t(DefaultExecSpace(), qp.reg, qp.data, nullptr, o);
  t.run();
  std::printf("ISGD: distance to theta* %.3e -> %.3e\n", d0, qp.distance());
  EXPECT_LT(qp.distance(), 1e-2 * d0);
}

TEST(Trainer, IadamConverges) {
  Quadratic qp;
  const double d0 = qp.distance();
  TrainOptions o;
  o.method = "iadam";
  o.batch_size = 8;  // all samples: Adam's sign-like steps then decay to theta* without batch noise
  o.schedule.step = {0.05, 0.5};
  o.schedule.accuracy = {1e-2, 1.0, AccuracyDecay::polynomial};
  o.max_steps = 1500;
  Trainer<double> t(DefaultExecSpace(), qp.reg, qp.data, nullptr, o);
  t.run();
  std::printf("IAdam: distance to theta* %.3e -> %.3e\n", d0, qp.distance());
  EXPECT_LT(qp.distance(), 1e-2 * d0);
}

TEST(Trainer, HoagConverges) {
  Quadratic qp;
  const double d0 = qp.distance();
  TrainOptions o;
  o.method = "hoag";
  o.schedule.step = {0.5 / qp.lmax, 0};
  o.schedule.accuracy = {1e-2, 0.7, AccuracyDecay::geometric};
  o.max_steps = 400;
  Trainer<double> t(DefaultExecSpace(), qp.reg, qp.data, nullptr, o);
  t.run();
  std::printf("HOAG: distance to theta* %.3e -> %.3e\n", d0, qp.distance());
  EXPECT_LT(qp.distance(), 1e-3 * d0);
}

TEST(Trainer, MaidAcceptedStepsDecreaseTheTrueLossMonotonically) {
  Quadratic qp;
  const double d0 = qp.distance();
  TrainOptions o;
  o.method = "maid";
  o.schedule.step = {1.0, 0};
  o.schedule.accuracy = {1e-1, 0, AccuracyDecay::polynomial};
  o.max_steps = 8;
  Trainer<double> t(DefaultExecSpace(), qp.reg, qp.data, nullptr, o);
  double previous = qp.true_loss();
  while (!t.done()) {
    const auto r = t.step();
    std::printf("MAID k %ld: eps %.2e alpha %.2e |z| %.2e bound %.2e cost %ld\n", r.k, r.eps,
                r.alpha, r.z_norm, r.bound, r.step_cost);
    const double now = qp.true_loss();
    EXPECT_LE(now, previous * (1 + 1e-12)) << "MAID step " << t.iteration();
    previous = now;
  }
  std::printf("MAID: distance to theta* %.3e -> %.3e, final eps %.2e\n", d0, qp.distance(),
              t.current_eps());
  EXPECT_LT(qp.distance(), 1e-2 * d0);
}

TEST(Trainer, CostBudgetStopsAtTheFirstStepReachingIt) {
  Quadratic qp;
  TrainOptions o;
  o.batch_size = 2;
  o.schedule.step = {0.1 / qp.lmax, 0};
  o.cost_budget = 500;
  Trainer<double> t(DefaultExecSpace(), qp.reg, qp.data, nullptr, o);
  const auto steps = t.run();
  long sum = 0;
  for (const auto& r : steps) sum += r.step_cost;
  EXPECT_EQ(sum, t.cost());
  EXPECT_EQ(steps.back().cost, t.cost());
  EXPECT_GE(t.cost(), 500);
  EXPECT_LT(t.cost() - steps.back().step_cost, 500);
}

TEST(Trainer, WallTimeAndStepLimitsStopTheRun) {
  Quadratic qp;
  TrainOptions o;
  o.batch_size = 2;
  o.schedule.step = {0.1 / qp.lmax, 0};
  o.max_seconds = 1e-9;  // the clock starts with the trainer: already over before any step
  Trainer<double> t(DefaultExecSpace(), qp.reg, qp.data, nullptr, o);
  EXPECT_EQ(t.run().size(), 0u);
  EXPECT_TRUE(t.done());
  o.max_seconds = 0;
  o.max_steps = 7;
  Trainer<double> u(DefaultExecSpace(), qp.reg, qp.data, nullptr, o);
  EXPECT_EQ(u.run().size(), 7u);
  Trainer<double> v(DefaultExecSpace(), qp.reg, qp.data, nullptr, o);
  const auto r = v.step();
  EXPECT_GT(r.bound, 0.0);         // reported in every record by default
  EXPECT_GT(v.step().bound, 0.0);  // with the constants cached between re-estimates
  EXPECT_GT(r.z_norm, 0.0);
  EXPECT_GT(r.eps, 0.0);
  EXPECT_EQ(r.delta, r.eps);
}

TEST(Trainer, TvDenoisingTrainingRaisesTestPsnr) {
  TaskSpec task{TaskKind::denoise, 0.1};
  TaskData<double> train(DefaultExecSpace(), task, edge_images(6, 1));
  TaskData<double> test(DefaultExecSpace(), task, edge_images(2, 2), 1000);
  SmoothedTV<double> tv(DefaultExecSpace(), 1);
  tv.set(DefaultExecSpace(), 0.005, 0.01);
  TrainOptions o;
  o.method = "iadam";
  o.batch_size = 3;
  o.schedule.step = {0.2, 0};
  o.schedule.accuracy = {1e-3, 0, AccuracyDecay::polynomial};
  o.max_steps = 30;
  o.test_interval = 30;
  Trainer<double> t(DefaultExecSpace(), tv, train, &test, o);
  const double psnr0 = t.test_psnr();
  const auto steps = t.run();
  std::printf("TV: test PSNR %.2f -> %.2f dB, batch loss %.4f -> %.4f, alpha %.4f\n", psnr0,
              steps.back().test_psnr, steps.front().loss, steps.back().loss, tv.alpha());
  EXPECT_GT(steps.back().test_psnr, psnr0 + 1.0);
  EXPECT_LT(steps.back().loss, steps.front().loss);
  EXPECT_GT(steps.back().test_cost, 0);
}

}  // namespace
}  // namespace bilevel::test
