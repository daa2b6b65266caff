#pragma once
// Helpers shared by the benchmarks: bandwidth and FLOP counters, standard batch sizes.

#include <benchmark/benchmark.h>

#include <bilevel/core/views.hpp>

namespace bilevel::bench {

/// Records bytes/s for a kernel that moves `bytes_per_iter` bytes per iteration.
inline void set_bytes(benchmark::State& state, double bytes_per_iter) {
  state.counters["bytes/s"] =
      benchmark::Counter(bytes_per_iter * double(state.iterations()), benchmark::Counter::kIsRate,
                         benchmark::Counter::kIs1024);
}

/// Records FLOP/s for a kernel doing `flops_per_iter` floating-point operations per iteration.
inline void set_flops(benchmark::State& state, double flops_per_iter) {
  state.counters["FLOP/s"] =
      benchmark::Counter(flops_per_iter * double(state.iterations()), benchmark::Counter::kIsRate);
}

/// The batch shapes the BLAS-1 benchmarks sweep: the papers' training batch (cache resident)
/// and a large one that streams from main memory. Names end in /small or /large for filtering.
struct NamedShape {
  const char* name;
  Shape shape;
};
inline const NamedShape kBlasShapes[] = {
    {"small", {8, 3, 64, 64}},    // 8 x 12,288 elements: the ISGD mini-batch
    {"large", {8, 3, 512, 512}},  // 8 x 786,432 elements: 25 MB in float, beyond the caches
};

}  // namespace bilevel::bench
