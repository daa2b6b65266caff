// bilevel-train: learns a regularizer's parameters by bilevel optimisation with inexact
// hypergradients (ISGD, IAdam, MAID or HOAG) and writes a CSV log, checkpoints, test panels
// and a JSON summary.

#include <bilevel-train/train_run.hpp>
#include <common/app_main.hpp>
#include <common/settings_ini.hpp>

int main(int argc, char** argv) {
  bilevel::apps::TrainSettings s;
  CLI::App app{"Learns a regularizer by bilevel optimisation with inexact stochastic hypergradients.",
               "bilevel-train"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // last wins
  app.footer(
      "Examples:\n"
      "  # the main job: CRR denoiser, ISGD with a fixed step, about 10 minutes on 2 cores\n"
      "  bilevel-train --max-seconds 540 --output out/crr\n"
      "  # tune smoothed TV (alpha, nu) by IAdam on the same data\n"
      "  bilevel-train -r tv -a iadam --alpha0 0.1 --max-steps 40 --output out/tv\n"
      "  # ICNN by IAdam with decaying accuracy, then resume after Ctrl-C\n"
      "  bilevel-train -r icnn -a iadam --eps0 1 --p 1 --budget 50000 -o out/icnn\n"
      "  bilevel-train -r icnn -a iadam --eps0 1 --p 1 --budget 50000 -o out/icnn "
      "--resume out/icnn/checkpoint.h5\n"
      "  # FoE by MAID (full batch) for inpainting, options from a file\n"
      "  bilevel-train --config out/foe/settings.ini\n"
      "Outputs in --output: log.csv (one row per step), checkpoint.h5, settings.ini,\n"
      "summary.json, panels/<image>.png (clean | measured | reconstructed).\n");
  s.add_options(app);
  return bilevel::apps::run_app(app, argc, argv, [&] {
    const std::string ini = bilevel::apps::settings_ini(app);
    if (s.precision == "double")
      bilevel::apps::train<double>(s, ini);
    else
      bilevel::apps::train<float>(s, ini);
  });
}
