#!/usr/bin/env bash
# Builds the vSphere simulator the VMware tests run (test/vsphere/vcsim/main.go) from
# Debian's govmomi library, offline, into dist/test/vsphere/vcsim/vcsim. Quick when the
# binary is newer than its source.
#   needs: golang-go golang-github-vmware-govmomi-dev
set -euo pipefail
cd "$(dirname "$0")/.."
src=test/vsphere/vcsim
out=dist/test/vsphere/vcsim/vcsim
if [ -x "$out" ] && [ "$out" -nt "$src/main.go" ]; then exit 0; fi
if ! command -v go >/dev/null || [ ! -d /usr/share/gocode/src/github.com/vmware/govmomi ]; then
  echo "[setup] cannot build vcsim: install golang-go and golang-github-vmware-govmomi-dev" >&2
  exit 1
fi
printf '[setup] building vcsim (govmomi %s)\n' "$(dpkg-query -W -f='${Version}' golang-github-vmware-govmomi-dev 2>/dev/null || echo '?')" >&2
mkdir -p "$(dirname "$out")"
(cd "$src" && GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS=-mod=mod go build -o "$OLDPWD/$out.tmp" .)
mv "$out.tmp" "$out"
