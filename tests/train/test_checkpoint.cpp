#include <bilevel/io/hdf5_file.hpp>
#include <bilevel/regularizers/crr.hpp>
#include <bilevel/regularizers/foe.hpp>
#include <bilevel/regularizers/tv.hpp>
#include <bilevel/train/trainer.hpp>
#include <fstream>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

template <class S, class Make>
void check_resume(Make make_reg, const std::string& method, const std::string& what) {
  TempDir dir;
  const Shape s{6, 1, 8, 8};
  auto clean = random_images<S>(s, 21);
  TaskData<S> train(DefaultExecSpace(), TaskSpec{TaskKind::denoise, 0.1}, clean);
  TrainOptions o;
  o.method = method;
  o.batch_size = 2;
  o.schedule.step = {method == "iadam" ? 1e-2 : 1e-3, 0.5};
  o.schedule.accuracy = {1e-2, 0.5, AccuracyDecay::polynomial};
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
      "isgd", "foe/isgd");
}

TEST(Checkpoint, ResumeIsBitIdenticalCrrIadamFloat) {
  CrrOptions co;
  co.spectral_size = 8;
  check_resume<float>(
      [co] { return std::make_unique<ConvexRidge<float>>(DefaultExecSpace(), 1, co, 5); }, "iadam",
      "crr/iadam/float");
}

// Checkpoints of format 1 (written by the Trainer before the methods became objects, at step
// 3 of a CRR run in float, tests/train/data) still resume: three more steps reach the
// parameters the old code reached (stored beside each checkpoint). On the machine that wrote
// them the match is exact; elsewhere another CPU may round the first three steps differently.
TEST(Checkpoint, FormatOneCheckpointsStillResume) {
  for (const std::string method : {"iadam", "maid", "hoag"}) {
    const std::string file = std::string(BILEVEL_TEST_DATA_DIR) + "/checkpoint-1-crr-" + method;
    const Shape s{6, 1, 8, 8};
    TaskData<float> train(DefaultExecSpace(), TaskSpec{TaskKind::denoise, 0.1},
                          random_images<float>(s, 21));
    TaskData<float> test(DefaultExecSpace(), TaskSpec{TaskKind::denoise, 0.1},
                         random_images<float>({2, 1, 8, 8}, 22), 1000);
    TrainOptions o;
    o.method = method;
    o.batch_size = 2;
    o.schedule.step = {method == "iadam" ? 1e-2 : 1e-3, 0.5};
    o.schedule.accuracy = {1e-2, 0.5, AccuracyDecay::polynomial};
    o.test_interval = 2;
    o.test_eps = 1e-2;
    CrrOptions co;
    co.spectral_size = 8;
    ConvexRidge<float> crr(DefaultExecSpace(), 1, co, 5);
    Trainer<float> t(DefaultExecSpace(), crr, train, &test, o);
    t.load_checkpoint(file + ".h5");
    EXPECT_EQ(t.iteration(), 3) << method;
    EXPECT_EQ(t.test_reconstructions().extent(0), 2u) << method;
    for (int k = 0; k < 3; ++k) t.step();
    io::Hdf5File after(file + ".after6.h5", io::Hdf5File::Mode::read);
    const auto want = after.read_floats("theta");
    const auto got = crr.params_host();
    ASSERT_EQ(got.size(), want.size());
    double err = 0, norm = 0;
    for (std::size_t k = 0; k < got.size(); ++k) {
      err = std::max(err, std::abs(double(got[k]) - double(want[k])));
      norm = std::max(norm, std::abs(double(want[k])));
    }
    std::printf("format 1 %s: max |theta - old code's| = %.3e (|theta| %.3e), cost %ld vs %ld\n",
                method.c_str(), err, norm, t.cost(), long(after.read_ints("cost")[0]));
    EXPECT_LE(err, 1e-4 * norm) << method;
    EXPECT_NEAR(double(t.cost()), double(after.read_ints("cost")[0]), 0.05 * t.cost()) << method;
  }
  // The method is checked by name in format 1 too.
  const Shape s{6, 1, 8, 8};
  TaskData<float> train(DefaultExecSpace(), TaskSpec{TaskKind::denoise, 0.1},
                        random_images<float>(s, 21));
  CrrOptions co;
  co.spectral_size = 8;
  ConvexRidge<float> crr(DefaultExecSpace(), 1, co, 5);
  TrainOptions isgd_options;
  isgd_options.batch_size = 2;
  Trainer<float> isgd(DefaultExecSpace(), crr, train, nullptr, isgd_options);
  expect_error(
      [&] {
        isgd.load_checkpoint(std::string(BILEVEL_TEST_DATA_DIR) + "/checkpoint-1-crr-maid.h5");
      },
      "is for method 'maid', this run uses 'isgd'");
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
  // Another sampling seed, noise level or task is another run.
  TrainOptions seeded = o;
  seeded.seed = 7;
  FieldOfExperts<double> foe2(DefaultExecSpace(), 1, 3, 5, 4);
  Trainer<double> reseeded(DefaultExecSpace(), foe2, train, nullptr, seeded);
  expect_error([&] { reseeded.load_checkpoint(dir.path("foe.h5")); },
               "is for sampling_seed '0', this run uses '7'");
  TaskData<double> noisier(DefaultExecSpace(), TaskSpec{TaskKind::denoise, 0.2},
                           random_images<double>(s, 1));
  Trainer<double> sigma(DefaultExecSpace(), foe2, noisier, nullptr, o);
  expect_error([&] { sigma.load_checkpoint(dir.path("foe.h5")); },
               "is for task_settings 'denoise sigma=0.10000000000000001");
  TaskData<double> deblur(DefaultExecSpace(), TaskSpec::defaults(TaskKind::deblur),
                          random_images<double>(s, 1));
  Trainer<double> task(DefaultExecSpace(), foe2, deblur, nullptr, o);
  expect_error([&] { task.load_checkpoint(dir.path("foe.h5")); },
               "is for task 'denoise', this run uses 'deblur'");
  std::ofstream(dir.path("junk.h5")) << "not a checkpoint";
  expect_error([&] { t.load_checkpoint(dir.path("junk.h5")); },
               "junk.h5': missing or not an HDF5 file");
  expect_error([&] { t.load_checkpoint(dir.path("none.h5")); },
               "none.h5': missing or not an HDF5 file");
  expect_error([&] { t.save_checkpoint(dir.path("no/such/dir.h5")); }, "does not exist");
}

}  // namespace
}  // namespace bilevel::test
