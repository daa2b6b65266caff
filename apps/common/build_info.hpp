#pragma once
// What a run was built with, for summaries: Bilevel version, Kokkos version and backends, the
// default execution space, the compiler and the scalar type.

#include <Kokkos_Core.hpp>
#include <bilevel/config.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace bilevel::apps {

inline nlohmann::json build_info(const std::string& precision) {
  nlohmann::json b;
  b["bilevel_version"] = BILEVEL_VERSION_STRING;
  b["kokkos_version"] = build_kokkos_version;
  b["kokkos_backends"] = build_kokkos_backends;
  b["execution_space"] = Kokkos::DefaultExecutionSpace::name();
  b["concurrency"] = Kokkos::DefaultExecutionSpace().concurrency();
#if defined(__clang__)
  b["compiler"] = "clang " __clang_version__;
#elif defined(__GNUC__)
  b["compiler"] = "gcc " __VERSION__;
#else
  b["compiler"] = "unknown";
#endif
  b["precision"] = precision;
  return b;
}

}  // namespace bilevel::apps
