#pragma once
// The data options the apps share: task, noise, folders, crops and image counts, and how they
// become host image sets (seeded random crops for training, centre crops for testing) and a
// bilevel::TaskSpec.

#include <CLI/CLI.hpp>
#include <bilevel/io/dataset.hpp>
#include <bilevel/train/task.hpp>
#include <common/validators.hpp>
#include <filesystem>
#include <string>
#include <vector>

namespace bilevel::apps {

/// Named host images (names are file stems, made unique for repeated crops).
struct HostSet {
  std::vector<std::string> names;
  std::vector<io::HostImage> images;
};

/// The first validation crop's number in the seeded crop stream, far beyond any training set.
inline constexpr std::uint64_t kValidationCropOffset = std::uint64_t(1) << 40;

struct DataOptions {
  std::string task = "denoise";
  std::string channels = "rgb";
  double sigma = -1;  ///< on the 0-255 scale; < 0: the task's default
  double keep = 0.3;  ///< inpainting: fraction of measured pixels
  std::string train_dir = "data/train", test_dir = "data/test";
  int crop = 64, n_train = 32;
  int n_val = 0;  ///< validation crops (model selection), never in a batch
  int test_crop = 96, n_test = 4;
  std::uint64_t seed = 0;

  /// Registers the options on `app` (`training`: also the training-set options).
  void add_options(CLI::App& app, bool training) {
    app.add_option("--task", task, "denoise, inpaint or deblur")
        ->capture_default_str()
        ->check(CLI::IsMember({"denoise", "inpaint", "deblur"}));
    app.add_option("--sigma", sigma,
                   "noise standard deviation on the 0-255 scale (default: 25 for denoise, 5.1 "
                   "for inpaint, 5 for deblur)")
        ->check(finite_in(0, 255));
    app.add_option("--keep", keep, "inpaint: probability that a pixel is measured")
        ->capture_default_str()
        ->check(finite_in(1e-3, 1));
    app.add_option("--channels", channels, "grey or rgb")
        ->capture_default_str()
        ->check(CLI::IsMember({"grey", "rgb"}));
    if (training) {
      app.add_option("--train-dir", train_dir, "folder of training images")->capture_default_str();
      app.add_option("--crop", crop, "side of the random training crops")
          ->capture_default_str()
          ->check(CLI::Range(8, 4096));
      app.add_option("--n-train", n_train, "number of training crops")
          ->capture_default_str()
          ->check(CLI::Range(1, 1 << 20));
      app.add_option("--n-val", n_val,
                     "validation crops for model selection: further random crops of the "
                     "training images, never in a batch (0: none)")
          ->capture_default_str()
          ->check(CLI::Range(0, 1 << 20));
    }
    app.add_option("--test-dir", test_dir, "folder of test images")->capture_default_str();
    app.add_option("--test-crop", test_crop, "side of the centre test crops")
        ->capture_default_str()
        ->check(CLI::Range(8, 4096));
    app.add_option("--n-test", n_test, "number of test images (0: all)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1 << 20));
    app.add_option("--seed", seed, "seed of crops, noise, masks and initialisation")
        ->capture_default_str()
        ->check(digits_only());
  }

  io::Channels io_channels() const {
    return channels == "grey" ? io::Channels::grey : io::Channels::rgb;
  }
  int num_channels() const { return channels == "grey" ? 1 : 3; }

  TaskSpec task_spec() const {
    TaskSpec t = TaskSpec::defaults(parse_task(task));
    if (sigma >= 0) t.sigma = sigma / 255.0;
    t.keep = keep;
    t.seed = seed;
    return t;
  }

  /// Every image of the folder must hold the crop: checked for all of them up front (a random
  /// crop would only find the one it happens to draw), naming the file.
  static void require_crop_fits(const io::ImageFolder& folder, int size, const char* option) {
    for (std::size_t k = 0; k < folder.images.size(); ++k) {
      const auto& img = folder.images[k];
      require(img.h >= size && img.w >= size, option, " ", size, ": crop ", size, "x", size,
              " is larger than the image '", folder.paths[k], "' (", img.w, "x", img.h, ")");
    }
  }

  /// `n_train` seeded random crops of the training folder.
  HostSet training_set() const { return training_crops(n_train, 0, "crop"); }

  /// `n_val` seeded random crops of the training folder from a part of the crop stream that no
  /// training set reaches (so they do not change with --n-train).
  HostSet validation_set() const { return training_crops(n_val, kValidationCropOffset, "val"); }

  /// Centre crops of the first `n_test` test images.
  HostSet test_set() const {
    const auto folder = io::load_folder(test_dir, io_channels(), n_test);
    require_crop_fits(folder, test_crop, "--test-crop");
    HostSet s;
    s.images = io::centre_crops(folder.images, test_crop, test_crop);
    for (const auto& p : folder.paths) s.names.push_back(std::filesystem::path(p).stem().string());
    return s;
  }

 private:
  /// Crops `first .. first + count - 1` of the training folder's seeded crop stream, named
  /// prefix0, prefix1, ...
  HostSet training_crops(int count, std::uint64_t first, const char* prefix) const {
    const auto folder = io::load_folder(train_dir, io_channels());
    require_crop_fits(folder, crop, "--crop");
    HostSet s;
    s.images = io::random_crops(folder.images, count, crop, crop, seed, first);
    for (int k = 0; k < count; ++k) s.names.push_back(prefix + std::to_string(k));
    return s;
  }
};

/// Sample ids of test images start here, so their noise never repeats a training sample's.
inline constexpr std::uint64_t kTestIdOffset = std::uint64_t(1) << 40;
/// Sample ids of validation crops start here (noise unlike the training and test samples').
inline constexpr std::uint64_t kValidationIdOffset = std::uint64_t(1) << 41;

}  // namespace bilevel::apps
