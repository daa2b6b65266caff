// Shared Google Benchmark main: Kokkos lives around the run and the JSON/console context records
// the Kokkos version, backends, the execution space with its thread count and the git hash, so
// stored results say what they measured.
#include <benchmark/benchmark.h>

#include <Kokkos_Core.hpp>
#include <bilevel/config.hpp>
#include <cstdio>
#include <string>

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
  const std::string space = Kokkos::DefaultExecutionSpace::name();
  const std::string threads = std::to_string(Kokkos::DefaultExecutionSpace().concurrency());
  benchmark::AddCustomContext("kokkos_exec_space", space);
  benchmark::AddCustomContext("kokkos_concurrency", threads);
  std::fprintf(stderr, "Bilevel benchmarks: Kokkos %s, %s with concurrency %s\n",
               bilevel::build_kokkos_version, space.c_str(), threads.c_str());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
