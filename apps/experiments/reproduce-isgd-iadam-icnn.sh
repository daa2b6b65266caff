#!/usr/bin/env bash
# Reduced-scale reproduction of the main paper's section 4.3 (Figures 6-7): ISGD against IAdam
# (Adam on the same inexact stochastic hypergradients) on ICNN denoising (sigma = 25/255), both
# with alpha0 = 1e-2 and eps_k = 1e-2 (k+1)^-0.5, fixed and decaying (q = 0.5) steps, each run to
# the same cost budget. The ICNN is the paper's (32 hidden channels, 5x5) started at
# exp(s) = 0.01 (at 1 the lower level is too stiff to solve in minutes). 32 random 64x64 colour
# crops, batch 8, test PSNR on 4 centre crops 96x96.
# Writes apps/experiments/results/isgd-iadam-icnn/{<setting>.csv, summary.csv, plot.png}.
#   usage: apps/experiments/reproduce-isgd-iadam-icnn.sh [budget]   (default 20000; ~20 min)
source "$(dirname "$0")/common.sh"
budget=${1:-20000}
exp=isgd-iadam-icnn
model=(-r icnn --icnn-scale 0.01 --budget "$budget" --test-interval 10 --test-eps 1e-2 --eps0 1e-2 --p 0.5
       --alpha0 1e-2)
echo "== $exp: ISGD vs IAdam on ICNN, cost budget $budget per setting"
while read -r name algorithm q; do
  run_setting $exp "$name" "${model[@]}" -a "$algorithm" --q "$q"
done <<'SETTINGS'
isgd_q0      isgd  0
isgd_q0.5    isgd  0.5
iadam_q0     iadam 0
iadam_q0.5   iadam 0.5
SETTINGS
summarize $exp
bash "$(dirname "$0")/plot.sh" "$results/$exp" "ISGD vs IAdam on ICNN denoising"
