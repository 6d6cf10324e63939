#!/usr/bin/env bash
# Builds every native addon under native/ (one binding.gyp per addon) with node-gyp.
# An addon whose system library is missing is reported and skipped: the features that need
# it fail with a message naming the addon and the package to install.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
for gyp in native/*/binding.gyp; do
  [ -e "$gyp" ] || continue
  dir=$(dirname "$gyp")
  name=$(basename "$dir")
  stamp="$dir/build/.extentlog-stamp"
  digest=$(cat "$dir"/binding.gyp "$dir"/*.cc "$dir"/*.h 2>/dev/null | sha256sum | cut -c1-16)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
    continue
  fi
  printf '[setup] building native addon %s\n' "$name" >&2
  if (cd "$dir" && npx --no-install node-gyp rebuild --loglevel=warn >build.log 2>&1); then
    echo "$digest" >"$stamp"
    rm -f "$dir/build.log"
  else
    printf '[setup] native addon %s did not build (see %s/build.log); features that need it will say so\n' "$name" "$dir" >&2
    [ "${EXTENTLOG_REQUIRE_NATIVE:-}" = 1 ] && status=1
  fi
done
exit $status
