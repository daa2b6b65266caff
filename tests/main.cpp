// One main for the whole suite: Kokkos lives for the duration of all tests (the library never
// initialises it itself).
#include <gtest/gtest.h>

#include <Kokkos_Core.hpp>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  // gtest_discover_tests reads the test names from standard output, where Kokkos would print
  // its start-up warnings (OMP_PROC_BIND unset, ...): silence them while listing.
  bool listing = false;
  for (int k = 1; k < argc; ++k)
    listing = listing || std::strcmp(argv[k], "--gtest_list_tests") == 0;
  ::testing::InitGoogleTest(&argc, argv);
  std::vector<char*> args(argv, argv + argc);
  char quiet[] = "--kokkos-disable-warnings";
  if (listing) args.push_back(quiet);
  int n = int(args.size());
  args.push_back(nullptr);
  Kokkos::ScopeGuard guard(n, args.data());
  return RUN_ALL_TESTS();
}
