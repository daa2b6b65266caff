#!/usr/bin/env bash
# Reduced-scale reproduction of the main paper's section 4.1 (Figure 1): ISGD on CRR denoising
# (sigma = 25/255) over a few settings of the accuracy schedule eps_k = eps0 (k+1)^-p and the
# step alpha_k = alpha0 (k+1)^-q, each run to the same cost budget. The CRR is the main job's
# (one 5x5 layer of 32 filters, exp(s) = 0.05, Huber beta = 1000), 32 random 64x64 colour crops,
# batch 8, test PSNR on 4 centre crops 96x96 every 10 steps.
# Writes apps/experiments/results/isgd-crr/{<setting>.csv, summary.csv, plot.png}.
#   usage: apps/experiments/reproduce-isgd-crr.sh [budget]      (default 12000; ~20 min on 1 core)
source "$(dirname "$0")/common.sh"
budget=${1:-12000}
exp=isgd-crr
model=(-r crr --crr-channels 32 --crr-scale 0.05 --crr-beta 1000 --crr-init-gain 1 --crr-max-scale 0
       -a isgd --budget "$budget"
       --test-interval 10 --test-eps 1e-2)
echo "== $exp: ISGD on CRR, cost budget $budget per setting"
#            name                         eps0      p         alpha0      q
while read -r name eps0 p alpha0 q; do
  run_setting $exp "$name" "${model[@]}" --eps0 "$eps0" --p "$p" --alpha0 "$alpha0" --q "$q"
done <<'SETTINGS'
eps1e-2_p0.5_alpha2e-2_q0     1e-2 0.5  2e-2 0
eps1e-2_p0.5_alpha1e-2_q0     1e-2 0.5  1e-2 0
eps1e-2_p0.25_alpha1e-2_q0    1e-2 0.25 1e-2 0
eps1e-2_p1_alpha1e-2_q0       1e-2 1    1e-2 0
eps1e-2_p0.5_alpha1e-3_q0     1e-2 0.5  1e-3 0
eps1e-2_p0.5_alpha1e-2_q0.5   1e-2 0.5  1e-2 0.5
eps1_p1_alpha1e-2_q0          1    1    1e-2 0
eps1e-4_p0_alpha1e-2_q0       1e-4 0    1e-2 0
SETTINGS
summarize $exp
bash "$(dirname "$0")/plot.sh" "$results/$exp" "ISGD on CRR denoising: accuracy and step-size schedules"
