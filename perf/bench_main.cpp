// Shared Google Benchmark main: Kokkos lives around the run and the JSON/console context records
// the Kokkos version, backends and the git hash, so stored results say what they measured.
#include <benchmark/benchmark.h>

#include <Kokkos_Core.hpp>
#include <bilevel/config.hpp>

#ifndef BILEVEL_GIT_HASH
#define BILEVEL_GIT_HASH "unknown"
#endif

int main(int argc, char** argv) {
  Kokkos::ScopeGuard guard(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("bilevel_git", BILEVEL_GIT_HASH);
  benchmark::AddCustomContext("kokkos_version", bilevel::build_kokkos_version);
  benchmark::AddCustomContext("kokkos_backends", bilevel::build_kokkos_backends);
  benchmark::AddCustomContext("kokkos_exec_space", Kokkos::DefaultExecutionSpace::name());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
