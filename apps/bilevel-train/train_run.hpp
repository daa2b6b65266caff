#pragma once
// The body of bilevel-train: load and check every input, build the model and the trainer
// (restoring a checkpoint on --resume), then step with a progress line, a CSV row and a
// checkpoint per step, and finish with the test evaluation, PNG panels and summary.json.
// Under mpirun every rank trains its share of each batch; rank 0 writes and prints.

#include <algorithm>
#include <bilevel-train/train_settings.hpp>
#include <bilevel/bilevel.hpp>
#include <bilevel/train/model.hpp>
#include <bilevel/train/trainer.hpp>
#include <common/app_main.hpp>
#include <common/build_info.hpp>
#include <common/csv_log.hpp>
#include <common/interrupt.hpp>
#include <common/output_folder.hpp>
#include <common/progress.hpp>
#include <common/settings_json.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace bilevel::apps {

/// idle / idle_max: rank 0's and the longest wait of any rank for the slowest (MPI runs).
inline std::string csv_header() {
  return "step,cost,step_cost,loss,eps,delta,alpha,z_norm,bound,test_psnr,test_cost,seconds,"
         "idle,idle_max,val_psnr,val_cost";
}
inline std::string csv_row(const StepRecord& r) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%ld,%ld,%ld,%.9g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%ld,%.3f,%.4f,%.4f,%.6g,%ld", r.k,
                r.cost, r.step_cost, r.loss, r.eps, r.delta, r.alpha, r.z_norm, r.bound,
                r.test_psnr, r.test_cost, r.seconds, r.idle_seconds, r.idle_seconds_max,
                r.validation_psnr, r.validation_cost);
  return buf;
}

inline void print_progress(const StepRecord& r, const TrainSettings& s, double f, double f0) {
  char cost[64], test[32] = "", val[32] = "";
  if (s.budget > 0)
    std::snprintf(cost, sizeof cost, "%ld/%ld", r.cost, s.budget);
  else
    std::snprintf(cost, sizeof cost, "%ld", r.cost);
  if (std::isfinite(r.test_psnr)) std::snprintf(test, sizeof test, "  test %6.2f dB", r.test_psnr);
  if (std::isfinite(r.validation_psnr))
    std::snprintf(val, sizeof val, "  val %6.2f dB", r.validation_psnr);
  std::printf("step %5ld  cost %14s  loss %.4e  eps %.2e  alpha %.2e%s%s  %s  ETA %s\n", r.k, cost,
              r.loss, r.eps, r.alpha, test, val, format_duration(r.seconds).c_str(),
              format_duration(eta_seconds(r.seconds, f, f0)).c_str());
  std::fflush(stdout);
}

