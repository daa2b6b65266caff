// bilevel-degrade: loads a folder of test images, crops them, simulates the measurement
// (additive Gaussian noise for now) and reports the PSNR of each measured image against its
// clean original. Optionally writes the clean crops and the measurements as PNG.

#include <bilevel/bilevel.hpp>
#include <common/app_main.hpp>
#include <common/validators.hpp>
#include <cstdio>
#include <filesystem>
#include <string>

namespace {

struct Options {
  std::string input = "data/test";
  std::string output;
  std::string channels = "rgb";
  std::string precision = "float";
  double sigma = 25.0;
  int crop = 192;
  int max_images = 0;
  std::uint64_t seed = 0;
};

std::string stem(const std::string& path) { return std::filesystem::path(path).stem().string(); }

template <class Scalar>
void run(const Options& opt) {
  using namespace bilevel;
  const auto channels = opt.channels == "grey" ? io::Channels::grey : io::Channels::rgb;
  const auto folder = io::load_folder(opt.input, channels, opt.max_images);
  const auto clean_host = io::centre_crops(folder.images, opt.crop, opt.crop);
  auto clean = io::to_device<Scalar>(clean_host, "bilevel::degrade::clean");
  auto measured = make_images<Scalar>("bilevel::degrade::measured", shape_of(clean));
  DefaultExecSpace space;
  add_gaussian_noise(space, clean, opt.sigma / 255.0, opt.seed, measured);
  const auto psnr = psnr_host(space, measured, clean);

  std::printf("%-36s %10s\n", "image", "PSNR [dB]");
  for (std::size_t k = 0; k < psnr.size(); ++k)
    std::printf("%-36s %10.2f\n", stem(folder.paths[k]).c_str(), psnr[k]);
  std::printf("%-36s %10.2f\n", "mean", mean(psnr));

  if (!opt.output.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(opt.output, ec);
    require(std::filesystem::is_directory(opt.output), "cannot create output folder '", opt.output,
            "'");
    const auto measured_host = io::to_host(measured);
    for (std::size_t k = 0; k < psnr.size(); ++k) {
      const std::string base = opt.output + "/" + stem(folder.paths[k]);
      io::write_png(base + "_clean.png", clean_host[k]);
      io::write_png(base + "_measured.png", measured_host[k]);
    }
    std::printf("wrote %zu image pairs to %s\n", psnr.size(), opt.output.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{"Crops test images, adds Gaussian noise and prints the PSNR of each measurement.",
               "bilevel-degrade"};
  bilevel::apps::last_option_wins(app);
  app.footer(
      "Examples:\n"
      "  bilevel-degrade --input data/test\n"
      "  bilevel-degrade --input my_photos --sigma 15 --crop 128 --channels grey --output out\n");
  app.add_option("-i,--input", opt.input, "folder of PNG/JPEG images")->capture_default_str();
  bilevel::apps::add_output_option(app, opt.output,
                                   "folder for <name>_clean.png and <name>_measured.png");
  app.add_option("--sigma", opt.sigma, "noise standard deviation on the 0-255 scale")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 255.0));
  app.add_option("--crop", opt.crop, "side of the centre crop in pixels")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--channels", opt.channels, "grey or rgb")
      ->capture_default_str()
      ->check(CLI::IsMember({"grey", "rgb"}));
  app.add_option("--max-images", opt.max_images, "use at most this many images (0: all)")
      ->check(bilevel::apps::digits_only());
  app.add_option("--seed", opt.seed, "noise seed")
      ->capture_default_str()
      ->check(bilevel::apps::digits_only());
  bilevel::apps::add_precision_option(app, opt.precision);
  return bilevel::apps::run_app(app, argc, argv, opt.precision,
                                [&](auto scalar) { run<decltype(scalar)>(opt); });
}
