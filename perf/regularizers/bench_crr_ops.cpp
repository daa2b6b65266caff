// The paper's three-layer CRR (3 -> 4 -> 8 -> 64, 5 x 5, Huber beta 100, exp(s) = 1) operation
// by operation, on the ISGD batch 8 x 3 x 64 x 64: the rows of the PyTorch anchor table
// (perf/anchors/crr_pytorch.py times the same operations on the same shapes): W x, W^T y,
// grad R, h and grad h (one pass), a Hessian-vector product with the curvature prepared,
// the mixed product, and sigma(W) by Lanczos, cold (a fresh model) and warm (a refresh after a
// small change of theta, what a training step pays). /small is the CTest smoke size.

#include <bilevel/operators/identity.hpp>
#include <bilevel/regularizers/crr.hpp>
#include <bilevel/solvers/lower_level.hpp>

#include "../bench_util.hpp"

namespace bilevel::bench {
namespace {

enum class Op {
  w_forward,
  w_adjoint,
  grad_r,
  value_and_grad_h,
  prepared_hvp,
  mixed_product,
  sigma_cold,
  sigma_warm
};

template <class S>
struct CrrOps {
  Shape s;
  ConvexRidge<S> crr;
  Images<S> y, x, v, out;
  IdentityOperator<S> id;
  LowerLevelProblem<S> h;
  typename ConvexRidge<S>::Chain chain;  // W with the model's filters, for W x and W^T y
  typename ConvexRidge<S>::Chain::Activations path;
  Images<S> wx;

  explicit CrrOps(const Shape& shape)
      : s(shape),
        crr(DefaultExecSpace(), shape.c, options(shape)),
        y(random_images("bench::y", 0.5, 1)),
        x(random_images("bench::x", 0.5, 2)),
        v(random_images("bench::v", 0.0, 3)),
        out(make_images<S>("bench::out", shape)),
        h(id, crr, y),
        chain(channels(shape.c), 5),
        wx(make_images<S>("bench::wx", {shape.n, 64, shape.h, shape.w})) {
    Kokkos::View<S*, DefaultMemSpace> theta("bench::theta", crr.num_params());
    Kokkos::deep_copy(theta, crr.params());
    std::int64_t offset = 0;
    for (std::size_t l = 0; l < chain.depth(); ++l) {
      chain.layer(l).update(DefaultExecSpace(), theta, offset);
      offset += chain.layer(l).size();
    }
  }
  static CrrOptions options(const Shape& s) {
    CrrOptions o;  // the paper's model
    o.spectral_size = s.h;
    return o;
  }
  static std::vector<int> channels(int c) { return {c, 4, 8, 64}; }
  Images<S> random_images(const char* label, double mean, std::uint64_t seed) const {
    auto img = make_images<S>(label, s);
    auto m = Kokkos::create_mirror_view(img);
    std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    for (std::size_t i = 0; i < m.size(); ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      m.data()[i] = S(mean + 0.1 * (double(state >> 11) / double(1ull << 53) - 0.5));
    }
    Kokkos::deep_copy(img, m);
    return img;
  }
};

template <class S>
void run(benchmark::State& state, Shape s, Op op) {
  CrrOps<S> p(s);
  DefaultExecSpace space;
  PerSample<double> sums("bench::sums", s.n);
  Kokkos::View<S*, DefaultMemSpace> dtheta("bench::dtheta", p.crr.num_params());
  std::vector<S> theta(std::size_t(p.crr.num_params()));
  {
    auto t = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), p.crr.params());
    for (std::size_t i = 0; i < theta.size(); ++i) theta[i] = t(i);
  }
  if (op == Op::prepared_hvp) p.h.prepare_hessian(space, p.x);
  long k = 0;
  for (auto _ : state) {
    switch (op) {
      case Op::w_forward:
        p.chain.forward(space, p.x, p.path);
        break;
      case Op::w_adjoint:
        p.chain.adjoint(space, p.wx, p.out, p.path);
        break;
      case Op::grad_r:
        p.crr.gradient(space, p.x, p.out);
        break;
      case Op::value_and_grad_h:
        // The problem evaluates h and grad h in one pass (h is a by-product of W x).
        p.h.value_and_gradient(space, p.x, sums, p.out);
        break;
      case Op::prepared_hvp:
        p.h.prepared_hessian_vector_product(space, p.v, p.out,
                                            SampleSelection<DefaultMemSpace>::every(s.n));
        break;
      case Op::mixed_product:
        p.crr.mixed_product(space, p.x, p.v, dtheta);
        break;
      case Op::sigma_cold:
        p.crr.initialize(space, std::uint64_t(k));  // a fresh model: Lanczos from scratch
        break;
      case Op::sigma_warm:
        // One training step's refresh: theta moved by 1e-3 relative, v warm-started.
        theta[std::size_t(k % 300)] *= S(1.001);
        p.crr.set_params(space, theta);
        break;
    }
    space.fence();
    ++k;
  }
  if (op == Op::sigma_cold || op == Op::sigma_warm)
    state.counters["products"] = double(p.crr.spectral_result().applications);
}

template <class S>
void register_all(const char* type) {
  const std::pair<const char*, Op> ops[] = {{"w_forward", Op::w_forward},
                                            {"w_adjoint", Op::w_adjoint},
                                            {"grad_r", Op::grad_r},
                                            {"value_and_grad_h", Op::value_and_grad_h},
                                            {"prepared_hvp", Op::prepared_hvp},
                                            {"mixed_product", Op::mixed_product},
                                            {"sigma_cold", Op::sigma_cold},
                                            {"sigma_warm", Op::sigma_warm}};
  for (const auto& [name, op] : ops)
    for (const auto& [size, s] : {std::pair<const char*, Shape>{"batch8x3x64x64", {8, 3, 64, 64}},
                                  std::pair<const char*, Shape>{"small", {1, 3, 16, 16}}})
      benchmark::RegisterBenchmark(
          (std::string("crr_ops/") + name + "/" + type + "/" + size).c_str(),
          [=](benchmark::State& st) { run<S>(st, s, op); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
}

const bool registered = [] {
  register_all<float>("float");
  register_all<double>("double");
  return true;
}();

}  // namespace
}  // namespace bilevel::bench
