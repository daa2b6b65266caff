#!/usr/bin/env bash
# The main job (README quick start): fetch the default dataset if it is missing, tune the
# smoothed-TV baseline (its alpha and nu, learned by IAdam), train a CRR denoiser by ISGD
# (sigma = 25/255, 64x64 colour crops, batch 8, alpha_k = alpha0 (k+1)^-q with q = 0.5,
# eps_k = eps0 (k+1)^-p), and print the mean test PSNR of the noisy images, of TV and of the
# CRR. Each run reports its best model by 8 validation crops (further crops of the training
# images, never in a batch), measured every 10 (TV) or 20 (CRR) steps and after the last.
# Writes OUT/tv and OUT/crr (log.csv, checkpoint.h5, summary.json, panels/ clean | noisy |
# restored).
#
#   usage: apps/experiments/main-job.sh [--quick] [bilevel-train options for both runs...]
#   env:   BUILD (default build-openmp if built, else build), DATA (default data), OUT (default
#          out/main-job),
#          CRR_STEPS (ISGD steps of the CRR, default 300: about 6 minutes on two threads)
# --quick trains for a few seconds only (a smoke run of the whole pipeline, used by the tests);
# further options override the job's (the last of a repeated option wins). Each run starts
# afresh (--overwrite): rerunning the job replaces OUT's previous results.
source "$(dirname "$0")/common.sh"  # root, build, data, train; the apps and the data are there
out=${OUT:-$root/out/main-job}
crr_steps=${CRR_STEPS:-300}
tv_steps=30
if [ "${1:-}" = --quick ]; then crr_steps=3 tv_steps=2; shift; fi

common=(--task denoise --sigma 25 --crop 64 --n-train 32 --batch 8 --test-dir "$data/test"
        --train-dir "$data/train" --n-test 0 --test-crop 96 --test-eps 1e-2 --test-interval 50
        --n-val 8 --overwrite)
echo "== apps: $build"
echo "== smoothed TV: alpha and nu by IAdam, $tv_steps steps"
"$train" "${common[@]}" -r tv -a iadam --alpha0 0.1 --max-steps "$tv_steps" --val-interval 10 \
  "$@" -o "$out/tv"
echo "== CRR by ISGD, $crr_steps steps"
"$train" "${common[@]}" -r crr --crr-channels 32 --crr-scale 0.05 --crr-beta 1000 \
  -a isgd --alpha0 4e-2 --q 0.5 --eps0 1e-2 --p 0.5 --max-steps "$crr_steps" --val-interval 20 \
  "$@" -o "$out/crr"

# "mean_psnr_measured": 20.16... in summary.json (one key per line).
mean() { sed -n "s/.*\"$2\": \([0-9.]*\).*/\1/p" "$out/$1/summary.json"; }
printf '\n%-28s %10s\n' "mean test PSNR" "[dB]"
printf '%-28s %10.2f\n' "noisy (sigma 25/255)" "$(mean tv mean_psnr_measured)" \
  "smoothed TV (tuned)" "$(mean tv mean_psnr_reconstructed)" \
  "CRR (learned by ISGD)" "$(mean crr mean_psnr_reconstructed)"
best() { sed -n 's/.*"best_step": \([0-9-]*\).*/\1/p' "$out/$1/summary.json"; }
echo "models: the best by 8 validation crops (TV after step $(best tv), CRR after step $(best crr))"
echo "panels: $out/crr/panels/  $out/tv/panels/"
