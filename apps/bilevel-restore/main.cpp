// bilevel-restore: applies a trained regularizer (a bilevel-train checkpoint) to images of any
// size. Given clean images it simulates the task's measurement first and reports PSNRs; given
// measured images (--measured) it restores them as they are.

#include <bilevel/bilevel.hpp>
#include <bilevel/solvers/nmapg.hpp>
#include <bilevel/train/model.hpp>
#include <bilevel/train/task.hpp>
#include <common/app_main.hpp>
#include <common/data_options.hpp>
#include <common/image_inputs.hpp>
#include <common/output_folder.hpp>
#include <common/validators.hpp>
#include <cstdio>

namespace {

struct Options {
  std::string checkpoint;
  std::vector<std::string> inputs;
  std::vector<std::string> references;
  bilevel::apps::DataOptions data;
  bool measured = false;
  bool last_iterate = false;
  int crop = 0;  ///< side of the centre crop restored (0: the whole image)
  double eps = 1e-4;
  std::string output = "out/restore";
  std::string precision = "float";
};

/// Replaces every image of `set` by its centred side x side window (named in the error when an
/// image is smaller).
void centre_crop_all(bilevel::apps::HostSet& set, int side) {
  for (std::size_t k = 0; k < set.images.size(); ++k) {
    auto& img = set.images[k];
    bilevel::require(img.h >= side && img.w >= side, "--crop ", side, ": '", set.names[k], "' is ",
                     img.w, "x", img.h);
    img = bilevel::io::centre_crop(img, side, side);
  }
}

template <class Scalar>
void restore(const Options& o) {
  using namespace bilevel;
  using Exec = DefaultExecSpace;
  Exec space;
  const ModelSpec spec = read_model_spec(o.checkpoint);
  const long best_step = best_model_step(o.checkpoint);
  auto reg = load_model<Scalar, Exec>(space, o.checkpoint,
                                      o.last_iterate ? ModelChoice::last : ModelChoice::best);
  if (best_step >= 0 && !o.last_iterate)
    std::printf("model: the best by validation, after step %ld (--last-iterate for the last)\n",
                best_step);
  else if (best_step >= 0)
    std::printf("model: the last iterate (the best by validation was after step %ld)\n", best_step);
  const auto channels = spec.channels == 1 ? io::Channels::grey : io::Channels::rgb;
  apps::HostSet in = apps::read_images(o.inputs, channels);
  TaskSpec task = o.data.task_spec();
  require(
      !(o.measured && task.kind == TaskKind::inpaint),
      "--measured does not work for inpainting (the mask is unknown), give clean images instead");
  apps::HostSet ref;
  if (!o.references.empty()) {
    require(o.measured, "--reference is only needed with --measured");
    ref = apps::read_images(o.references, channels);
    require(ref.images.size() == in.images.size(), ref.images.size(), " reference images for ",
            in.images.size(), " inputs");
  }
  if (o.crop > 0) {
    centre_crop_all(in, o.crop);
    centre_crop_all(ref, o.crop);
  }
  // Everything that could stop the run is checked before the first output is written.
  for (std::size_t k = 0; k < in.names.size(); ++k)
    for (std::size_t j = 0; j < k; ++j)
      require(in.names[j] != in.names[k], "inputs ", j + 1, " and ", k + 1, " are both named '",
              in.names[k], "' (outputs are named by file stem): rename one of them");
  for (std::size_t k = 0; k < ref.images.size(); ++k)
    require(ref.images[k].h == in.images[k].h && ref.images[k].w == in.images[k].w, "reference '",
            ref.names[k], "' is ", ref.images[k].w, "x", ref.images[k].h, ", input '", in.names[k],
            "' is ", in.images[k].w, "x", in.images[k].h);
  apps::make_output_folder(o.output);
  Nmapg<Scalar, Exec> solver;
  std::vector<std::string> capped;  // images whose solve stopped at the iteration cap
  std::printf("%-28s %8s %10s %10s %7s\n", "image", "size", "measured", "restored", "iters");
  std::vector<double> pm, pr;
  for (std::size_t k = 0; k < in.images.size(); ++k) {
    const auto& img = in.images[k];
    // Images may differ in size: each is its own batch of one.
    auto given = io::to_device<Scalar>({img}, "restore::input");
    const bool have_clean = !o.measured || !ref.images.empty();
    const auto clean =
        ref.images.empty() ? given : io::to_device<Scalar>({ref.images[k]}, "restore::reference");
    // The task's operator; its simulated measurement is used unless the input is measured.
    const TaskData<Scalar, Exec> data(space, task, clean, k);
    const auto op = data.full_operator(space);
    const Images<Scalar> y = o.measured ? given : data.measured();
    auto x = make_images<Scalar>("restore::x", shape_of(y));
    Kokkos::deep_copy(space, x, y);
    LowerLevelProblem<Scalar, Exec> h(*op, *reg, y, task.xi);
    const auto r = solver.solve(space, h, x, o.eps);
    if (!r.converged[0]) capped.push_back(in.names[k]);
    const std::string base = o.output + "/" + in.names[k];
    io::write_png(base + "_restored.png", io::to_host(x)[0]);
    if (!o.measured) io::write_png(base + "_measured.png", io::to_host(y)[0]);
    char size[32];
    std::snprintf(size, sizeof size, "%dx%d", img.w, img.h);
    if (have_clean) {
      pm.push_back(psnr_host(space, y, clean)[0]);
      pr.push_back(psnr_host(space, x, clean)[0]);
      std::printf("%-28s %8s %10.2f %10.2f %7d\n", in.names[k].c_str(), size, pm.back(), pr.back(),
                  r.iterations[0]);
    } else {
      std::printf("%-28s %8s %10s %10s %7d\n", in.names[k].c_str(), size, "-", "-",
                  r.iterations[0]);
    }
  }
  if (!pm.empty())
    std::printf("%-28s %8s %10.2f %10.2f\n", "mean PSNR [dB]", "", mean(pm), mean(pr));
  std::printf("wrote %zu restored images to %s\n", in.images.size(), o.output.c_str());
  if (!capped.empty()) {  // the restorations exist but are not certified to --eps
    std::string names;
    for (const auto& n : capped) names += (names.empty() ? "'" : ", '") + n + "'";
    std::fflush(stdout);
    std::fprintf(stderr,
                 "bilevel-restore: warning: %zu of %zu images stopped at the iteration cap (%d) "
                 "before |grad h| <= %g: %s; their restorations are approximate (raise --eps)\n",
                 capped.size(), in.images.size(), solver.options().max_iterations, o.eps,
                 names.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Restores images with a regularizer trained by bilevel-train.", "bilevel-restore"};
  bilevel::apps::last_option_wins(app);
  app.footer(
      "Examples:\n"
      "  # simulate sigma = 25 noise on clean images, denoise, print PSNRs\n"
      "  bilevel-restore -c out/crr/checkpoint.h5 data/test\n"
      "  # the same on the centred 192 x 192 window of every image\n"
      "  bilevel-restore -c out/crr/checkpoint.h5 --crop 192 data/test\n"
      "  # restore already-noisy photos (no PSNR without --reference)\n"
      "  bilevel-restore -c out/crr/checkpoint.h5 --measured noisy1.png noisy2.png -o out/mine\n"
      "  # inpainting with a model trained for it, 30% of the pixels kept\n"
      "  bilevel-restore -c out/inpaint/checkpoint.h5 --task inpaint --keep 0.3 photo.png\n"
      "Writes <name>_restored.png (and <name>_measured.png when it simulated the measurement).\n");
  app.add_option("-c,--checkpoint", o.checkpoint, "checkpoint written by bilevel-train")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("inputs", o.inputs, "images or folders of images")
      ->required()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_flag("--measured", o.measured, "the inputs are already degraded: restore them as given");
  app.add_flag("--last-iterate", o.last_iterate,
               "apply the run's last parameters, not its validation-selected ones");
  app.add_option("--reference", o.references, "clean images for the PSNR of --measured inputs")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--task", o.data.task, "denoise, inpaint or deblur")
      ->capture_default_str()
      ->check(CLI::IsMember({"denoise", "inpaint", "deblur"}));
  app.add_option("--sigma", o.data.sigma, "noise level on the 0-255 scale (default: the task's)")
      ->check(bilevel::apps::finite_in(0, 255));
  app.add_option("--keep", o.data.keep, "inpaint: probability that a pixel is measured")
      ->capture_default_str()
      ->check(bilevel::apps::finite_in(1e-3, 1));
  app.add_option("--seed", o.data.seed, "noise and mask seed")->capture_default_str();
  app.add_option("--crop", o.crop, "restore the centred N x N window of every image (0: all)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 16));
  app.add_option("--eps", o.eps, "accuracy |grad h| of the reconstruction")
      ->capture_default_str()
      ->check(bilevel::apps::finite_positive());
  bilevel::apps::add_output_option(app, o.output, "output folder");
  bilevel::apps::add_precision_option(app, o.precision);
  return bilevel::apps::run_app(app, argc, argv, o.precision,
                                [&](auto scalar) { restore<decltype(scalar)>(o); });
}
