// Model selection by a validation set: the Trainer measures it every validation_interval steps
// (and after the last step), keeps the best parameters bit for bit, carries them through a
// checkpoint, and load_model applies them (or the last iterate on request).
#include <bilevel/regularizers/tv.hpp>
#include <bilevel/train/model.hpp>
#include <bilevel/train/trainer.hpp>
#include <cmath>

#include "edge_images.hpp"

namespace bilevel::test {
namespace {

struct ValidatedRun {
  TaskSpec task{TaskKind::denoise, 0.1};
  TaskData<double> train{DefaultExecSpace(), task, edge_images(6, 1)};
  TaskData<double> val{DefaultExecSpace(), task, edge_images(3, 3), 5000};
  TrainOptions opt;
  ValidatedRun() {
    opt.method = "iadam";
    opt.batch_size = 3;
    // A step large enough to overshoot: the validation PSNR rises, then falls.
    opt.schedule.step = {0.6, 0};
    opt.schedule.accuracy = {1e-3, 0, AccuracyDecay::polynomial};
    opt.validation_interval = 3;
    opt.test_eps = 1e-3;
    opt.checkpoint_attributes = {{model_attribute(), tv_spec().to_string()}};
  }
  static ModelSpec tv_spec() {
    ModelSpec m;
    m.kind = RegularizerKind::tv;
    m.channels = 1;
    return m;
  }
  static std::unique_ptr<SmoothedTV<double>> make_tv() {
    auto tv = std::make_unique<SmoothedTV<double>>(DefaultExecSpace(), 1);
    tv->set(DefaultExecSpace(), 0.005, 0.01);
    return tv;
  }
};

TEST(Validation, KeepsTheBestValidatedParametersBitForBit) {
  ValidatedRun run;
  run.opt.max_steps = 8;  // not a multiple of 3: the last step is validated as well
  auto tv = ValidatedRun::make_tv();
  Trainer<double> t(DefaultExecSpace(), *tv, run.train, nullptr, run.opt);
  EXPECT_FALSE(t.has_validation());
  t.set_validation(run.val);
  EXPECT_TRUE(t.has_validation());
  EXPECT_EQ(t.best_model().step, -1);
  std::vector<std::vector<double>> thetas;
  std::vector<StepRecord> records;
  while (!t.done()) {
    records.push_back(t.step());
    thetas.push_back(tv->params_host());
  }
  ASSERT_EQ(records.size(), 8u);
  long argmax = -1;
  double best = -1e300;
  for (const auto& r : records) {
    const bool measured = (r.k + 1) % 3 == 0 || r.k == 7;
    EXPECT_EQ(std::isfinite(r.validation_psnr), measured) << "step " << r.k;
    if (!measured) continue;
    EXPECT_GT(r.validation_cost, 0) << "step " << r.k;
    if (r.validation_psnr > best) best = r.validation_psnr, argmax = r.k;
  }
  std::printf("validation PSNR:");
  for (const auto& r : records)
    if (std::isfinite(r.validation_psnr)) std::printf(" %ld:%.3f", r.k, r.validation_psnr);
  std::printf("; best after step %ld\n", argmax);
  const auto& b = t.best_model();
  EXPECT_EQ(b.step, argmax);
  EXPECT_EQ(b.psnr, best);
  EXPECT_EQ(b.theta, thetas[std::size_t(argmax)]);
  t.use_best_model();
  EXPECT_EQ(tv->params_host(), thetas[std::size_t(argmax)]);
}

TEST(Validation, BestModelSurvivesACheckpointAndLoadModelAppliesIt) {
  TempDir dir;
  ValidatedRun run;
  // Uninterrupted: 8 steps.
  auto ta = ValidatedRun::make_tv();
  Trainer<double> a(DefaultExecSpace(), *ta, run.train, nullptr, run.opt);
  a.set_validation(run.val);
  for (int k = 0; k < 8; ++k) a.step();
  // 4 steps, a checkpoint, 4 more in a fresh trainer.
  {
    auto tb = ValidatedRun::make_tv();
    Trainer<double> b(DefaultExecSpace(), *tb, run.train, nullptr, run.opt);
    b.set_validation(run.val);
    for (int k = 0; k < 4; ++k) b.step();
    ASSERT_GE(b.best_model().step, 0);
    b.save_checkpoint(dir.path("run.h5"));
  }
  auto tc = ValidatedRun::make_tv();
  Trainer<double> c(DefaultExecSpace(), *tc, run.train, nullptr, run.opt);
  c.set_validation(run.val);
  c.load_checkpoint(dir.path("run.h5"));
  EXPECT_GE(c.best_model().step, 0);
  for (int k = 0; k < 4; ++k) c.step();
  EXPECT_EQ(tc->params_host(), ta->params_host());
  EXPECT_EQ(c.best_model().step, a.best_model().step);
  EXPECT_EQ(c.best_model().psnr, a.best_model().psnr);
  EXPECT_EQ(c.best_model().theta, a.best_model().theta);

  // load_model: the best parameters by default, the last iterate on request.
  c.save_checkpoint(dir.path("end.h5"));
  EXPECT_EQ(best_model_step(dir.path("end.h5")), a.best_model().step);
  const auto best = load_model<double>(DefaultExecSpace(), dir.path("end.h5"));
  const auto last = load_model<double>(DefaultExecSpace(), dir.path("end.h5"), ModelChoice::last);
  EXPECT_EQ(best->params_host(), a.best_model().theta);
  EXPECT_EQ(last->params_host(), tc->params_host());
}

TEST(Validation, RunsWithoutValidationKeepNoBestModel) {
  TempDir dir;
  ValidatedRun run;
  auto tv = ValidatedRun::make_tv();
  Trainer<double> t(DefaultExecSpace(), *tv, run.train, nullptr, run.opt);
  for (int k = 0; k < 3; ++k) EXPECT_TRUE(std::isnan(t.step().validation_psnr));
  EXPECT_EQ(t.best_model().step, -1);
  const auto before = tv->params_host();
  t.use_best_model();  // nothing to apply
  EXPECT_EQ(tv->params_host(), before);
  t.save_checkpoint(dir.path("run.h5"));
  EXPECT_EQ(best_model_step(dir.path("run.h5")), -1);
  EXPECT_EQ(load_model<double>(DefaultExecSpace(), dir.path("run.h5"))->params_host(), before);
}

TEST(Validation, RefusesImagesOfAnotherChannelCount) {
  ValidatedRun run;
  auto tv = ValidatedRun::make_tv();
  Trainer<double> t(DefaultExecSpace(), *tv, run.train, nullptr, run.opt);
  TaskData<double> colour(DefaultExecSpace(), run.task, random_images<double>({2, 3, 8, 8}, 4));
  expect_error([&] { t.set_validation(colour); }, "validation images have 3 channels");
}

}  // namespace
}  // namespace bilevel::test
