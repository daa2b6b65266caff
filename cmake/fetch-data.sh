#!/usr/bin/env bash
# Fetches Bilevel's default dataset (DESIGN.md section 7): natural photographs shipped by Debian
# packages, downloaded with `apt-get download` and unpacked with `dpkg-deb -x` (nothing is
# installed). Writes DEST/train, DEST/test, DEST/check and DEST/MANIFEST.tsv (file, bytes,
# licence, sha256). check/ holds 24 photographs from other packages (desktop backgrounds and
# scikit-learn's two sample photos, smooth and textured): no app reads it unless told to, so it
# stays out of training and of the test set, and tells whether a model generalises.
# Idempotent: a second run verifies the files against the manifest and downloads nothing.
#
#   usage: cmake/fetch-data.sh [DEST]        (default DEST: data)
set -euo pipefail
dest=${1:-data}
manifest="$dest/MANIFEST.tsv"
here=$(cd "$(dirname "$0")" && pwd)
reference="$here/data-manifest.tsv"

verify() {
  local bad=0 n=0
  while IFS=$'\t' read -r file bytes licence sum; do
    [ "$file" = file ] && continue
    n=$((n + 1))
    if [ ! -f "$dest/$file" ] || [ "$(sha256sum "$dest/$file" | cut -d' ' -f1)" != "$sum" ]; then
      echo "fetch-data: $dest/$file is missing or differs from $manifest" >&2
      bad=1
    fi
  done <"$manifest"
  [ $bad = 0 ] && [ $n -gt 0 ] && echo "fetch-data: $n files in $dest verified against $manifest"
  return $bad
}

# A folder fetched before check/ existed is fetched again.
if [ -f "$manifest" ] && [ -d "$dest/check" ] && verify; then exit 0; fi

command -v apt-get >/dev/null || { echo "fetch-data: apt-get not found (Debian/Ubuntu needed)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
packages=(scratch tuxpaint-data python3-skimage palapeli-data mate-backgrounds
          plasma-workspace-wallpapers python3-sklearn)
echo "fetch-data: downloading ${packages[*]} (about 200 MB)"
if ! (cd "$work" && apt-get download "${packages[@]}" \
        2> >(grep -v 'unsandboxed as root' >&2)); then
  echo "fetch-data: apt-get download failed; run 'apt-get update' (as root) and try again" >&2
  exit 1
fi
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done

rm -rf "$dest/train" "$dest/test" "$dest/check"
mkdir -p "$dest/train" "$dest/test" "$dest/check"
rows=()
add() {  # add SRC SPLIT NAME LICENCE
  local src=$1 split=$2 name=$3 licence=$4
  cp "$src" "$dest/$split/$name"
  rows+=("$split/$name"$'\t'"$(stat -c %s "$src")"$'\t'"$licence"$'\t'"$(sha256sum "$src" | cut -d' ' -f1)")
}
r="$work/root/usr"
for sub in Indoors Nature Outdoors Sports; do
  for f in "$r"/share/scratch/Media/Backgrounds/$sub/*.jpg; do
    add "$f" train "scratch-$sub-$(basename "$f")" "CC-BY-SA-3.0 (Debian package scratch)"
  done
done
for f in "$r"/share/tuxpaint/templates/*.jpg; do
  add "$f" train "tuxpaint-$(basename "$f")" "GPL-2+ (Debian package tuxpaint-data)"
done
for name in astronaut.png camera.png chelsea.png coffee.png motorcycle_left.png rocket.jpg; do
  add "$r/lib/python3/dist-packages/skimage/data/$name" test "skimage-$name" \
      "BSD-3-Clause (Debian package python3-skimage)"
done
for f in "$r"/share/palapeli/collection/*.jpg; do
  add "$f" test "palapeli-$(basename "$f")" "GPL-2+ (Debian package palapeli-data)"
done
# The check set: photographs only (the packages' illustrations are left out), the 1280 x 800
# edition of each KDE wallpaper so that a 192 x 192 centre crop holds a scene, not a blur.
for name in Aqua Blinds Dune FreshFlower Garden GreenMeadow LadyBird RainDrops Storm TwoWings \
            Wood YellowFlower; do
  add "$r/share/backgrounds/mate/nature/$name.jpg" check "mate-$name.jpg" \
      "GPL-2+ (Debian package mate-backgrounds)"
done
for name in Autumn BytheWater ColdRipple DarkestHour EveningGlow FallenLeaf Kite OneStandsOut \
            Path summer_1am; do
  add "$r/share/wallpapers/$name/contents/images/1280x800.jpg" check "plasma-$name.jpg" \
      "GPL-2+ (Debian package plasma-workspace-wallpapers)"
done
for name in china.jpg flower.jpg; do
  add "$r/lib/python3/dist-packages/sklearn/datasets/images/$name" check "sklearn-$name" \
      "CC-BY-2.0 (Debian package python3-sklearn)"
done

tmp="$manifest.tmp$$"
{ printf 'file\tbytes\tlicence\tsha256\n'; printf '%s\n' "${rows[@]}" | sort; } >"$tmp"
mv "$tmp" "$manifest"
echo "fetch-data: $(ls "$dest/train" | wc -l) training, $(ls "$dest/test" | wc -l) test and" \
     "$(ls "$dest/check" | wc -l) check images in $dest"
if [ -f "$reference" ] && ! cmp -s <(cut -f1,4 "$manifest") <(cut -f1,4 "$reference"); then
  echo "fetch-data: warning: the images differ from the reference set in cmake/data-manifest.tsv" \
       "(a newer Debian package?); results may not match the README's numbers" >&2
fi
verify
