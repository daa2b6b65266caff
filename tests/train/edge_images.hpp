#pragma once
// Grey 16 x 16 test images of two flat regions split by a vertical edge at a random column:
// smoothed TV with too small a weight is a poor denoiser of them, so training visibly helps.
#include <random>

#include "../test_utils.hpp"

namespace bilevel::test {

inline Images<double> edge_images(int n, unsigned seed) {
  Images<double> x = make_images<double>("clean", {n, 1, 16, 16});
  auto h = Kokkos::create_mirror_view(x);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(0.2, 0.8);
  for (int s = 0; s < n; ++s) {
    const double a = u(gen), b = u(gen);
    const int edge = 4 + int(8 * u(gen));
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 16; ++j) h(s, 0, i, j) = j < edge ? a : b;
  }
  Kokkos::deep_copy(x, h);
  return x;
}

}  // namespace bilevel::test
