#!/usr/bin/env bash
# Plots every run of one experiment: running mean (10 steps) of the training loss and the test
# PSNR, both against the cost (nmAPG + CG iterations), into RESULTS_DIR/plot.png (gnuplot).
#   usage: apps/experiments/plot.sh RESULTS_DIR "title"
set -euo pipefail
dir=$1 title=${2:-$(basename "$1")}
command -v gnuplot >/dev/null || { echo "plot: gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
loss_plots=() psnr_plots=()
for f in "$dir"/*.csv; do
  name=$(basename "$f" .csv)
  [ "$name" = summary ] && continue
  awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
    { l[NR % 10] = $col["loss"]; n = NR - 1 < 10 ? NR - 1 : 10; s = 0
      for (k in l) s += l[k]; print $col["cost"], s / n }' "$f" >"$tmp/$name.loss"
  awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
    $col["test_psnr"] != "nan" { print $col["cost"], $col["test_psnr"] }' "$f" >"$tmp/$name.psnr"
  loss_plots+=("'$tmp/$name.loss' with lines lw 2 title '$name'")
  psnr_plots+=("'$tmp/$name.psnr' with linespoints lw 2 pt 7 ps 0.6 title '$name'")
done
join() { local IFS=,; echo "$*"; }
gnuplot <<GP
set terminal pngcairo size 1400,520 font ",11" noenhanced
set output '$dir/plot.png.tmp'
set multiplot layout 1,2 title "$title"
set grid; set key outside bottom center horizontal maxrows 3 font ",9"
set xlabel 'cost (nmAPG + CG iterations)'
set ylabel 'training loss (running mean of 10 steps)'; set logscale y
plot $(join "${loss_plots[@]}")
unset logscale y; set ylabel 'mean test PSNR [dB]'
plot $(join "${psnr_plots[@]}")
unset multiplot
GP
mv "$dir/plot.png.tmp" "$dir/plot.png"
echo "plot: wrote $dir/plot.png"
