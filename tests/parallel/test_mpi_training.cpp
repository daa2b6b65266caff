// Data-parallel training over MPI_COMM_WORLD against one process (run with 2 and 4 ranks):
// the hypergradient, training, test evaluation and checkpoints give the same bits as a
// single-process run that sums its samples in the same order (ordered_sample_sum).
#include <unistd.h>

#include <bilevel/core/noise.hpp>
#include <bilevel/operators/identity.hpp>
#include <bilevel/parallel/communicator.hpp>
#include <bilevel/regularizers/crr.hpp>
#include <bilevel/regularizers/foe.hpp>
#include <bilevel/solvers/hypergradient.hpp>
#include <bilevel/train/trainer.hpp>
#include <filesystem>
#include <memory>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

Communicator world() { return Communicator(MPI_COMM_WORLD); }

/// A folder every rank names alike (rank 0's PID), removed at the end.
struct SharedDir {
  std::string path;
  SharedDir() {
    long pid = long(getpid());
    world().broadcast_bytes(&pid, sizeof pid, 0);
    path = "/tmp/bilevel-mpi-test-" + std::to_string(pid);
    if (world().is_root()) std::filesystem::create_directories(path);
    world().barrier();
  }
  ~SharedDir() {
    world().barrier();
    if (world().is_root()) std::filesystem::remove_all(path);
  }
};

TEST(Mpi, CollectivesGatherInRankOrder) {
  const auto c = world();
  ASSERT_TRUE(c.distributed());
  std::vector<int> mine(std::size_t(c.rank() + 1), c.rank());
  const auto all = c.allgather(mine);
  std::vector<int> want;
  for (int r = 0; r < c.size(); ++r) want.insert(want.end(), std::size_t(r + 1), r);
  EXPECT_EQ(all, want);
  EXPECT_EQ(c.sum(std::int64_t(c.rank())), std::int64_t(c.size() * (c.size() - 1) / 2));
  EXPECT_EQ(c.max(double(c.rank())), c.size() - 1);
  EXPECT_EQ(c.min(double(c.rank())), 0);
  EXPECT_TRUE(c.any(c.rank() == c.size() - 1));
  EXPECT_FALSE(c.any(false));
  double v = c.rank() == c.size() - 1 ? 42.5 : 0;
  c.broadcast_bytes(&v, sizeof v, c.size() - 1);
  EXPECT_EQ(v, 42.5);
}

// The hypergradient of a batch split over the ranks (contiguously, and by a balanced
// partition) equals the whole batch's on one process, bit for bit.
template <class S>
void check_hypergradient(Regularizer<S>& reg) {
  const auto c = world();
  const Shape s{5, reg.channels(), 10, 10};
  auto clean = random_images<S>(s, 7);
  auto y = make_images<S>("y", s);
  add_gaussian_noise(DefaultExecSpace(), clean, 0.1, 8, y);
  IdentityOperator<S> id;
  HypergradientOptions o;
  o.ordered_sample_sum = true;
  HypergradientSolver<S> one(o);
  LowerLevelProblem<S> h(id, reg, y);
  auto x = make_images<S>("x", s), q = make_images<S>("q", s);
  Kokkos::deep_copy(x, y);
  Kokkos::deep_copy(q, S(0));
  const auto ref = one.compute(DefaultExecSpace(), h, clean, x, q, 1e-3, 1e-3);
  for (const auto& part : {SamplePartition::contiguous(s.n, c.size()),
                           SamplePartition::balanced({1, 5, 2, 8, 3}, c.size())}) {
    const auto& mine = part.positions(c.rank());
    const Shape ls{int(mine.size()), s.c, s.h, s.w};
    auto lc = make_images<S>("lc", ls), ly = make_images<S>("ly", ls);
    auto lx = make_images<S>("lx", ls), lq = make_images<S>("lq", ls);
    for (std::size_t k = 0; k < mine.size(); ++k) {
      const auto at = [](const auto& v, int i) {
        return Kokkos::subview(v, std::make_pair(i, i + 1), Kokkos::ALL, Kokkos::ALL, Kokkos::ALL);
      };
      Kokkos::deep_copy(at(lc, int(k)), at(clean, mine[k]));
      Kokkos::deep_copy(at(ly, int(k)), at(y, mine[k]));
    }
    Kokkos::deep_copy(lx, ly);
    Kokkos::deep_copy(lq, S(0));
    HypergradientSolver<S> many;
    many.set_distribution(c, part);
    LowerLevelProblem<S> lh(id, reg, ly);
    const auto r = many.compute(DefaultExecSpace(), lh, lc, lx, lq, 1e-3, 1e-3);
    EXPECT_EQ(impl::to_vector(r.z), impl::to_vector(ref.z)) << reg.name();
    EXPECT_EQ(r.loss, ref.loss);
    EXPECT_EQ(r.sample_losses, ref.sample_losses);
    EXPECT_EQ(r.lower.iterations, ref.lower.iterations);
    EXPECT_EQ(r.linear.residual_norms, ref.linear.residual_norms);
    EXPECT_EQ(r.cost(), ref.cost());
    EXPECT_EQ(r.bound, ref.bound);
    EXPECT_EQ(r.jacobian_norm, ref.jacobian_norm);
    EXPECT_GE(r.seconds_idle_max, r.seconds_idle);
  }
}

TEST(Mpi, HypergradientEqualsOneProcessFoeDouble) {
  FieldOfExperts<double> foe(DefaultExecSpace(), 1, 4, 5, 3);
  check_hypergradient(foe);
}

TEST(Mpi, HypergradientEqualsOneProcessCrrFloat) {
  CrrOptions o;
  o.channels = {4, 6};
  o.spectral_size = 10;
  ConvexRidge<float> crr(DefaultExecSpace(), 1, o, 3);
  check_hypergradient(crr);
}

