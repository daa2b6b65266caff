// The machine's floating-point peak as the library's kernels can reach it: every work item runs
// independent fused multiply-add chains on register-resident vectors (enough chains to cover
// the FMA latency of two pipes), compiled with the library's flags and launched like its
// kernels. The convolution benchmarks quote their FLOP/s against this number.

#include <bilevel/core/impl/host_lanes.hpp>

#include "../bench_util.hpp"

namespace bilevel::bench {
namespace {

/// Independent accumulators of one host vector each (impl::Lanes' width: 64 bytes with AVX-512,
/// else 32; a wider vector than the registers spills 12 chains on AVX2 and measured 66 instead
/// of 99 GFLOP/s): 12 chains cover two FMA pipes x 4-5 cycles of latency.
constexpr int kChains = 12;
constexpr int kRepeats = 4096;

template <class S>
struct FmaChains {
  static constexpr int lanes = impl::Lanes<S>::size;  // one register
  Kokkos::View<S*, DefaultMemSpace> out;
  S a, b;
  KOKKOS_INLINE_FUNCTION void operator()(std::int64_t item) const {
    S acc[kChains][lanes];
    for (int u = 0; u < kChains; ++u)
      for (int l = 0; l < lanes; ++l) acc[u][l] = S(item % 7) + S(u) + S(l) * S(1e-3);
    for (int r = 0; r < kRepeats; ++r)
      for (int u = 0; u < kChains; ++u) {
        BILEVEL_SIMD
        for (int l = 0; l < lanes; ++l) acc[u][l] = acc[u][l] * a + b;
      }
    S sum = 0;
    for (int u = 0; u < kChains; ++u)
      for (int l = 0; l < lanes; ++l) sum += acc[u][l];
    out(item) = sum;  // keeps the chains alive
  }
  static double flops_per_item() { return 2.0 * kRepeats * kChains * lanes; }
};

template <class S>
void run(benchmark::State& state, std::int64_t items) {
  FmaChains<S> f{Kokkos::View<S*, DefaultMemSpace>("bench::fma_out", items), S(0.999999), S(1e-7)};
  DefaultExecSpace space;
  for (auto _ : state) {
    Kokkos::parallel_for(
        "bench::fma_peak",
        Kokkos::RangePolicy<DefaultExecSpace, Kokkos::IndexType<std::int64_t>>(space, 0, items), f);
    space.fence();
  }
  set_flops(state, f.flops_per_item() * double(items));
}

const bool registered = [] {
  // /small: the CTest smoke size; /full: enough items to fill every thread of a CPU.
  for (auto [size, items] : {std::pair<const char*, std::int64_t>{"small", 4}, {"full", 512}}) {
    benchmark::RegisterBenchmark((std::string("fma_peak/float/") + size).c_str(),
                                 [items = items](benchmark::State& st) { run<float>(st, items); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((std::string("fma_peak/double/") + size).c_str(),
                                 [items = items](benchmark::State& st) { run<double>(st, items); })
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  return true;
}();

}  // namespace
}  // namespace bilevel::bench
