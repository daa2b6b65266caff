// Direct convolution at the shapes the regularizers use: the three CRR layers (3->4, 4->8,
// 8->64 channels, 5x5) and the FoE layer (3->10, 7x7) on the ISGD batch 8 x 64 x 64, forward,
// adjoint and filter gradient, in FLOP/s (2 per multiply-add, dense count). /small is the
// CTest smoke size (one sample of 16 x 16).

#include <bilevel/conv/conv2d.hpp>

#include "../bench_util.hpp"

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
      case Pass::forward: conv2d(space, x, w, y); break;
      case Pass::adjoint: conv2d_adjoint(space, y, w, x); break;
      case Pass::filter_gradient: conv2d_filter_gradient(space, x, y, w); break;
    }
    space.fence();
  }
  set_flops(state, conv2d_flops(xs, l.cout, l.k));
}

template <class S>
void register_all(const char* type) {
  const std::pair<const char*, Pass> passes[] = {
      {"forward", Pass::forward}, {"adjoint", Pass::adjoint}, {"filter_gradient", Pass::filter_gradient}};
  for (const Layer& l : kLayers)
    for (const auto& [pname, pass] : passes)
      for (const auto& [size, xs] : {std::pair<const char*, Shape>{"batch8x64x64", {8, l.cin, 64, 64}},
                                     std::pair<const char*, Shape>{"small", {1, l.cin, 16, 16}}}) {
        benchmark::RegisterBenchmark(
            (std::string("conv2d/") + l.name + "/" + pname + "/" + type + "/" + size).c_str(),
            [=](benchmark::State& st) { run<S>(st, l, xs, pass); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
}

const bool registered = [] {
  register_all<float>("float");
  register_all<double>("double");
  return true;
}();

}  // namespace
}  // namespace bilevel::bench
