// Every kernel the library launches and every View it allocates carries a "bilevel::" label,
// and the solver phases are Kokkos::Profiling regions: checked with Kokkos Tools callbacks
// (as ArborX does) over a workload that touches every part of the library: the four
// regularizers' hypergradients with error bounds, the three forward operators, ISGD, IAdam,
// HOAG and MAID steps with test evaluation, and a checkpoint round trip.

#include <bilevel/core/metrics.hpp>
#include <bilevel/core/noise.hpp>
#include <bilevel/operators/blur.hpp>
#include <bilevel/operators/mask.hpp>
#include <bilevel/regularizers/crr.hpp>
#include <bilevel/regularizers/foe.hpp>
#include <bilevel/regularizers/icnn.hpp>
#include <bilevel/regularizers/tv.hpp>
#include <bilevel/solvers/hypergradient.hpp>
#include <bilevel/train/trainer.hpp>
#include <mutex>
#include <regex>
#include <set>

#include "../test_utils.hpp"

namespace bilevel::test {
namespace {

/// What the callbacks saw while a Recording was alive.
struct Seen {
  std::set<std::string> kernels, allocations, regions;
};

Seen& seen() {
  static Seen s;
  return s;
}
std::mutex& seen_mutex() {
  static std::mutex m;
  return m;
}

void kernel(const char* name, std::uint32_t, std::uint64_t* id) {
  *id = 0;
  std::lock_guard<std::mutex> lock(seen_mutex());
  seen().kernels.insert(name);
}
void allocation(Kokkos::Profiling::SpaceHandle, const char* label, const void*, std::uint64_t) {
  std::lock_guard<std::mutex> lock(seen_mutex());
  seen().allocations.insert(label);
}
void region(const char* name) {
  std::lock_guard<std::mutex> lock(seen_mutex());
  seen().regions.insert(name);
}

/// Installs the callbacks for its lifetime.
class Recording {
 public:
  Recording() {
    namespace T = Kokkos::Tools::Experimental;
    seen() = Seen{};
    T::set_begin_parallel_for_callback(kernel);
    T::set_begin_parallel_reduce_callback(kernel);
    T::set_begin_parallel_scan_callback(kernel);
    T::set_allocate_data_callback(allocation);
    T::set_push_region_callback(region);
  }
  ~Recording() {
    namespace T = Kokkos::Tools::Experimental;
    T::set_begin_parallel_for_callback(nullptr);
    T::set_begin_parallel_reduce_callback(nullptr);
    T::set_begin_parallel_scan_callback(nullptr);
    T::set_allocate_data_callback(nullptr);
    T::set_push_region_callback(nullptr);
  }
};

template <class S>
void hypergradient(Regularizer<S>& reg, const ForwardOperator<S>& op, const Images<S>& clean,
                   const Images<S>& y) {
  const DefaultExecSpace space;
  LowerLevelProblem<S> h(op, reg, y, 1e-6);
  auto x = make_images<S>("bilevel::test::x", shape_of(y));
  auto q = make_images<S>("bilevel::test::q", shape_of(y));
  Kokkos::deep_copy(space, x, y);
  Kokkos::deep_copy(space, q, S(0));
  HypergradientSolver<S> solver;
  solver.compute(space, h, clean, x, q, 1e-2, 1e-2);
}

template <class S>
void train(Regularizer<S>& reg, const std::string& method, const TaskData<S>& data,
           const TaskData<S>& test, const std::string& checkpoint) {
  TrainOptions o;
  o.method = method;
  o.batch_size = 2;
  o.test_interval = 2;
  o.test_eps = 1e-2;
  o.constants_interval = 2;  // estimated at step 0: the constants' kernels are seen once
  Trainer<S> t(DefaultExecSpace(), reg, data, &test, o);
  t.step();
  t.step();
  t.save_checkpoint(checkpoint);
  t.load_checkpoint(checkpoint);
}

template <class S>
void workload() {
  const DefaultExecSpace space;
  const Shape s{2, 3, 12, 12};
  const auto clean = random_images<S>(s, 1);
  auto y = make_images<S>("bilevel::test::y", s);
  TempDir dir;
  Recording on;
  add_gaussian_noise(space, clean, 0.1, 2, y);
  psnr_host(space, y, clean);
  SmoothedTV<S> tv(space, 3);
  CrrOptions co;
  co.spectral_size = 12;
  co.spectral_max_iterations = 60;  // labels, not accuracy: keep the Lanczos runs short
  ConvexRidge<S> crr(space, 3, co, 1);
  FieldOfExperts<S> foe(space, 3, 3, 5, 2);
  IcnnOptions io;
  io.hidden = 4;
  InputConvexNet<S> icnn(space, 3, io, 3);
  const IdentityOperator<S> id;
  const BlurOperator<S> blur(space);
  const auto mask = MaskOperator<S>::bernoulli(space, s, 0.5, 4, 0);
  for (Regularizer<S>* r : std::vector<Regularizer<S>*>{&tv, &crr, &foe, &icnn})
    hypergradient(*r, id, clean, y);
  hypergradient<S>(tv, blur, clean, y);
  hypergradient<S>(tv, mask, clean, y);
  const TaskData<S> data(space, TaskSpec::defaults(TaskKind::denoise), clean);
  const TaskData<S> test(space, data.task(), clean, 100);
  const TaskData<S> inpaint(space, TaskSpec::defaults(TaskKind::inpaint), clean);
  const TaskData<S> deblur(space, TaskSpec::defaults(TaskKind::deblur), clean);
  train(crr, "isgd", data, test, dir.path("crr.h5"));
  train(foe, "iadam", inpaint, inpaint, dir.path("foe.h5"));
  train(tv, "hoag", deblur, deblur, dir.path("tv.h5"));
  train(tv, "maid", data, test, dir.path("maid.h5"));
}

// Kokkos' own kernels on a View (its initialisation and destruction carry the View's label)
// and the generic fills and copies of Kokkos::deep_copy.
const std::regex kernel_label(
    R"(^bilevel::.+|^Kokkos::View::(initialization|destruction) \[bilevel::.+\].*)"
    R"(|^Kokkos::View(Fill|Copy).*|^Kokkos::Impl::host_space_deepcopy.*)");

void foreign_allocation_and_kernel() {
  Kokkos::View<double*> v("foreign", 4);
  Kokkos::parallel_for(
      "foreign::kernel", Kokkos::RangePolicy<>(0, 4), KOKKOS_LAMBDA(int i) { v(i) = i; });
  Kokkos::fence();
}

TEST(KokkosTools, CallbacksSeeWhatTheyCheck) {
  // The check below is only worth something if the callbacks fire: a foreign label must show.
  Recording on;
  foreign_allocation_and_kernel();
  EXPECT_EQ(seen().allocations.count("foreign"), 1u);
  EXPECT_EQ(seen().kernels.count("foreign::kernel"), 1u);
  EXPECT_FALSE(std::regex_match(std::string("foreign::kernel"), kernel_label));
}

TEST(KokkosTools, EveryKernelAndAllocationIsLabelled) {
  workload<float>();
  workload<double>();
  const Seen s = seen();
  std::printf("%zu kernel names, %zu allocation labels, %zu regions\n", s.kernels.size(),
              s.allocations.size(), s.regions.size());
  EXPECT_GT(s.kernels.size(), 100u);
  EXPECT_GT(s.allocations.size(), 50u);
  for (const auto& k : s.kernels)
    EXPECT_TRUE(std::regex_match(k, kernel_label)) << "kernel without a bilevel:: label: " << k;
  for (const auto& a : s.allocations)
    EXPECT_EQ(a.rfind("bilevel::", 0), 0u) << "allocation without a bilevel:: label: " << a;
  for (const char* r : {"bilevel::nmapg", "bilevel::cg", "bilevel::hypergradient",
                        "bilevel::hypergradient::mixed_product", "bilevel::hypergradient::bound",
                        "bilevel::crr::spectral_norm", "bilevel::trainer::step",
                        "bilevel::trainer::test_evaluation", "bilevel::trainer::checkpoint"})
    EXPECT_EQ(s.regions.count(r), 1u) << "no profiling region " << r;
}

}  // namespace
}  // namespace bilevel::test
