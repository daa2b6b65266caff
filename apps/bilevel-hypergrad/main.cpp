// bilevel-hypergrad: one inexact hypergradient, written out for checking and comparing
// implementations: the lower-level solutions x_hat (to accuracy eps), the hypergradient z (CG
// to tolerance delta), the upper loss, the error bound and the cost, for a trained checkpoint
// or a freshly initialised model.

#include <bilevel/bilevel.hpp>
#include <bilevel/solvers/hypergradient.hpp>
#include <bilevel/train/model.hpp>
#include <bilevel/train/task.hpp>
#include <common/app_main.hpp>
#include <common/build_info.hpp>
#include <common/data_options.hpp>
#include <common/model_options.hpp>
#include <common/output_folder.hpp>
#include <common/validators.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace {

struct Options {
  std::string checkpoint;
  bilevel::apps::ModelOptions model;
  bilevel::apps::DataOptions data;
  double eps = 1e-3, delta = 1e-3;
  std::string output = "out/hypergrad";
  std::string precision = "double";
};

template <class View>
std::vector<double> host_doubles(const View& v) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
  return std::vector<double>(h.data(), h.data() + h.span());
}

/// The model description: the checkpoint's, or the one the options build.
template <class Reg>
std::string read_or_spec(const Options& o, const Reg& reg) {
  return o.checkpoint.empty() ? o.model.spec(reg.channels(), o.data.seed).to_string()
                              : bilevel::read_model_spec(o.checkpoint).to_string();
}

template <class Scalar>
void hypergrad(const Options& o) {
  using namespace bilevel;
  using Exec = DefaultExecSpace;
  Exec space;
  auto reg = o.checkpoint.empty() ? make_regularizer<Scalar, Exec>(
                                        space, o.model.spec(o.data.num_channels(), o.data.seed))
                                  : load_model<Scalar, Exec>(space, o.checkpoint);
  apps::DataOptions data = o.data;
  if (!o.checkpoint.empty()) data.channels = reg->channels() == 1 ? "grey" : "rgb";
  const apps::HostSet set = data.test_set();
  const TaskData<Scalar, Exec> task(space, data.task_spec(),
                                    io::to_device<Scalar>(set.images, "clean"));
  const auto op = task.full_operator(space);
  LowerLevelProblem<Scalar, Exec> h(*op, *reg, task.measured(), task.task().xi);
  const Shape s = task.image_shape();
  auto x = make_images<Scalar>("hypergrad::x", s);
  auto q = make_images<Scalar>("hypergrad::q", s);
  Kokkos::deep_copy(space, x, task.measured());
  Kokkos::deep_copy(space, q, Scalar(0));
  HypergradientOptions hopt;
  hopt.estimate_bound = true;
  HypergradientSolver<Scalar, Exec> solver(hopt);
  const auto r = solver.compute(space, h, task.clean(), x, q, o.eps, o.delta);

  apps::make_output_folder(o.output);
  const auto xs = io::to_host(x);
  for (std::size_t k = 0; k < xs.size(); ++k)
    io::write_png(o.output + "/" + set.names[k] + "_xhat.png", xs[k]);
  const std::vector<std::uint64_t> dims{std::uint64_t(s.n), std::uint64_t(s.c), std::uint64_t(s.h),
                                        std::uint64_t(s.w)};
  io::write_atomically(o.output + "/hypergradient.h5", [&](const std::string& temp) {
    io::Hdf5File f(temp, io::Hdf5File::Mode::create);
    f.write_attribute("model", read_or_spec(o, *reg));
    f.write("x_hat", host_doubles(x), dims);
    f.write("clean", host_doubles(task.clean()), dims);
    f.write("measured", host_doubles(task.measured()), dims);
    f.write("z", host_doubles(r.z));
    f.write("theta", host_doubles(reg->params()));
    f.write("scalars", std::vector<double>{o.eps, o.delta, r.loss, r.bound, double(r.lower_cost),
                                           double(r.linear_cost)});
    f.commit();
    return true;
  });
  double zn = 0;
  for (double v : host_doubles(r.z)) zn += v * v;
  nlohmann::json j;
  j["program"] = "bilevel-hypergrad";
  j["model"] = read_or_spec(o, *reg);
  j["images"] = set.names;
  j["eps"] = o.eps, j["delta"] = o.delta;
  j["loss"] = r.loss, j["sample_losses"] = r.sample_losses;
  j["z_norm"] = std::sqrt(zn), j["bound"] = r.bound;
  j["cost"] = {{"lower", r.lower_cost}, {"cg", r.linear_cost}, {"total", r.cost()}};
  j["seconds"] = {{"lower", r.seconds_lower},
                  {"cg", r.seconds_linear},
                  {"mixed", r.seconds_mixed},
                  {"bound", r.seconds_bound}};
  j["build"] = apps::build_info(o.precision);
  io::write_text_atomically(o.output + "/summary.json", j.dump(2) + "\n");
  std::printf("%d images %dx%dx%d, %lld parameters\n", s.n, s.c, s.h, s.w,
              static_cast<long long>(reg->num_params()));
  std::printf("loss %.9g  |z| %.6g  bound %.3g  cost %ld (nmAPG %ld + CG %ld)\n", r.loss,
              std::sqrt(zn), r.bound, r.cost(), r.lower_cost, r.linear_cost);
  std::printf("wrote %s/{hypergradient.h5,summary.json,*_xhat.png}\n", o.output.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Computes one inexact hypergradient and writes x_hat, z, the bound and the cost.",
               "bilevel-hypergrad"};
  bilevel::apps::last_option_wins(app);
  app.footer(
      "Examples:\n"
      "  # a trained model on 4 centre crops of the test set, eps = delta = 1e-4\n"
      "  bilevel-hypergrad -c out/crr/checkpoint.h5 --eps 1e-4 --delta 1e-4\n"
      "  # a freshly initialised FoE (seed 3) on grey 32x32 crops of your images\n"
      "  bilevel-hypergrad -r foe --seed 3 --channels grey --test-dir imgs --test-crop 32\n"
      "hypergradient.h5 holds x_hat, clean, measured (N,C,H,W), z, theta and scalars\n"
      "(eps, delta, loss, bound, nmAPG cost, CG cost); read it with h5dump or h5py.\n");
  app.add_option("-c,--checkpoint", o.checkpoint, "checkpoint of bilevel-train (else a new model)")
      ->check(CLI::ExistingFile);
  o.model.add_options(app);
  o.data.add_options(app, false);
  app.add_option("--eps", o.eps, "lower-level accuracy |grad h| <= eps")
      ->capture_default_str()
      ->check(bilevel::apps::finite_positive());
  app.add_option("--delta", o.delta, "CG residual tolerance")
      ->capture_default_str()
      ->check(bilevel::apps::finite_positive());
  bilevel::apps::add_output_option(app, o.output, "output folder");
  bilevel::apps::add_precision_option(app, o.precision);
  return bilevel::apps::run_app(app, argc, argv, o.precision,
                                [&](auto scalar) { hypergrad<decltype(scalar)>(o); });
}
