// Strong scaling of one data-parallel ISGD step (MPI builds; run under mpirun): CRR denoising
// of batches of 8 and 32 crops 3 x 64 x 64 (sigma = 25/255, eps = delta = 1e-2, the library's
// default CRR), the batch split over the ranks. The crops range from smooth (first) to
// textured (last), so their solves differ in cost: /off splits the batch by position, /on by the
// samples' last lower-level + CG iterations, /auto by them while that has saved iterations
// (TrainOptions::balance, LoadBalancer). Every rank runs the same fixed number of steps
// (collectives must stay in step), the time of a step is the slowest rank's, and the work is the
// same at every rank count (the results are bit-identical), so time ratios are speed-ups.
// Counters: the slowest rank's idle time, the cost per step, the slowest rank's iterations per
// step under the splits taken (max_load) and under consecutive splits (consecutive_max_load),
// the steps that took the balanced split, and the bytes each rank sends per step (z rows, warm
// starts, per-sample results). /small: a 2 x 1 x 16 x 16 smoke run.

#include <benchmark/benchmark.h>
#include <mpi.h>

#include <Kokkos_Core.hpp>
#include <bilevel/regularizers/crr.hpp>
#include <bilevel/train/trainer.hpp>
#include <chrono>
#include <cmath>
#include <string>

namespace bilevel::bench {
namespace {

template <class S>
void mpi_step(benchmark::State& state, Shape s, BalanceMode balance) {
  const Communicator comm(MPI_COMM_WORLD);
  auto clean = make_images<S>("bench::clean", s);
  auto h = Kokkos::create_mirror_view(clean);
  const std::size_t per = std::size_t(s.per_sample());
  for (std::size_t k = 0; k < h.span(); ++k) {  // frequency grows with the sample index
    const double f = 0.01 + 0.5 * double(k / per) / s.n;
    h.data()[k] = S(0.5 + 0.3 * std::sin(f * double(k % per)));
  }
  Kokkos::deep_copy(clean, h);
  TaskData<S> data(DefaultExecSpace(), TaskSpec{TaskKind::denoise, 25.0 / 255}, clean);
  CrrOptions co;
  co.spectral_size = std::min(s.h, 64);
  ConvexRidge<S> crr(DefaultExecSpace(), s.c, co);
  TrainOptions o;
  o.batch_size = s.n;
  o.schedule.step = {1e-2, 0};
  o.schedule.accuracy = {1e-2, 0, AccuracyDecay::polynomial};
  o.report_bound = false;
  o.balance = balance;
  Trainer<S> trainer(DefaultExecSpace(), crr, data, nullptr, o, comm);
  double idle = 0;
  long cost = 0;
  for (auto _ : state) {
    comm.barrier();
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = trainer.step();
    const double mine =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(comm.max(mine));
    idle += r.idle_seconds_max;
    cost += r.step_cost;
  }
  const double n = double(state.iterations());
  const double d = double(crr.num_params()), bytes = double(per) * sizeof(S);
  const double share = double(s.n) / comm.size();
  state.counters["ranks"] = comm.size();
  state.counters["idle_max_s"] = idle / n;
  state.counters["cost"] = double(cost) / n;
  const auto& lb = trainer.load_balance();
  state.counters["max_load"] = double(lb.max_load) / n;
  state.counters["consecutive_max_load"] = double(lb.consecutive_max_load) / n;
  state.counters["balanced_steps"] = double(lb.balanced_steps);
  // a rank sends its rows of z (d values per sample) and its x and q (two images per sample)
  state.counters["sent_bytes"] = share * (d * sizeof(S) + 2 * bytes);
}

const bool registered = [] {
  for (const auto& [size, s] : {std::pair<const char*, Shape>{"batch8x3x64x64", {8, 3, 64, 64}},
                                std::pair<const char*, Shape>{"batch32x3x64x64", {32, 3, 64, 64}},
                                std::pair<const char*, Shape>{"small", {2, 1, 16, 16}}})
    for (const auto balance : {BalanceMode::off, BalanceMode::on, BalanceMode::automatic}) {
      const std::string name =
          std::string("mpi_step/crr_denoise/float/") + size + "/" + to_string(balance);
      benchmark::RegisterBenchmark(name.c_str(),
                                   [=](benchmark::State& st) { mpi_step<float>(st, s, balance); })
          ->Unit(benchmark::kMillisecond)
          ->UseManualTime()
          ->Iterations(3);  // fixed: every rank must run the same steps
    }
  return true;
}();

}  // namespace
}  // namespace bilevel::bench

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  {
    Kokkos::ScopeGuard guard(argc, argv);
    benchmark::Initialize(&argc, argv);
    benchmark::AddCustomContext("kokkos_exec_space", Kokkos::DefaultExecutionSpace::name());
    benchmark::AddCustomContext("kokkos_concurrency",
                                std::to_string(Kokkos::DefaultExecutionSpace().concurrency()));
    if (rank == 0) {
      benchmark::RunSpecifiedBenchmarks();
    } else {  // the other ranks run the same benchmarks and report nothing
      struct Silent : benchmark::BenchmarkReporter {
        bool ReportContext(const Context&) override { return true; }
        void ReportRuns(const std::vector<Run>&) override {}
      } silent;
      benchmark::RunSpecifiedBenchmarks(&silent);
    }
    benchmark::Shutdown();
  }
  MPI_Finalize();
  return 0;
}
