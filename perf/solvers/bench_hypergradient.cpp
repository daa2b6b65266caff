// The lower level, the linear solve and a whole hypergradient for CRR denoising at the paper's
// size (batch 8, 3 x 64 x 64, sigma = 25/255): time per nmAPG iteration and per CG iteration
// (counters iterations/s; CG with the prepared Hessian the hypergradient uses, and with plain
// products for comparison), cost units per second of a full hypergradient, and the peak bytes
// of every Kokkos View the hypergradient allocates (regularizer, problem and solver buffers);
// a whole hypergradient at eps = delta = 1e-2 and 1e-3 (the PyTorch anchor's row),
// and the hypergradient with its error bound, whose constants are re-estimated every time.
// /small runs one 1 x 3 x 16 x 16 sample for the CTest smoke run.

#include <bilevel/core/noise.hpp>
#include <bilevel/operators/identity.hpp>
#include <bilevel/regularizers/crr.hpp>
#include <bilevel/solvers/hypergradient.hpp>

#include "../bench_util.hpp"
#include "../memory_tracker.hpp"

namespace bilevel::bench {
namespace {

template <class S>
struct CrrDenoising {
  Images<S> clean, y, x, q;
  IdentityOperator<S> id;
  ConvexRidge<S> crr;
  LowerLevelProblem<S> h;
  explicit CrrDenoising(const Shape& s)
      : CrrDenoising(s, make_images<S>("bench::clean", s), make_images<S>("bench::y", s)) {}
  CrrDenoising(const Shape& s, const Images<S>& c, const Images<S>& m)
      : clean(c),
        y(m),
        x(make_images<S>("bench::x", s)),
        q(make_images<S>("bench::q", s)),
        crr(DefaultExecSpace(), s.c, options(s)),
        h(id, crr, fill(s)) {}
  static CrrOptions options(const Shape& s) {
    CrrOptions o;
    o.spectral_size = s.h;
    return o;
  }
  Images<S>& fill(const Shape& s) {
    // A smooth clean image (a few cosines) plus sigma = 25/255 noise.
    auto h = Kokkos::create_mirror_view(clean);
    for (int n = 0; n < s.n; ++n)
      for (int c = 0; c < s.c; ++c)
        for (int i = 0; i < s.h; ++i)
          for (int j = 0; j < s.w; ++j)
            h(n, c, i, j) =
                S(0.5 + 0.3 * std::cos(0.2 * i + 0.1 * n) * std::cos(0.15 * j + 0.3 * c));
    Kokkos::deep_copy(clean, h);
    add_gaussian_noise(DefaultExecSpace(), clean, 25.0 / 255, 1, y);
    return y;
  }
  void reset() {
    Kokkos::deep_copy(x, y);
    Kokkos::deep_copy(q, S(0));
  }
};

template <class S>
void nmapg_iterations(benchmark::State& state, Shape s) {
  CrrDenoising<S> p(s);
  NmapgOptions o;
  o.max_iterations = 20;
  Nmapg<S> solver(o);
  long iterations = 0;
  for (auto _ : state) {
    state.PauseTiming();
    p.reset();
    state.ResumeTiming();
    iterations += solver.solve(DefaultExecSpace(), p.h, p.x, 1e-30).total_iterations / s.n;
  }
  state.counters["iterations/s"] =
      benchmark::Counter(double(iterations), benchmark::Counter::kIsRate);
}

/// CG on the Hessian at x_eps: `prepared` is what the hypergradient runs (the curvature
/// computed once per solve, converged samples dropped); plain recomputes W x in every product.
template <class S>
void cg_iterations(benchmark::State& state, Shape s, bool prepared) {
  CrrDenoising<S> p(s);
  p.reset();
  Nmapg<S>().solve(DefaultExecSpace(), p.h, p.x, 1e-2);
  auto b = make_images<S>("bench::b", s);
  Kokkos::deep_copy(b, p.x);
  axpby(DefaultExecSpace(), S(-2), p.clean, S(2), b);
  LinearSolverOptions o;
  o.max_iterations = 20;
  BatchedLinearSolver<S> cg(o);
  const auto plain = [&](const DefaultExecSpace& sp, const auto& in, const Images<S>& out) {
    p.h.hessian_vector_product(sp, p.x, in, out);
  };
  long iterations = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Kokkos::deep_copy(p.q, S(0));
    state.ResumeTiming();
    if (prepared) {
      p.h.prepare_hessian(DefaultExecSpace(), p.x);  // once per solve, timed
      iterations +=
          cg.solve(DefaultExecSpace(), p.h.prepared_operator(), b, p.q, 1e-30).total_iterations /
          s.n;
    } else {
      iterations += cg.solve(DefaultExecSpace(), plain, b, p.q, 1e-30).total_iterations / s.n;
    }
  }
  state.counters["iterations/s"] =
      benchmark::Counter(double(iterations), benchmark::Counter::kIsRate);
}

template <class S>
void hypergradient(benchmark::State& state, Shape s, double eps) {
  // The data (clean images, measurements) are the caller's; everything the hypergradient holds
  // (regularizer, problem, solvers, the iterates x and q) is counted.
  auto clean = make_images<S>("bench::clean", s), y = make_images<S>("bench::y", s);
  MemoryTracker::reset_peak();
  long cost = 0;
  {
    CrrDenoising<S> p(s, clean, y);
    HypergradientOptions o;
    o.estimate_bound = false;
    HypergradientSolver<S> solver(o);
    for (auto _ : state) {
      state.PauseTiming();
      p.reset();
      state.ResumeTiming();
      cost += solver.compute(DefaultExecSpace(), p.h, p.clean, p.x, p.q, eps, eps).cost();
    }
  }
  state.counters["cost/s"] = benchmark::Counter(double(cost), benchmark::Counter::kIsRate);
  state.counters["cost"] = benchmark::Counter(double(cost), benchmark::Counter::kAvgIterations);
  state.counters["peak_MiB"] = double(MemoryTracker::peak_since_reset()) / (1024.0 * 1024.0);
}

/// The error bound with its constants re-estimated (the training default): its time per
/// hypergradient (bound_ms, from the solver's fenced lap) and its share of the whole.
template <class S>
void hypergradient_with_bound(benchmark::State& state, Shape s, double eps) {
  CrrDenoising<S> p(s);
  HypergradientSolver<S> solver;  // estimate_bound and refresh_constants on
  double bound = 0, total = 0;
  for (auto _ : state) {
    state.PauseTiming();
    p.reset();
    state.ResumeTiming();
    const auto r = solver.compute(DefaultExecSpace(), p.h, p.clean, p.x, p.q, eps, eps);
    bound += r.seconds_bound;
    total += r.seconds_lower + r.seconds_linear + r.seconds_mixed + r.seconds_bound;
  }
  state.counters["bound_ms"] = benchmark::Counter(1e3 * bound, benchmark::Counter::kAvgIterations);
  state.counters["bound_share"] = total > 0 ? bound / total : 0.0;
}

template <class S>
void register_all(const char* type) {
  for (const auto& [size, s] : {std::pair<const char*, Shape>{"batch8x3x64x64", {8, 3, 64, 64}},
                                std::pair<const char*, Shape>{"small", {1, 3, 16, 16}}}) {
    const std::string t = std::string("/crr_denoise/") + type + "/" + size;
    benchmark::RegisterBenchmark(("nmapg_20_iterations" + t).c_str(),
                                 [=](benchmark::State& st) { nmapg_iterations<S>(st, s); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    for (const bool prepared : {true, false})
      benchmark::RegisterBenchmark(
          ((prepared ? "cg_20_iterations" : "cg_20_iterations_plain_hvp") + t).c_str(),
          [=](benchmark::State& st) { cg_iterations<S>(st, s, prepared); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    for (const auto& [name, eps] : {std::pair<const char*, double>{"eps1e-2", 1e-2},
                                    std::pair<const char*, double>{"eps1e-3", 1e-3}})
      benchmark::RegisterBenchmark(("hypergradient_" + std::string(name) + t).c_str(),
                                   [=](benchmark::State& st) { hypergradient<S>(st, s, eps); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime()
          ->Iterations(s.n > 1 ? 2 : 1);
    benchmark::RegisterBenchmark(
        ("hypergradient_with_bound_eps1e-2" + t).c_str(),
        [=](benchmark::State& st) { hypergradient_with_bound<S>(st, s, 1e-2); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Iterations(s.n > 1 ? 2 : 1);
  }
}

const bool registered = [] {
  MemoryTracker::install();
  register_all<float>("float");
  register_all<double>("double");
  return true;
}();

}  // namespace
}  // namespace bilevel::bench
