#!/usr/bin/env bash
# A single-node Ceph cluster (Debian bookworm's Ceph 16 "pacific") for tests and benchmarks:
# one monitor, one OSD, optionally a manager and a radosgw (S3) gateway, bound to 127.0.0.1,
# no systemd, `auth = none`, every pool of size 1. Every daemon is stopped by the PID it
# wrote under $CEPH_DIR/run.
#
#   test/peers/ceph.sh start          start a fresh cluster in $CEPH_DIR (wiped first)
#   test/peers/ceph.sh stop           stop it (SIGTERM, then SIGKILL after 10 s) and keep $CEPH_DIR
#   test/peers/ceph.sh status         `ceph -s`
#   test/peers/ceph.sh s3-user UID    create a radosgw user; prints its JSON (keys[0].access_key …)
#   test/peers/ceph.sh env            the variables a client needs (CEPH_CONF, RGW_ENDPOINT)
#
# Environment (all optional):
#   CEPH_DIR        cluster directory                       ${TMPDIR:-/tmp}/extentlog-ceph
#   CEPH_STORE      OSD object store: memstore | bluestore  memstore (fastest; data lives in RAM)
#   CEPH_MEMSTORE_BYTES   memstore capacity                 4294967296
#   CEPH_MON_PORT   monitor msgr2 port (msgr1 uses a second free port)   a free port
#   CEPH_POOLS      pools to create, space-separated        (none)
#   CEPH_RBD_POOLS  pools to create and `rbd pool init`     (none)
#   WITH_MGR=1      also start a manager (`ceph -s` PG statistics); not needed by RBD or radosgw
#   WITH_RGW=1      also start radosgw (S3) on 127.0.0.1:$RGW_PORT
#   RGW_PORT        radosgw port                            a free port
#   CEPH_AUTH       none | cephx (keys in $CEPH_DIR/keyring; not with WITH_RGW=1)   none
#
# Pitfalls this script handles: with `auth = none` msgr2's 'secure' mode is impossible, and
# radosgw asks for it by default, so all six ms_*_mode settings are 'crc' (otherwise radosgw
# retries EACCES forever); pools need `size 1` on one OSD; radosgw creates its own pools
# at start-up, which is why its first request can take a few seconds.
set -euo pipefail

D=${CEPH_DIR:-${TMPDIR:-/tmp}/extentlog-ceph}
STORE=${CEPH_STORE:-memstore}
AUTH=${CEPH_AUTH:-none}
WITH_MGR=${WITH_MGR:-0}
WITH_RGW=${WITH_RGW:-0}
CONF=$D/ceph.conf
export CEPH_CONF=$CONF

log() { printf '[ceph] %s\n' "$*" >&2; }

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})"
}

wait_for() { # wait_for <seconds> <cmd...>: polls every 0.2 s
  local n=$1; shift
  for _ in $(seq 1 $((n * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  log "timed out after ${n}s waiting for: $*"
  return 1
}

stop() {
  [ -d "$D/run" ] || return 0
  local f pid
  for f in "$D"/run/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
  done
  for f in "$D"/run/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  done
}

write_conf() {
  local fsid=$1 mon2=$2 mon1=$3 rgw=$4
  cat >"$CONF" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = $AUTH
auth service required = $AUTH
auth client required = $AUTH
auth supported = $AUTH
keyring = $D/keyring
ms cluster mode = crc
ms service mode = crc
ms client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
ms mon client mode = crc
client mount timeout = 30
rgw init timeout = 60
run dir = $D/run
pid file = $D/run/\$name.pid
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
osd crush chooseleaf type = 0
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
[mon]
mon data = $D/mon/\$cluster-\$id
mon cluster log file = $D/log/cluster.log
[mgr]
mgr data = $D/mgr/\$cluster-\$id
mgr initial modules =
[osd]
osd data = $D/osd/\$cluster-\$id
keyring = $D/osd/\$cluster-\$id/keyring
osd objectstore = $STORE
memstore device bytes = ${CEPH_MEMSTORE_BYTES:-4294967296}
bluestore block path = $D/osd/block.\$id
bluestore block create = true
bluestore block size = 10737418240
bluestore block db create = false
bluestore block wal create = false
osd memory target = 939524096
bluestore cache autotune = false
bluestore cache size = 134217728
osd max object name len = 460
osd max object namespace len = 64
osd fast fail on connection refused = true
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$rgw
rgw data = $D/rgw
rgw dns name = 127.0.0.1
rgw enable usage log = false
rgw thread pool size = 64
CONF
}

create_pool() { # create_pool <name>
  ceph osd pool create "$1" 8 8 >/dev/null
  ceph osd pool set "$1" size 1 --yes-i-really-mean-it >/dev/null 2>&1 || true
}

start() {
  stop || true
  rm -rf "$D"
  mkdir -p "$D"/{mon,osd,mgr,run,log,rgw}
  local fsid mon2 mon1 rgw
  fsid=$(cat /proc/sys/kernel/random/uuid)
  mon2=${CEPH_MON_PORT:-$(free_port)}
  mon1=$(free_port)
  rgw=${RGW_PORT:-$(free_port)}
  write_conf "$fsid" "$mon2" "$mon1" "$rgw"
  echo "$rgw" >"$D/rgw-port"

  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]" "$D/monmap" >/dev/null
  # cephx: the monitor's and client.admin's keys; with `none` the keyring is unused.
  ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$D/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
    --cap mgr 'allow *' >/dev/null
  ceph-mon --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring"
  ceph-mon -i a
  wait_for 30 ceph --connect-timeout 5 mon stat

  if [ "$WITH_MGR" = 1 ]; then
    mkdir -p "$D/mgr/ceph-x"
    ceph-mgr -i x
  fi

  local uuid id
  uuid=$(cat /proc/sys/kernel/random/uuid)
  local osd_key
  osd_key=$(ceph-authtool --gen-print-key)
  id=$(echo "{\"cephx_secret\": \"$osd_key\"}" | ceph osd new "$uuid" -i -)
  mkdir -p "$D/osd/ceph-$id"
  ceph-authtool --create-keyring "$D/osd/ceph-$id/keyring" --name "osd.$id" --add-key "$osd_key" >/dev/null
  ceph-osd -i "$id" --mkfs --osd-uuid "$uuid" >"$D/log/osd-mkfs.log" 2>&1
  ceph-osd -i "$id"
  wait_for 60 sh -c "ceph osd stat -f json | grep -q '\"num_up_osds\":1'"

  local pool
  for pool in ${CEPH_POOLS:-}; do create_pool "$pool"; done
  for pool in ${CEPH_RBD_POOLS:-}; do
    create_pool "$pool"
    rbd pool init "$pool"
  done

  if [ "$WITH_RGW" = 1 ]; then
    radosgw -n client.rgw.a
    wait_for 90 curl -sf "http://127.0.0.1:$rgw/"
  fi
  if [ "$WITH_RGW" = 1 ]; then log "cluster up in $D, radosgw on 127.0.0.1:$rgw"; else log "cluster up in $D"; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) ceph -s ;;
  s3-user)
    uid=${2:?usage: $0 s3-user UID}
    radosgw-admin user create --uid="$uid" --display-name="$uid" 2>/dev/null
    ;;
  env)
    echo "CEPH_CONF=$CONF"
    [ -f "$D/rgw-port" ] && echo "RGW_ENDPOINT=http://127.0.0.1:$(cat "$D/rgw-port")"
    ;;
  *)
    echo "usage: $0 start | stop | status | s3-user UID | env" >&2
    exit 2
    ;;
esac
