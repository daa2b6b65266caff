#pragma once
// Every option of bilevel-train, its default and its check, and how it becomes the library's
// TrainOptions. Defaults are the main paper's: its CRR trained by ISGD with the well-performing
// fixed step (alpha0 = 1e-2) and accuracy schedule (eps0 = 1e-2, p = 0.5); the main job's
// faster choices are spelled out in apps/experiments/main-job.sh.

#include <bilevel/optim/methods.hpp>
#include <bilevel/train/trainer.hpp>
#include <common/app_main.hpp>
#include <common/data_options.hpp>
#include <common/model_options.hpp>
#include <common/validators.hpp>
#include <string>
#include <vector>

#include "method_cli.hpp"

namespace bilevel::apps {

struct TrainSettings {
  DataOptions data;
  ModelOptions model;
  std::string algorithm = "isgd";
  std::vector<std::string> method_options;  // NAME=VALUE, the method's own tunables
  double alpha0 = 1e-2, q = 0;
  double eps0 = 1e-2, p = 0.5;
  std::string decay = "polynomial";
  double delta_factor = 1;
  int batch = 8;
  long budget = 0, max_steps = 0;
  double max_seconds = 0;
  int test_interval = 10;
  int val_interval = 10;
  // |grad h| <= 1e-2 certifies |x - x_hat| <= 5e-3 over a whole image: PSNR exact to 0.01 dB.
  double test_eps = 1e-2;
  int checkpoint_interval = 1;
  bool bound = true;
  std::string balance = "auto";
  std::string output = "out/train";
  std::string precision = "float";
  std::string resume;
  bool overwrite = false;
  bool quiet = false;

  void add_options(CLI::App& app) {
    data.add_options(app, true);
    model.add_options(app);
    app.add_option("-a,--algorithm", algorithm, method_list())
        ->capture_default_str()
        ->check(CLI::IsMember(method_names()));
    app.add_option(
           "--method-option", method_options,
           "NAME=VALUE: one of the method's own options (repeatable); " + method_option_list())
        ->check(name_equals_number());
    app.add_option("--alpha0", alpha0, "step size alpha_k = alpha0 (k+1)^-q")
        ->capture_default_str()
        ->check(finite_positive());
    app.add_option("--q", q, "step-size decay exponent")
        ->capture_default_str()
        ->check(finite_in(0, 10));
    app.add_option("--eps0", eps0, "lower-level accuracy eps_0")
        ->capture_default_str()
        ->check(finite_positive());
    app.add_option("--p", p, "accuracy decay exponent: eps_k = eps0 (k+1)^-p (polynomial)")
        ->capture_default_str()
        ->check(finite_in(0, 10));
    app.add_option("--decay", decay, "accuracy decay: polynomial, logarithmic or geometric")
        ->capture_default_str()
        ->check(CLI::IsMember({"polynomial", "poly", "logarithmic", "log", "geometric"}));
    app.add_option("--delta-factor", delta_factor, "CG tolerance delta_k = factor eps_k")
        ->capture_default_str()
        ->check(finite_positive());
    app.add_option("-b,--batch", batch, "mini-batch size (isgd, iadam)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1 << 20));
    app.add_option("--budget", budget, "stop at this cost: solver + CG iterations (0: none)")
        ->capture_default_str()
        ->check(digits_only());
    app.add_option("--max-steps", max_steps, "stop after this many steps (0: none)")
        ->capture_default_str()
        ->check(digits_only());
    app.add_option("--max-seconds", max_seconds, "stop after this wall time (0: none)")
        ->capture_default_str()
        ->check(finite_in(0, 1e9));
    app.add_option("--test-interval", test_interval,
                   "steps between test PSNRs (0: only at the end)")
        ->capture_default_str()
        ->check(digits_only());
    app.add_option("--val-interval", val_interval,
                   "steps between validation PSNRs with --n-val (and after the last step); the "
                   "best validated model is the one reported and restored")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--test-eps", test_eps, "accuracy of the test reconstructions")
        ->capture_default_str()
        ->check(finite_positive());
    app.add_option("--checkpoint-interval", checkpoint_interval, "steps between checkpoints")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_flag("--bound,!--no-bound", bound,
                 "report the hypergradient error bound every step (default; its constants are "
                 "re-estimated every 10 steps: 2-12% of the run's time); --no-bound skips it");
    app.add_option("--balance", balance,
                   "MPI runs: split each batch over the ranks by position (off), by the samples' "
                   "last solver + CG iterations (on), or by them while that has saved "
                   "iterations lately (auto); the results are the same, only waiting changes")
        ->capture_default_str()
        ->check(CLI::IsMember({"off", "on", "auto"}));
    add_output_option(app, output, "output folder");
    add_precision_option(app, precision);
    app.add_option("--resume", resume, "continue from this checkpoint (same options as its run)")
        ->check(CLI::ExistingFile);
    app.add_flag("--overwrite", overwrite,
                 "start afresh in an output folder that holds an earlier run, replacing it");
    app.add_flag("--quiet", quiet, "no progress lines");
    app.set_config("--config", "", "read options from an INI/TOML file (written to settings.ini)");
    // A misspelt or unknown key is an error, not a silently ignored default.
    app.allow_config_extras(CLI::config_extras_mode::error);
  }

  TrainOptions train_options() const {
    TrainOptions o;
    o.method = algorithm;
    o.method_options = parse_method_options(method_options);
    o.batch_size = batch;
    o.seed = data.seed;
    o.schedule.step = {alpha0, q};
    o.schedule.accuracy = {eps0, p, parse_accuracy_decay(decay)};
    o.schedule.delta_factor = delta_factor;
    o.cost_budget = budget;
    o.max_steps = max_steps;
    o.max_seconds = max_seconds;
    o.test_interval = test_interval;
    o.test_eps = test_eps;
    o.validation_interval = data.n_val > 0 ? val_interval : 0;
    o.report_bound = bound;
    o.balance = parse_balance_mode(balance);
    return o;
  }
};

}  // namespace bilevel::apps