template <class Scalar>
void train(const TrainSettings& s, const std::string& settings_ini) {
  using Exec = DefaultExecSpace;
  Exec space;
  const Communicator comm = world();
  const bool root = comm.is_root();
  // Inputs first: nothing is written until all of them have been read and checked.
  require(s.budget > 0 || s.max_steps > 0 || s.max_seconds > 0,
          "no stopping rule: give --budget, --max-steps or --max-seconds");
  check_run_folder(s.output, s.resume, s.overwrite);
  comm.barrier();  // every rank has checked the folder before rank 0 writes into it
  const TrainOptions opt0 = s.train_options();
  const bool stochastic =
      !make_method<Scalar, Exec>(opt0.method, opt0.schedule, opt0.method_options)->full_batch();
  require(!stochastic || s.batch <= s.data.n_train, "--batch ", s.batch,
          " is larger than --n-train ", s.data.n_train);
  const HostSet train_host = s.data.training_set();
  const HostSet test_host = s.data.test_set();
  const TaskSpec task = s.data.task_spec();
  const ModelSpec spec = s.model.spec(s.data.num_channels(), s.data.seed);
  auto reg = make_regularizer<Scalar, Exec>(space, spec);
  TaskData<Scalar, Exec> train(space, task, io::to_device<Scalar>(train_host.images, "train"), 0);
  TaskData<Scalar, Exec> test(space, task, io::to_device<Scalar>(test_host.images, "test"),
                              kTestIdOffset);
  TrainOptions opt = opt0;
  opt.checkpoint_attributes = {{model_attribute(), spec.to_string()}};
  Trainer<Scalar, Exec> trainer(space, *reg, train, &test, opt, comm);
  std::optional<TaskData<Scalar, Exec>> validation;
  if (s.data.n_val > 0) {
    validation.emplace(space, task, io::to_device<Scalar>(s.data.validation_set().images, "val"),
                       kValidationIdOffset);
    trainer.set_validation(*validation);
  }
  if (!s.resume.empty()) trainer.load_checkpoint(s.resume);

  const std::string checkpoint = s.output + "/checkpoint.h5";
  CsvLog log(s.output + "/log.csv", csv_header());
  if (root) {
    make_output_folder(s.output);
    make_output_folder(s.output + "/panels");
    io::write_text_atomically(s.output + "/settings.ini", settings_ini);
    if (!s.resume.empty()) log.resume(trainer.iteration());
  }
  catch_interrupts();

  const long k0 = trainer.iteration(), c0 = trainer.cost();
  const double f0 = fraction_done(c0, s.budget, k0, s.max_steps, 0, s.max_seconds);
  const bool quiet = s.quiet || !root;
  if (!quiet) {
    std::printf(
        "bilevel-train: %s %s, %s on %d crops %dx%d (test: %d images %dx%d), %s, %s%s\n",
        regularizer_name(spec.kind).c_str(), task_name(task.kind).c_str(), s.algorithm.c_str(),
        train.size(), s.data.crop, s.data.crop, test.size(), s.data.test_crop, s.data.test_crop,
        s.precision.c_str(),
        s.resume.empty() ? "fresh start" : ("resumed at step " + std::to_string(k0)).c_str(),
        comm.distributed() ? (", " + std::to_string(comm.size()) + " MPI ranks").c_str() : "");
    if (!s.resume.empty() && trainer.checkpoint_ranks() != comm.size())
      std::printf(
          "bilevel-train: the checkpoint was written by %d rank(s), this run has %d: "
          "every warm start is kept (each rank holds all of them)\n",
          trainer.checkpoint_ranks(), comm.size());
  }
  StepRecord last;
  while (!trainer.done()) {
    last = trainer.step();
    if (root) log.append(csv_row(last));
    require(std::isfinite(last.loss), "training diverged at step ", last.k,
            " (loss is not finite); lower --alpha0 or --eps0");
    const bool stop = comm.any(interrupted() != 0);  // every rank stops at the same step
    if ((last.k + 1) % s.checkpoint_interval == 0 || trainer.done() || stop)
      trainer.save_checkpoint(checkpoint);
    if (!quiet)
      print_progress(
          last, s,
          fraction_done(last.cost, s.budget, last.k + 1, s.max_steps, last.seconds, s.max_seconds),
          f0);
    if (stop)
      throw Interrupted("interrupted after step " + std::to_string(last.k) +
                        "; continue with the same options and --resume " + checkpoint);
  }
  if (trainer.iteration() == k0) trainer.save_checkpoint(checkpoint);  // nothing left to do
  // The checkpoint is final: from here on Ctrl-C ends the process at once, saying how to redo
  // the evaluation; the outputs below are written atomically, so none is left half-written.
  exit_on_interrupt(
      "bilevel-train: interrupted during the final test evaluation; the checkpoint "
      "is complete: run again with the same options and --resume " +
      checkpoint + " to finish it");
  if (comm.any(interrupted() != 0))
    throw Interrupted("interrupted after step " + std::to_string(trainer.iteration() - 1) +
                      "; continue with the same options and --resume " + checkpoint);

  // Final evaluation: test reconstructions (warm-started), panels and the summary, of the best
  // validated model when the run has validation data.
  const auto& best = trainer.best_model();
  const bool selected = trainer.has_validation() && best.step >= 0;
  if (selected) {
    trainer.use_best_model();
    if (!quiet)
      std::printf(
          "bilevel-train: testing the best model by validation: after step %ld, %.2f dB "
          "on %d crops\n",
          best.step, best.psnr, s.data.n_val);
  }
  long test_cost = 0;
  const auto psnr_rec = trainer.test_psnrs(&test_cost);
  const auto psnr_meas = psnr_host(space, test.measured(), test.clean());
  const auto measured = io::to_host(test.measured());
  const auto rec = io::to_host(trainer.test_reconstructions());
  if (!root) return;  // every rank took part in the evaluation; rank 0 writes
  nlohmann::json images = nlohmann::json::array();
  for (std::size_t k = 0; k < rec.size(); ++k) {
    io::write_png(s.output + "/panels/" + test_host.names[k] + ".png",
                  side_by_side({&test_host.images[k], &measured[k], &rec[k]}));
    images.push_back({{"name", test_host.names[k]},
                      {"psnr_measured", psnr_meas[k]},
                      {"psnr_reconstructed", psnr_rec[k]}});
  }
  nlohmann::json summary;
  summary["program"] = "bilevel-train";
  summary["settings"] = settings_json(settings_ini);
  summary["model"] = spec.to_string();
  summary["build"] = build_info(s.precision);
  summary["steps"] = trainer.iteration();
  summary["cost"] = trainer.cost();
  summary["final_loss"] = last.loss;
  summary["final_eps"] = trainer.current_eps();
  summary["wall_seconds"] = last.seconds;
  summary["ranks"] = comm.size();
  if (comm.distributed()) {
    const auto& lb = trainer.load_balance();
    summary["load_balance"] = {{"mode", s.balance},
                               {"balanced_steps", lb.balanced_steps},
                               {"max_load_iterations", lb.max_load},
                               {"consecutive_max_load_iterations", lb.consecutive_max_load}};
  }
  summary["reported_model"] = selected ? "best by validation" : "last iterate";
  if (trainer.has_validation())
    summary["validation"] = {{"crops", s.data.n_val},
                             {"interval", s.val_interval},
                             {"best_step", best.step},
                             {"best_mean_psnr", best.psnr}};
  summary["test"] = {{"images", images},
                     {"mean_psnr_measured", mean(psnr_meas)},
                     {"mean_psnr_reconstructed", mean(psnr_rec)},
                     {"reconstruction_cost", test_cost},
                     {"eps", s.test_eps}};
  if (auto* tv = dynamic_cast<SmoothedTV<Scalar, Exec>*>(reg.get()))
    summary["tv"] = {{"alpha", tv->alpha()}, {"nu", tv->nu()}};
  const auto& capped = trainer.test_evaluator().capped();
  if (!capped.empty()) {
    nlohmann::json names = nlohmann::json::array();
    for (int k : capped) names.push_back(test_host.names[std::size_t(k)]);
    summary["test"]["stopped_at_iteration_cap"] = names;
  }
  io::write_text_atomically(s.output + "/summary.json", summary.dump(2) + "\n");

  int width = 28;  // the name column fits the longest name
  for (const auto& name : test_host.names) width = std::max(width, int(name.size()) + 1);
  std::printf("%-*s %10s %10s\n", width, "test image", "measured", "restored");
  for (std::size_t k = 0; k < rec.size(); ++k)
    std::printf("%-*s %10.2f %10.2f\n", width, test_host.names[k].c_str(), psnr_meas[k],
                psnr_rec[k]);
  std::printf("%-*s %10.2f %10.2f\n", width, "mean PSNR [dB]", mean(psnr_meas), mean(psnr_rec));
  std::printf("%ld steps, cost %ld, %s; wrote %s/{log.csv,checkpoint.h5,summary.json,panels/}\n",
              trainer.iteration(), trainer.cost(), format_duration(last.seconds).c_str(),
              s.output.c_str());
  if (!capped.empty()) {  // the PSNRs exist but are not certified to --test-eps
    std::string names;
    for (int k : capped)
      names += (names.empty() ? "'" : ", '") + test_host.names[std::size_t(k)] + "'";
    std::fflush(stdout);
    std::fprintf(stderr,
                 "bilevel-train: warning: %zu of %zu test images stopped at the iteration cap (%d) "
                 "before |grad h| <= %g: %s; their PSNRs are approximate (raise --test-eps)\n",
                 capped.size(), rec.size(), trainer.test_evaluator().max_iterations(), s.test_eps,
                 names.c_str());
  }
}

}  // namespace bilevel::apps
