// Batched BLAS-1: the fused and separate Bilevel kernels against Kokkos Kernels' multivector
// routines on the same data (a batch (N, C, H, W) in LayoutRight is the LayoutLeft matrix
// (C*H*W) x N, one column per sample), and a plain copy as the machine's bandwidth reference.
// bytes/s counts the minimum traffic of the operation, so fused and separate forms compare
// directly as effective bandwidth.

#include <bilevel/core/blas1.hpp>

#include "../bench_util.hpp"

#ifdef BILEVEL_BENCH_KOKKOSKERNELS
#include <KokkosBlas1_axpby.hpp>
#include <KokkosBlas1_dot.hpp>
#endif

namespace bilevel::bench {
namespace {

template <class S>
struct Operands {
  Images<S> x, y;
  PerSample<double> out;
  PerSample<S> r;  // Kokkos Kernels returns results in the data's scalar type
  explicit Operands(const Shape& s)
      : x(make_images<S>("bench::x", s)),
        y(make_images<S>("bench::y", s)),
        out("bench::out", s.n),
        r("bench::r", s.n) {
    Kokkos::deep_copy(x, S(0.5));
    Kokkos::deep_copy(y, S(0.25));
  }
  double bytes(int arrays) const { return double(arrays) * double(x.span()) * sizeof(S); }
};

template <class S, class F>
void run(benchmark::State& state, const Shape& s, int arrays, F kernel) {
  Operands<S> ops(s);
  DefaultExecSpace space;
  for (auto _ : state) {
    kernel(space, ops);
    space.fence();
  }
  set_bytes(state, ops.bytes(arrays));
}

template <class S>
void register_all(const char* type) {
  using Ops = Operands<S>;
  for (const auto& ns : kBlasShapes) {
    const Shape s = ns.shape;
    auto reg = [&](const std::string& what, int arrays, auto kernel) {
      benchmark::RegisterBenchmark(
          (std::string("blas1/") + what + "/" + type + "/" + ns.name).c_str(),
          [=](benchmark::State& st) { run<S>(st, s, arrays, kernel); })
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    };
    reg("copy", 2, [](auto& sp, Ops& o) { Kokkos::deep_copy(sp, o.y, o.x); });
    reg("dot", 2, [](auto& sp, Ops& o) { dot(sp, o.x, o.y, o.out); });
    reg("axpby", 3, [](auto& sp, Ops& o) { axpby(sp, S(1e-3), o.x, S(0.999), o.y); });
    reg("axpby_norm2_fused", 3,
        [](auto& sp, Ops& o) { axpby_norm2(sp, S(1e-3), o.x, S(0.999), o.y, o.out); });
    reg("axpby_norm2_separate", 3, [](auto& sp, Ops& o) {
      axpby(sp, S(1e-3), o.x, S(0.999), o.y);
      norm2_squared(sp, o.y, o.out);
    });
#ifdef BILEVEL_BENCH_KOKKOSKERNELS
    // Columns = samples: the same per-sample results through Kokkos Kernels.
    using Matrix = Kokkos::View<S**, Kokkos::LayoutLeft, DefaultMemSpace,
                                Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
    const std::int64_t m = s.per_sample();
    auto mat = [m, n = s.n](const Images<S>& v) { return Matrix(v.data(), m, n); };
    reg("dot_kokkoskernels", 2, [mat](auto&, Ops& o) { KokkosBlas::dot(o.r, mat(o.x), mat(o.y)); });
    reg("axpby_kokkoskernels", 3,
        [mat](auto&, Ops& o) { KokkosBlas::axpby(S(1e-3), mat(o.x), S(0.999), mat(o.y)); });
    reg("axpby_norm2_kokkoskernels", 3, [mat](auto&, Ops& o) {
      KokkosBlas::axpby(S(1e-3), mat(o.x), S(0.999), mat(o.y));
      KokkosBlas::dot(o.r, mat(o.y), mat(o.y));
    });
#endif
  }
}

const bool registered = [] {
  register_all<float>("float");
  register_all<double>("double");
  return true;
}();

}  // namespace
}  // namespace bilevel::bench
