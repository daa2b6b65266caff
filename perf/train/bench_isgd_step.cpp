// One ISGD step of CRR denoising at the paper's sizes (batch 8 of 3 x 64 x 64 crops,
// sigma = 25/255, eps = delta = 1e-2): wall time split into lower level, CG and mixed product,
// and cost units (nmAPG + CG iterations) per second. The training set has exactly one batch,
// so after the first (cold) step every step is warm-started, as in a long run; the reported
// numbers average two steps, the first of which is cold. /small: 1 x 3 x 16 x 16 smoke run.

#include <bilevel/regularizers/crr.hpp>
#include <bilevel/train/trainer.hpp>

#include "../bench_util.hpp"

namespace bilevel::bench {
namespace {

template <class S>
void isgd_step(benchmark::State& state, Shape s) {
  auto clean = make_images<S>("bench::clean", s);
  auto h = Kokkos::create_mirror_view(clean);
  for (std::size_t k = 0; k < h.span(); ++k)
    h.data()[k] = S(0.5 + 0.3 * std::sin(0.05 * double(k)));
  Kokkos::deep_copy(clean, h);
  TaskData<S> data(DefaultExecSpace(), TaskSpec{TaskKind::denoise, 25.0 / 255}, clean);
  CrrOptions co;
  co.spectral_size = s.h;
  ConvexRidge<S> crr(DefaultExecSpace(), s.c, co);
  TrainOptions o;
  o.batch_size = s.n;
  o.schedule.step = {1e-2, 0};
  o.schedule.accuracy = {1e-2, 0, AccuracyDecay::polynomial};
  o.report_bound = false;  // the split below is the hypergradient itself
  Trainer<S> trainer(DefaultExecSpace(), crr, data, nullptr, o);
  double lower = 0, linear = 0, mixed = 0;
  long cost = 0;
  for (auto _ : state) {
    const auto r = trainer.step();
    cost += r.step_cost;
    lower += trainer.last_hypergradient_seconds()[0];
    linear += trainer.last_hypergradient_seconds()[1];
    mixed += trainer.last_hypergradient_seconds()[2];
  }
  const double n = double(state.iterations());
  state.counters["lower_s"] = lower / n;
  state.counters["cg_s"] = linear / n;
  state.counters["mixed_s"] = mixed / n;
  state.counters["cost"] = double(cost) / n;
  state.counters["cost/s"] = benchmark::Counter(double(cost), benchmark::Counter::kIsRate);
}

const bool registered = [] {
  for (const auto& [size, s] : {std::pair<const char*, Shape>{"batch8x3x64x64", {8, 3, 64, 64}},
                                std::pair<const char*, Shape>{"small", {1, 3, 16, 16}}}) {
    benchmark::RegisterBenchmark((std::string("isgd_step/crr_denoise/float/") + size).c_str(),
                                 [=](benchmark::State& st) { isgd_step<float>(st, s); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Iterations(2);
  }
  return true;
}();

}  // namespace
}  // namespace bilevel::bench
