// bilevel-train: learns a regularizer's parameters by bilevel optimisation with inexact
// hypergradients (ISGD, IAdam, MAID or HOAG) and writes a CSV log, checkpoints, test panels
// and a JSON summary.

#include <bilevel-train/train_run.hpp>
#include <common/app_main.hpp>
#include <common/settings_ini.hpp>

int main(int argc, char** argv) {
  bilevel::apps::TrainSettings s;
  CLI::App app{
      "Learns a regularizer by bilevel optimisation with inexact stochastic hypergradients.",
      "bilevel-train"};
  bilevel::apps::last_option_wins(app);
  app.footer(
      "Examples:\n"
      "  # the main job's three-layer CRR (apps/experiments/main-job.sh; the CRR options'\n"
      "  # defaults): ISGD, fixed step, the best of 130 steps by 8 validation crops\n"
      "  bilevel-train --n-train 128 --n-val 8 --alpha0 8e-2 --max-steps 130 --n-test 0 \\\n"
      "      --test-crop 192 --output out/crr\n"
      "  # tune smoothed TV (alpha, nu) by IAdam on the same data\n"
      "  bilevel-train -r tv -a iadam --alpha0 0.1 --max-steps 40 --output out/tv\n"
      "  # ICNN by IAdam with decaying accuracy, then resume after Ctrl-C\n"
      "  bilevel-train -r icnn --icnn-scale 0.01 -a iadam --budget 50000 -o out/icnn\n"
      "  bilevel-train -r icnn --icnn-scale 0.01 -a iadam --budget 50000 -o out/icnn "
      "--resume out/icnn/checkpoint.h5\n"
      "  # FoE by MAID (full batch) for inpainting, options from a file\n"
      "  bilevel-train --config out/foe/settings.ini\n"
      "  # data-parallel over 4 MPI ranks (MPI builds): the same result as one rank\n"
      "  mpirun -np 4 bilevel-train --batch 32 --max-steps 100 -o out/crr4\n"
      "Outputs in --output: log.csv (one row per step), checkpoint.h5, settings.ini,\n"
      "summary.json, panels/<image>.png (clean | measured | reconstructed).\n");
  s.add_options(app);
  return bilevel::apps::run_app(
      app, argc, argv, s.precision,
      [&](auto scalar) {
        bilevel::apps::train<decltype(scalar)>(s, bilevel::apps::settings_ini(app));
      },
      bilevel::apps::Ranks::many);
}
