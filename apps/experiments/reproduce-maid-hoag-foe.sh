#!/usr/bin/env bash
# Reduced-scale reproduction of the talk's comparison: MAID (inexact backtracking with adaptive
# eps and delta) against HOAG (eps_k on a fixed schedule, step halved on an increase) on Field of
# Experts denoising (10 filters 7x7, sigma = 25/255), full batch of 16 random 64x64 colour crops,
# each run to the same cost budget; test PSNR on 4 centre crops 96x96 every 2 steps.
# HOAG is run with a fast and a slow eps schedule (its result depends on that choice; MAID's
# adapts). Double precision: HOAG's k^-2 schedule asks for eps ~ 3e-4 within 20 steps, where
# float nmAPG needs thousands of iterations per image. Writes apps/experiments/results/maid-hoag-foe/{<setting>.csv, summary.csv, plot.png}.
#   usage: apps/experiments/reproduce-maid-hoag-foe.sh [budget]   (default 30000)
source "$(dirname "$0")/common.sh"
budget=${1:-30000}
exp=maid-hoag-foe
model=(-r foe --n-train 16 --budget "$budget" --test-interval 2 --test-eps 1e-2 --precision double)
echo "== $exp: MAID vs HOAG on FoE, cost budget $budget per setting"
while read -r name algorithm alpha0 eps0 p; do
  run_setting $exp "$name" "${model[@]}" -a "$algorithm" --alpha0 "$alpha0" --eps0 "$eps0" --p "$p"
done <<'SETTINGS'
maid             maid  1e-2 1e-1 0
hoag_eps-p1      hoag  1e-2 1e-1 1
hoag_eps-p2      hoag  1e-2 1e-1 2
SETTINGS
summarize $exp
bash "$(dirname "$0")/plot.sh" "$results/$exp" "MAID vs HOAG on FoE denoising (full batch)"
