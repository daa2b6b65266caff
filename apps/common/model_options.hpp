#pragma once
// Regularizer options shared by the apps that build a fresh model (bilevel-train,
// bilevel-hypergrad): kind and architecture, turned into a bilevel::ModelSpec.

#include <CLI/CLI.hpp>
#include <bilevel/train/model.hpp>
#include <common/validators.hpp>
#include <string>
#include <vector>

namespace bilevel::apps {

struct ModelOptions {
  std::string regularizer = "crr";
  // Kept as written ("4,8,64", or one entry per value from a config file's [4,8,64]) and
  // checked whole: CLI11's own splitting would drop the empty entry of "4,,8".
  std::vector<std::string> crr_channels{"4,8,64"};
  int crr_kernel = 5;
  std::string crr_potential = "huber";
  // The CRR's defaults are the main job's (README, "Quick start"): what trains the paper's
  // three-layer model within minutes. The library's CrrOptions keep the paper's own start.
  double crr_beta = 3000;
  double crr_scale = 0.02;
  double crr_init_gain = 4;
  double crr_max_scale = 0.2;
  int icnn_hidden = 32, icnn_kernel = 5;
  double icnn_scale = 1;
  int foe_filters = 10, foe_kernel = 7;

  /// The largest kernel the convolutions support (conv/conv2d.hpp).
  static constexpr int kMaxKernel = bilevel::impl::kMaxConvKernel;

  void add_options(CLI::App& app) {
    app.add_option("-r,--regularizer", regularizer, "crr, icnn, foe or tv")
        ->capture_default_str()
        ->check(CLI::IsMember({"crr", "icnn", "foe", "tv"}));
    app.add_option("--crr-channels", crr_channels, "CRR: output channels of each layer (4,8,64)")
        ->capture_default_str()
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->check(int_list(1, 1024));
    app.add_option("--crr-kernel", crr_kernel, "CRR: kernel size")
        ->capture_default_str()
        ->check(odd_up_to(kMaxKernel));
    app.add_option("--crr-potential", crr_potential, "CRR: huber or log-cosh")
        ->capture_default_str()
        ->check(CLI::IsMember({"huber", "log-cosh"}));
    app.add_option("--crr-beta", crr_beta, "CRR: potential sharpness beta")
        ->capture_default_str()
        ->check(finite_positive());
    app.add_option("--crr-scale", crr_scale, "CRR: initial ridge scale exp(s)")
        ->capture_default_str()
        ->check(finite_positive());
    app.add_option("--crr-init-gain", crr_init_gain,
                   "CRR: gain on the filters' Xavier initialisation (how far a step turns them)")
        ->capture_default_str()
        ->check(finite_positive());
    app.add_option("--crr-max-scale", crr_max_scale,
                   "CRR: cap on exp(s), bounding the lower level's stiffness (0: none)")
        ->capture_default_str()
        ->check(finite_in(0, std::numeric_limits<double>::max()));
    app.add_option("--icnn-hidden", icnn_hidden, "ICNN: hidden channels")
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
    app.add_option("--icnn-kernel", icnn_kernel, "ICNN: kernel size")
        ->capture_default_str()
        ->check(odd_up_to(kMaxKernel));
    app.add_option("--icnn-scale", icnn_scale, "ICNN: initial output scale exp(s)")
        ->capture_default_str()
        ->check(finite_positive());
    app.add_option("--foe-filters", foe_filters, "FoE: number of filters")
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
    app.add_option("--foe-kernel", foe_kernel, "FoE: kernel size")
        ->capture_default_str()
        ->check(odd_up_to(kMaxKernel));
  }

  ModelSpec spec(int channels, std::uint64_t seed) const {
    ModelSpec m;
    m.kind = parse_regularizer(regularizer);
    m.channels = channels;
    m.seed = seed;
    m.crr.channels.clear();
    for (const auto& part : crr_channels) {
      std::vector<int> values;
      parse_int_list(part, 1, 1024, values);  // checked by the option's validator
      m.crr.channels.insert(m.crr.channels.end(), values.begin(), values.end());
    }
    m.crr.kernel_size = crr_kernel;
    m.crr.potential = parse_ridge_potential(crr_potential);
    m.crr.beta = crr_beta;
    m.crr.initial_scale = crr_scale;
    m.crr.init_gain = crr_init_gain;
    m.crr.max_scale = crr_max_scale;
    m.icnn.hidden = icnn_hidden;
    m.icnn.kernel_size = icnn_kernel;
    m.icnn.initial_scale = icnn_scale;
    m.foe_filters = foe_filters;
    m.foe_kernel = foe_kernel;
    return m;
  }
};

}  // namespace bilevel::apps
