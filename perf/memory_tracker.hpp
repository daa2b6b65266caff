#pragma once
// Peak bytes of Kokkos allocations, through the Kokkos Tools allocation callbacks (same API in
// Kokkos 3.4 and 4.x): what a solver really holds, on any backend.

#include <Kokkos_Core.hpp>
#include <atomic>
#include <cstdint>

namespace bilevel::bench {

class MemoryTracker {
 public:
  static void install() {
    Kokkos::Tools::Experimental::set_allocate_data_callback(&on_allocate);
    Kokkos::Tools::Experimental::set_deallocate_data_callback(&on_deallocate);
  }
  /// Starts a measurement: the peak is counted from the current level.
  static void reset_peak() {
    peak() = current();
    base() = current();
  }
  /// Peak bytes allocated above the level at reset_peak().
  static std::int64_t peak_since_reset() { return peak() - base(); }

 private:
  static std::int64_t& current() {
    static std::int64_t v = 0;
    return v;
  }
  static std::int64_t& peak() {
    static std::int64_t v = 0;
    return v;
  }
  static std::int64_t& base() {
    static std::int64_t v = 0;
    return v;
  }
  static void on_allocate(const Kokkos_Profiling_SpaceHandle, const char*, const void*,
                          std::uint64_t size) {
    current() += std::int64_t(size);
    if (current() > peak()) peak() = current();
  }
  static void on_deallocate(const Kokkos_Profiling_SpaceHandle, const char*, const void*,
                            std::uint64_t size) {
    current() -= std::int64_t(size);
  }
};

}  // namespace bilevel::bench
