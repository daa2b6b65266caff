// Uses the installed Bilevel: noise a constant batch and check the PSNR it reports (and, in an
// MPI build, that the package brings MPI and a Communicator on MPI_COMM_WORLD works).
#include <bilevel/bilevel.hpp>
#include <cmath>
#include <cstdio>

int main(int argc, char** argv) {
#if BILEVEL_HAVE_MPI
  MPI_Init(&argc, &argv);
  {
    const bilevel::Communicator world(MPI_COMM_WORLD);
    if (world.sum(std::int64_t(1)) != world.size()) return 1;
    std::printf("MPI: %d rank(s)\n", world.size());
  }
  struct Finalize {
    ~Finalize() { MPI_Finalize(); }
  } finalize;
#endif
  Kokkos::ScopeGuard guard(argc, argv);
  const bilevel::Shape s{2, 3, 32, 32};
  auto clean = bilevel::make_images<float>("clean", s);
  auto noisy = bilevel::make_images<float>("noisy", s);
  Kokkos::deep_copy(clean, 0.5f);
  bilevel::add_gaussian_noise(Kokkos::DefaultExecutionSpace(), clean, 0.1, 7, noisy);
  const auto p = bilevel::psnr_host(Kokkos::DefaultExecutionSpace(), noisy, clean);
  std::printf("Bilevel %s with Kokkos %s: PSNR %.2f dB (expected about 20)\n",
              BILEVEL_VERSION_STRING, bilevel::build_kokkos_version, bilevel::mean(p));
  return std::fabs(bilevel::mean(p) - 20.0) < 0.2 ? 0 : 1;
}
