// Direct convolution at the shapes the regularizers use: the three CRR layers (3->4, 4->8,
// 8->64 channels, 5x5) and the FoE layer (3->10, 7x7) on the ISGD batch 8 x 64 x 64, forward,
// adjoint and filter gradient, in FLOP/s (2 per multiply-add, dense count). /small is the
// CTest smoke size (one sample of 16 x 16).

#include <bilevel/conv/conv2d.hpp>

#include "../bench_util.hpp"

#ifdef BILEVEL_BENCH_KOKKOSKERNELS
#include <KokkosBlas3_gemm.hpp>
#endif

namespace bilevel::bench {
namespace {

struct Layer {
  const char* name;
  int cin, cout, k;
};
const Layer kLayers[] = {{"crr1_3to4_5x5", 3, 4, 5},
                         {"crr2_4to8_5x5", 4, 8, 5},
                         {"crr3_8to64_5x5", 8, 64, 5},
                         {"foe_3to10_7x7", 3, 10, 7}};

enum class Pass { forward, adjoint, filter_gradient };

template <class S>
void run(benchmark::State& state, Layer l, Shape xs, Pass pass) {
  auto x = make_images<S>("bench::x", xs);
  auto y = make_images<S>("bench::y", {xs.n, l.cout, xs.h, xs.w});
  Filters<S> w("bench::w", l.cout, l.cin, l.k, l.k);
  Kokkos::deep_copy(x, S(0.5));
  Kokkos::deep_copy(y, S(0.25));
  Kokkos::deep_copy(w, S(0.01));
  DefaultExecSpace space;
  for (auto _ : state) {
    switch (pass) {
      case Pass::forward:
        conv2d(space, x, w, y);
        break;
      case Pass::adjoint:
        conv2d_adjoint(space, y, w, x);
        break;
      case Pass::filter_gradient:
        conv2d_filter_gradient(space, x, y, w);
        break;
    }
    space.fence();
  }
  set_flops(state, conv2d_flops(xs, l.cout, l.k));
}

#ifdef BILEVEL_BENCH_KOKKOSKERNELS
// Baseline: im2col (patches as columns) + Kokkos Kernels GEMM, Y(Cout, N H W) = W(Cout, Cin k^2)
// * cols(Cin k^2, N H W). Timed including the im2col pass; the result is left in (Cout, N H W)
// order (a direct kernel would also pay for the transpose back to (N, Cout, H, W)).
template <class S>
void run_im2col(benchmark::State& state, Layer l, Shape xs) {
  using Matrix = Kokkos::View<S**, Kokkos::LayoutRight, DefaultMemSpace>;
  auto x = make_images<S>("bench::x", xs);
  Kokkos::deep_copy(x, S(0.5));
  const int k = l.k, r = k / 2;
  const std::int64_t cols = std::int64_t(xs.n) * xs.h * xs.w;
  Matrix patches("bench::patches", std::int64_t(xs.c) * k * k, cols);
  Matrix w("bench::w", l.cout, std::int64_t(xs.c) * k * k), y("bench::y", l.cout, cols);
  Kokkos::deep_copy(w, S(0.01));
  DefaultExecSpace space;
  for (auto _ : state) {
    Kokkos::parallel_for(
        "bench::im2col",
        Kokkos::MDRangePolicy<DefaultExecSpace, Kokkos::Rank<2>>(
            space, {0, 0}, {std::int64_t(patches.extent(0)), cols}),
        KOKKOS_LAMBDA(std::int64_t row, std::int64_t col) {
          const int b = int(row % k), a = int((row / k) % k), c = int(row / (k * k));
          const int j = int(col % xs.w), i = int((col / xs.w) % xs.h),
                    n = int(col / (std::int64_t(xs.w) * xs.h));
          const int ii = i + a - r, jj = j + b - r;
          patches(row, col) =
              (ii >= 0 && ii < xs.h && jj >= 0 && jj < xs.w) ? x(n, c, ii, jj) : S(0);
        });
    KokkosBlas::gemm("N", "N", S(1), w, patches, S(0), y);
    space.fence();
  }
  set_flops(state, conv2d_flops(xs, l.cout, l.k));
}
#endif

template <class S>
void register_all(const char* type) {
  const std::pair<const char*, Pass> passes[] = {{"forward", Pass::forward},
                                                 {"adjoint", Pass::adjoint},
                                                 {"filter_gradient", Pass::filter_gradient}};
  for (const Layer& l : kLayers)
    for (const auto& [pname, pass] : passes)
      for (const auto& [size, xs] :
           {std::pair<const char*, Shape>{"batch8x64x64", {8, l.cin, 64, 64}},
            std::pair<const char*, Shape>{"small", {1, l.cin, 16, 16}}}) {
        benchmark::RegisterBenchmark(
            (std::string("conv2d/") + l.name + "/" + pname + "/" + type + "/" + size).c_str(),
            [=](benchmark::State& st) { run<S>(st, l, xs, pass); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
#ifdef BILEVEL_BENCH_KOKKOSKERNELS
  for (const Layer& l : kLayers)
    for (const auto& [size, xs] :
         {std::pair<const char*, Shape>{"batch8x64x64", {8, l.cin, 64, 64}},
          std::pair<const char*, Shape>{"small", {1, l.cin, 16, 16}}})
      benchmark::RegisterBenchmark(
          (std::string("conv2d/") + l.name + "/forward_im2col_gemm/" + type + "/" + size).c_str(),
          [=](benchmark::State& st) { run_im2col<S>(st, l, xs); })
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
#endif
}

const bool registered = [] {
  register_all<float>("float");
  register_all<double>("double");
  return true;
}();

}  // namespace
}  // namespace bilevel::bench
