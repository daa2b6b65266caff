#include <bilevel/regularizers/crr.hpp>
#include <bilevel/regularizers/foe.hpp>
#include <bilevel/regularizers/tv.hpp>
#include <bilevel/train/trainer.hpp>
#include <fstream>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

template <class S, class Make>
void check_resume(Make make_reg, Algorithm algorithm, const std::string& what) {
  TempDir dir;
  const Shape s{6, 1, 8, 8};
  auto clean = random_images<S>(s, 21);
  TaskData<S> train(DefaultExecSpace(), TaskSpec{TaskKind::denoise, 0.1}, clean);
  TrainOptions o;
  o.algorithm = algorithm;
  o.batch_size = 2;
  o.step = {algorithm == Algorithm::iadam ? 1e-2 : 1e-3, 0.5};
  o.accuracy = {1e-2, 0.5, AccuracyDecay::polynomial};
  // Uninterrupted: 6 steps.
  auto ra = make_reg();
  Trainer<S> a(DefaultExecSpace(), *ra, train, nullptr, o);
  for (int k = 0; k < 6; ++k) a.step();
  // Interrupted after 3 steps, resumed in a fresh trainer with a freshly built regularizer.
  auto rb = make_reg();
  {
    Trainer<S> b(DefaultExecSpace(), *rb, train, nullptr, o);
    for (int k = 0; k < 3; ++k) b.step();
    b.save_checkpoint(dir.path("run.h5"));
  }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"run.h5"});  // no temporary left behind
  auto rc = make_reg();
  Trainer<S> c(DefaultExecSpace(), *rc, train, nullptr, o);
  c.load_checkpoint(dir.path("run.h5"));
  EXPECT_EQ(c.iteration(), 3);
  for (int k = 0; k < 3; ++k) c.step();
  EXPECT_EQ(c.cost(), a.cost()) << what;
  EXPECT_EQ(rc->params_host(), ra->params_host()) << what << ": resumed parameters differ";
}

TEST(Checkpoint, ResumeIsBitIdenticalFoeIsgd) {
  check_resume<double>(
      [] { return std::make_unique<FieldOfExperts<double>>(DefaultExecSpace(), 1, 3, 5, 4); },
      Algorithm::isgd, "foe/isgd");
}

TEST(Checkpoint, ResumeIsBitIdenticalCrrIadamFloat) {
  CrrOptions co;
  co.spectral_size = 8;
  check_resume<float>(
      [co] { return std::make_unique<ConvexRidge<float>>(DefaultExecSpace(), 1, co, 5); },
      Algorithm::iadam, "crr/iadam/float");
}

TEST(Checkpoint, MismatchedAndCorruptCheckpointsAreRefused) {
  TempDir dir;
  const Shape s{4, 1, 8, 8};
  TaskData<double> train(DefaultExecSpace(), TaskSpec{TaskKind::denoise, 0.1},
                         random_images<double>(s, 1));
  TrainOptions o;
  o.batch_size = 2;
  FieldOfExperts<double> foe(DefaultExecSpace(), 1, 3, 5, 4);
  Trainer<double> t(DefaultExecSpace(), foe, train, nullptr, o);
  t.step();
  t.save_checkpoint(dir.path("foe.h5"));
  SmoothedTV<double> tv(DefaultExecSpace(), 1);
  Trainer<double> other(DefaultExecSpace(), tv, train, nullptr, o);
  expect_error([&] { other.load_checkpoint(dir.path("foe.h5")); },
               "is for regularizer 'foe', this run uses 'tv'");
  FieldOfExperts<double> bigger(DefaultExecSpace(), 1, 4, 5, 4);
  Trainer<double> shape(DefaultExecSpace(), bigger, train, nullptr, o);
  expect_error([&] { shape.load_checkpoint(dir.path("foe.h5")); }, "is for blocks");
  FieldOfExperts<float> single(DefaultExecSpace(), 1, 3, 5, 4);
  TaskData<float> train_f(DefaultExecSpace(), TaskSpec{TaskKind::denoise, 0.1},
                          random_images<float>(s, 1));
  Trainer<float> precision(DefaultExecSpace(), single, train_f, nullptr, o);
  expect_error([&] { precision.load_checkpoint(dir.path("foe.h5")); }, "is for scalar 'double'");
  std::ofstream(dir.path("junk.h5")) << "not a checkpoint";
  expect_error([&] { t.load_checkpoint(dir.path("junk.h5")); },
               "junk.h5': missing or not an HDF5 file");
  expect_error([&] { t.load_checkpoint(dir.path("none.h5")); },
               "none.h5': missing or not an HDF5 file");
  expect_error([&] { t.save_checkpoint(dir.path("no/such/dir.h5")); }, "does not exist");
}

}  // namespace
}  // namespace bilevel::test
