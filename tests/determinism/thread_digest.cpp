// Prints a digest of everything whose bits must not depend on the thread count: batched BLAS-1
// reductions, PSNR, Gaussian noise, one full hypergradient per regularizer (nmAPG + CG + mixed
// product, with the error bound) and three ISGD steps of a CRR (with test PSNR). Each line is
// "name fnv1a-64-of-the-bits first-value". thread_count_equality.cmake runs this program at
// several OMP_NUM_THREADS and requires identical output.

#include <bilevel/core/blas1.hpp>
#include <bilevel/core/metrics.hpp>
#include <bilevel/core/noise.hpp>
#include <bilevel/operators/identity.hpp>
#include <bilevel/regularizers/crr.hpp>
#include <bilevel/regularizers/foe.hpp>
#include <bilevel/regularizers/icnn.hpp>
#include <bilevel/regularizers/tv.hpp>
#include <bilevel/solvers/hypergradient.hpp>
#include <bilevel/train/trainer.hpp>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {
using namespace bilevel;

FILE* out = stdout;

template <class T>
void record(const std::string& name, const std::vector<T>& v) {
  std::uint64_t h = 1469598103934665603ull;
  for (const T& x : v) {
    unsigned char b[sizeof(T)];
    std::memcpy(b, &x, sizeof(T));
    for (unsigned char c : b) h = (h ^ c) * 1099511628211ull;
  }
  std::fprintf(out, "%-40s %016" PRIx64 " %.17g (%zu values)\n", name.c_str(), h,
               v.empty() ? 0.0 : double(v[0]), v.size());
}

template <class View>
std::vector<typename View::non_const_value_type> bits(const View& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<typename View::non_const_value_type>(h.data(), h.data() + h.span());
}

template <class S>
Images<S> uniform(const Shape& s, unsigned seed) {
  auto x = make_images<S>("digest::uniform", s);
  auto h = Kokkos::create_mirror_view(x);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (std::size_t k = 0; k < h.span(); ++k) h.data()[k] = S(u(gen));
  Kokkos::deep_copy(x, h);
  return x;
}

template <class S>
void blas1_and_metrics(const std::string& t) {
  DefaultExecSpace space;
  const Shape s{8, 3, 64, 64};  // the ISGD batch: several host blocks per sample
  auto x = uniform<S>(s, 1), y = uniform<S>(s, 2), noisy = make_images<S>("digest::noisy", s);
  PerSample<double> r("digest::r", s.n);
  dot(space, x, y, r);
  record(t + "dot", bits(r));
  squared_distance(space, x, y, r);
  record(t + "squared_distance", bits(r));
  axpby_norm2(space, S(0.3), x, S(-0.7), y, r);
  record(t + "axpby_norm2", bits(r));
  record(t + "axpby_norm2.y", bits(y));
  add_gaussian_noise(space, x, 25.0 / 255, 7, noisy);
  record(t + "noise", bits(noisy));
  record(t + "psnr", psnr_host(space, noisy, x));
}

template <class S>
void hypergradient(const std::string& t, Regularizer<S>& reg, const Shape& s) {
  DefaultExecSpace space;
  auto clean = uniform<S>(s, 3), y = make_images<S>("digest::y", s);
  add_gaussian_noise(space, clean, 0.1, 4, y);
  IdentityOperator<S> id;
  LowerLevelProblem<S> h(id, reg, y);
  auto x = make_images<S>("digest::x", s), q = make_images<S>("digest::q", s);
  Kokkos::deep_copy(x, y);
  Kokkos::deep_copy(q, S(0));
  HypergradientSolver<S> solver;  // with the error bound and its constants
  const auto r = solver.compute(space, h, clean, x, q, 1e-3, 1e-3);
  record(t + reg.name() + ".z", bits(r.z));
  record(t + reg.name() + ".x", bits(x));
  record(t + reg.name() + ".q", bits(q));
  record(t + reg.name() + ".loss_bound_cost",
         std::vector<double>{r.loss, r.bound, double(r.cost()), r.jacobian_norm});
}

template <class S>
void all_regularizers(const std::string& t) {
  DefaultExecSpace space;
  const Shape s{3, 3, 24, 24};
  SmoothedTV<S> tv(space, 3);
  hypergradient(t, tv, s);
  FieldOfExperts<S> foe(space, 3, 4, 5, 1);
  hypergradient(t, foe, s);
  CrrOptions co;
  co.spectral_size = 24;
  co.initial_scale = 0.05;
  ConvexRidge<S> crr(space, 3, co, 2);
  hypergradient(t, crr, s);
  IcnnOptions io;
  io.hidden = 6;
  io.initial_scale = 0.01;
  InputConvexNet<S> icnn(space, 3, io, 3);
  hypergradient(t, icnn, s);
}

template <class S>
void isgd_steps(const std::string& t) {
  DefaultExecSpace space;
  TaskData<S> train(space, TaskSpec::defaults(TaskKind::denoise), uniform<S>({6, 3, 32, 32}, 5));
  TaskData<S> test(space, train.task(), uniform<S>({2, 3, 32, 32}, 6), 1000);
  CrrOptions co;
  co.spectral_size = 32;
  co.initial_scale = 0.05;
  co.beta = 1000;
  ConvexRidge<S> crr(space, 3, co, 4);
  TrainOptions o;
  o.batch_size = 3;
  o.schedule.step = {2e-2, 0};
  o.test_interval = 3;
  o.test_eps = 1e-2;
  Trainer<S> trainer(space, crr, train, &test, o);
  std::vector<double> records;
  for (int k = 0; k < 3; ++k) {
    const StepRecord r = trainer.step();
    records.insert(records.end(), {r.loss, r.z_norm, r.bound, double(r.cost), r.test_psnr});
  }
  record(t + "isgd.records", records);
  record(t + "isgd.theta", crr.params_host());
}

template <class S>
void run(const std::string& t) {
  blas1_and_metrics<S>(t);
  all_regularizers<S>(t);
  isgd_steps<S>(t);
}
}  // namespace

int main(int argc, char** argv) {
  Kokkos::ScopeGuard guard(argc, argv);
  if (argc > 1) out = std::fopen(argv[1], "w");
  if (!out) {
    std::fprintf(stderr, "thread_digest: cannot write %s\n", argv[1]);
    return 1;
  }
  std::fprintf(out, "# %s\n", Kokkos::DefaultExecutionSpace::name());
  run<float>("float.");
  run<double>("double.");
  return std::fclose(out) == 0 ? 0 : 1;
}
