#!/usr/bin/env bash
# The main job (README quick start): fetch the default dataset if it is missing, tune the
# smoothed-TV baseline (its alpha and nu, learned by IAdam), train the paper's three-layer CRR
# (4 -> 8 -> 64 channels, 5x5, Huber beta = 3000) by ISGD with a fixed step and the accuracy
# schedule eps_k = eps0 (k+1)^-p (sigma = 25/255, 64x64 colour crops, batch 8), then compare
# both on the 192x192 centre crops of the test images (mean and per image) and on the check set
# (DATA/check: photographs from other packages, never used for training or selection).
# Each run reports its best model by 8 validation crops (further crops of the training images,
# never in a batch), measured every 10 steps and after the last.
# Writes OUT/tv and OUT/crr (log.csv, checkpoint.h5, summary.json, panels/ clean | noisy |
# restored) and OUT/check-tv, OUT/check-crr (the restored check photographs).
#
#   usage: apps/experiments/main-job.sh [--quick] [bilevel-train options for both runs...]
#   env:   BUILD (default build-openmp if built, else build), DATA (default data), OUT (default
#          out/main-job), SEED (default 0: crops, noise and initialisation),
#          CRR_STEPS (ISGD steps of the CRR, default 130: about 6.5 minutes on two threads)
# --quick trains for a few seconds only (a smoke run of the whole pipeline, used by the tests);
# further options override the job's (the last of a repeated option wins). Each run starts
# afresh (--overwrite): rerunning the job replaces OUT's previous results.
source "$(dirname "$0")/common.sh"  # root, build, data, train; the apps and the data are there
out=${OUT:-$root/out/main-job}
crr_steps=${CRR_STEPS:-130}
tv_steps=30
if [ "${1:-}" = --quick ]; then crr_steps=3 tv_steps=2; shift; fi
# A default data folder fetched before the check set existed gets it now.
[ -d "$data/check" ] || [ -n "${DATA:-}" ] || bash "$root/cmake/fetch-data.sh" "$data"

common=(--task denoise --sigma 25 --crop 64 --n-train 128 --batch 8 --test-dir "$data/test"
        --train-dir "$data/train" --n-test 0 --test-crop 192 --test-eps 1e-2 --test-interval 0
        --n-val 8 --val-interval 10 --seed "${SEED:-0}" --overwrite)
echo "== apps: $build"
echo "== smoothed TV: alpha and nu by IAdam, $tv_steps steps"
"$train" "${common[@]}" -r tv -a iadam --alpha0 0.1 --max-steps "$tv_steps" "$@" -o "$out/tv"
echo "== three-layer CRR by ISGD, $crr_steps steps"
"$train" "${common[@]}" -r crr --crr-scale 0.02 --crr-beta 3000 --crr-init-gain 4 \
  --crr-max-scale 0.2 -a isgd --alpha0 8e-2 --q 0 --eps0 1e-2 --p 0.5 \
  --max-steps "$crr_steps" "$@" -o "$out/crr"

# summary.json has one key per line: "mean_psnr_measured": 20.16...,
value() { sed -n "s/.*\"$2\": \([0-9.e+-]*\).*/\1/p" "$out/$1/summary.json"; }
best() { sed -n 's/.*"best_step": \([0-9-]*\).*/\1/p' "$out/$1/summary.json"; }
printf '\n%-34s %8s %8s %8s\n' "test image (centre crop)" "noisy" "TV" "CRR"
paste <(sed -n 's/.*"name": "\(.*\)".*/\1/p' "$out/crr/summary.json") \
      <(value tv psnr_measured) <(value tv psnr_reconstructed) <(value crr psnr_reconstructed) |
  awk -F'\t' '{ printf "%-34s %8.2f %8.2f %8.2f\n", $1, $2, $3, $4; n++; if ($4 > $3) won++ }
              END { printf "CRR ahead of TV on %d of %d test images\n", won, n }'

# The check set, restored at the test protocol's crop and accuracy (same noise for both models).
crop=$(value crr test-crop) eps=$(value crr eps)
check_mean=()
if [ -d "$data/check" ]; then
  for model in tv crr; do
    "$build/apps/bilevel-restore" -c "$out/$model/checkpoint.h5" --crop "${crop%.*}" \
      --eps "$eps" -o "$out/check-$model" "$data/check" >"$out/check-$model.txt"
  done
  # Rows "name size noisy restored iters"; the last row is "mean PSNR [dB] noisy restored".
  check_mean=($(paste <(awk '$2 ~ /x/ { print $1, $3, $4 }' "$out/check-tv.txt") \
                      <(awk '$2 ~ /x/ { print $4 }' "$out/check-crr.txt") |
                awk '{ m += $2; t += $3; c += $4; n++; if ($4 > $3) won++ }
                     END { printf "%.2f %.2f %.2f %d %d", m / n, t / n, c / n, won, n }'))
else
  echo "(no check set: $data/check is missing; cmake/fetch-data.sh fetches it)"
fi

printf '\n%-34s %8s %8s %8s\n' "mean PSNR [dB]" "noisy" "TV" "CRR"
printf '%-34s %8.2f %8.2f %8.2f\n' "test set, ${crop%.*}x${crop%.*} centre crops" \
  "$(value tv mean_psnr_measured)" "$(value tv mean_psnr_reconstructed)" \
  "$(value crr mean_psnr_reconstructed)"
if [ ${#check_mean[@]} = 5 ]; then
  printf '%-34s %8.2f %8.2f %8.2f   (CRR ahead on %d of %d)\n' \
    "check set, ${check_mean[4]} photographs" "${check_mean[@]}"
fi
echo "models: the best by 8 validation crops (TV after step $(best tv), CRR after step $(best crr))"
echo "panels: $out/crr/panels/  $out/tv/panels/"
