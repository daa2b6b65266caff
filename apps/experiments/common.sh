# Sourced by the main job and the experiment scripts: where the build, the data and the results
# are (fetching the data if it is missing), and how one setting is trained and recorded.
#   env: BUILD (default build-openmp when its apps are built, else build), DATA (default
#        data), OUT (scratch: checkpoints, panels; default out/experiments), RESULTS
#        (committed CSVs and plots; default apps/experiments/results). OpenMP builds get
#        Kokkos' recommended OMP_PROC_BIND=spread OMP_PLACES=threads unless they are set.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -z "${BUILD:-}" ] && [ -x "$root/build-openmp/apps/bilevel-train" ]; then
  build=$root/build-openmp
else
  build=${BUILD:-$root/build}
fi
export OMP_PROC_BIND=${OMP_PROC_BIND:-spread} OMP_PLACES=${OMP_PLACES:-threads}
data=${DATA:-$root/data}
scratch=${OUT:-$root/out/experiments}
results=${RESULTS:-$root/apps/experiments/results}
train=$build/apps/bilevel-train

[ -x "$train" ] || { echo "$(basename "$0" .sh): $train not found (build the apps first)" >&2; exit 1; }
[ -d "$data/train" ] && [ -d "$data/test" ] || bash "$root/cmake/fetch-data.sh" "$data"

# run_setting EXPERIMENT NAME bilevel-train-options...
# Trains one setting into $scratch/EXPERIMENT/NAME (resuming an interrupted run from its
# checkpoint) and copies its log to $results/EXPERIMENT/NAME.csv.
run_setting() {
  local experiment=$1 name=$2
  shift 2
  local dir=$scratch/$experiment/$name
  local args=(--train-dir "$data/train" --test-dir "$data/test" --quiet "$@" -o "$dir")
  if [ -f "$dir/summary.json" ]; then
    echo "  $name: done before"
  else
    echo "  $name: bilevel-train $*"
    # Continue an interrupted setting; without a checkpoint nothing of it can be kept.
    if [ -f "$dir/checkpoint.h5" ]; then args+=(--resume "$dir/checkpoint.h5"); else args+=(--overwrite); fi
    "$train" "${args[@]}" >/dev/null
  fi
  mkdir -p "$results/$experiment"
  cp "$dir/log.csv" "$results/$experiment/$name.csv"
  cp "$dir/summary.json" "$results/$experiment/$name.json"
}

# summarize EXPERIMENT: one row per setting (steps, cost, mean loss of the last 10 steps, best
# test PSNR during the run and the final one) into $results/EXPERIMENT/summary.csv, printed.
summarize() {
  local dir=$results/$1
  {
    echo "setting,steps,cost,loss_last10,test_psnr_best,test_psnr_final,seconds"
    for f in "$dir"/*.csv; do
      case $f in */summary.csv) continue ;; esac
      local final
      final=$(sed -n 's/.*"mean_psnr_reconstructed": \([0-9.]*\).*/\1/p' "${f%.csv}.json")
      awk -F, -v name="$(basename "$f" .csv)" -v final="$final" '
        NR == 1 { for (i = 1; i <= NF; ++i) col[$i] = i; next }
        { loss[n++] = $col["loss"]; cost = $col["cost"]; sec = $col["seconds"]
          p = $col["test_psnr"]; if (p != "nan" && p != "" && p > best) best = p }
        END { s = 0; m = n < 10 ? n : 10; for (i = n - m; i < n; ++i) s += loss[i]
              printf "%s,%d,%d,%.4g,%.2f,%.2f,%.0f\n", name, n, cost, s / m, best, final, sec }' "$f"
    done
  } >"$dir/summary.csv.tmp"
  mv "$dir/summary.csv.tmp" "$dir/summary.csv"
  column -s, -t <"$dir/summary.csv"
}