// Training runs: the same theta after k steps on every rank and on one process.
template <class S>
struct TrainingRun {
  Shape s{8, 1, 10, 10};
  TaskData<S> train{DefaultExecSpace(), TaskSpec{TaskKind::denoise, 0.1}, random_images<S>(s, 9)};
  TaskData<S> test{DefaultExecSpace(), TaskSpec{TaskKind::denoise, 0.1},
                   random_images<S>({5, 1, 12, 12}, 10), 1000};
  TrainOptions o;
  TrainingRun(const std::string& method) {
    o.method = method;
    o.batch_size = 4;
    o.schedule.step = {method == "maid" ? 1e-1 : 1e-3, 0.5};
    o.schedule.accuracy = {1e-2, 0.5, AccuracyDecay::polynomial};
    o.constants_interval = 2;
    o.consistency_interval = 1;
    o.test_batch = 2;
    o.test_interval = 3;
    o.hypergradient.ordered_sample_sum = true;
  }
  std::unique_ptr<Regularizer<S>> model() const {
    CrrOptions co;
    co.channels = {4};
    co.spectral_size = 10;
    return std::make_unique<ConvexRidge<S>>(DefaultExecSpace(), 1, co, 5);
  }
};

template <class S>
void check_training(const std::string& method, int steps) {
  TrainingRun<S> run(method);
  run.o.balance = BalanceMode::on;  // balanced splits (mini-batch and full) give the same bits
  auto ra = run.model(), rb = run.model();
  Trainer<S> one(DefaultExecSpace(), *ra, run.train, &run.test, run.o);
  Trainer<S> many(DefaultExecSpace(), *rb, run.train, &run.test, run.o, world());
  for (int k = 0; k < steps; ++k) {
    const auto a = one.step(), b = many.step();
    EXPECT_EQ(a.loss, b.loss) << method << " step " << k;
    EXPECT_EQ(a.step_cost, b.step_cost) << method << " step " << k;
    EXPECT_EQ(a.bound, b.bound) << method << " step " << k;
    if (std::isfinite(a.test_psnr)) {
      EXPECT_EQ(a.test_psnr, b.test_psnr) << method << " step " << k;
    }
  }
  EXPECT_EQ(ra->params_host(), rb->params_host()) << method;
  // On 2 ranks (2 samples each) the balanced split differs from the consecutive one; on 4 each
  // rank holds one sample and no split lowers the largest load.
  if (world().size() == 2) {
    EXPECT_GT(many.load_balance().balanced_steps, 0) << method;
  }
  EXPECT_EQ(one.load_balance().steps, 0) << method;  // one process: nothing to split
  EXPECT_EQ(one.test_psnrs(), many.test_psnrs());
  EXPECT_EQ(impl::to_vector(one.test_reconstructions()),
            impl::to_vector(many.test_reconstructions()));
}

TEST(Mpi, IsgdEqualsOneProcess) { check_training<float>("isgd", 5); }
TEST(Mpi, IadamEqualsOneProcess) { check_training<double>("iadam", 4); }
TEST(Mpi, MaidEqualsOneProcess) { check_training<double>("maid", 3); }

// A checkpoint written by R ranks resumes on one process and vice versa, and the resumed
// runs end where an uninterrupted one does.
TEST(Mpi, CheckpointsResumeOnAnyNumberOfRanks) {
  SharedDir dir;
  TrainingRun<float> run("isgd");
  auto ref_model = run.model();
  Trainer<float> ref(DefaultExecSpace(), *ref_model, run.train, &run.test, run.o);
  for (int k = 0; k < 6; ++k) ref.step();
  {
    auto m = run.model();
    Trainer<float> many(DefaultExecSpace(), *m, run.train, &run.test, run.o, world());
    for (int k = 0; k < 2; ++k) many.step();
    many.save_checkpoint(dir.path + "/many.h5");
  }
  auto m1 = run.model();
  Trainer<float> one(DefaultExecSpace(), *m1, run.train, &run.test, run.o);
  one.load_checkpoint(dir.path + "/many.h5");
  EXPECT_EQ(one.checkpoint_ranks(), world().size());
  for (int k = 0; k < 2; ++k) one.step();
  world().barrier();  // every rank has read many.h5
  if (world().is_root()) one.save_checkpoint(dir.path + "/one.h5");
  world().barrier();
  auto m2 = run.model();
  Trainer<float> again(DefaultExecSpace(), *m2, run.train, &run.test, run.o, world());
  again.load_checkpoint(dir.path + "/one.h5");
  EXPECT_EQ(again.checkpoint_ranks(), 1);
  for (int k = 0; k < 2; ++k) again.step();
  EXPECT_EQ(again.cost(), ref.cost());
  EXPECT_EQ(m2->params_host(), ref_model->params_host());
}

TEST(Mpi, RanksWithDifferentParametersAreDetected) {
  TrainingRun<double> run("isgd");
  CrrOptions co;
  co.channels = {4};
  co.spectral_size = 10;
  ConvexRidge<double> m(DefaultExecSpace(), 1, co, 5 + std::uint64_t(world().rank()));
  Trainer<double> t(DefaultExecSpace(), m, run.train, nullptr, run.o, world());
  EXPECT_THROW(t.check_consistency(), Error);
}

TEST(Mpi, BatchesSmallerThanTheRanksAreRefused) {
  TrainingRun<double> run("isgd");
  run.o.batch_size = world().size() - 1;
  auto m = run.model();
  EXPECT_THROW(Trainer<double>(DefaultExecSpace(), *m, run.train, nullptr, run.o, world()), Error);
}

}  // namespace
}  // namespace bilevel::test
