# interop_lib.sh: the interop tests' harness. A real hub over CURVE from the
# security tests' harness (../security/sec_lib.sh on ../e2e/lib.sh: folder,
# ports, keys, db, metric, stored_for), and a Python client beside each test
# (NAME.py, on rollout_client.py) that speaks to it as another implementation
# of proto/rollout.proto would. Sourced, not run.
source "$(dirname "${BASH_SOURCE[0]}")/../security/sec_lib.sh"

INTEROP=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Debian's python3, for which python3-zmq and python3-protobuf are installed:
# a python3 earlier on PATH (pyenv's, a venv's) may lack them.
PY=${RO_PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import zmq, google.protobuf' 2>/dev/null || ! command -v protoc >/dev/null; then
  echo "1..0 # SKIP needs python3-zmq, python3-protobuf and protobuf-compiler (scripts/test installs them)"
  exit 77
fi

# client SCRIPT.py [ARG...]: run a Python client against the running hub; its
# output is in $T/SCRIPT.out (and printed), and the test fails with the
# client's `FAIL: ...` line (or its last lines: a traceback) when it does.
client() {
  local name=${1%.py} rc=0
  keys_sync # the hub admits the unit keys made since it started
  INGEST=$INGEST STATUS=$STATUS FEED=$FEED KEYS=$KEYS T=$T RO_SOURCE=$RO_SOURCE \
    PYTHONPATH=$INTEROP PYTHONDONTWRITEBYTECODE=1 \
    "$PY" "$INTEROP/$1" "${@:2}" > "$T/$name.out" 2>&1 || rc=$?
  sed "s/^/# $name: /" "$T/$name.out"
  [ $rc -eq 0 ] && return 0
  fail "$name.py: $(grep '^FAIL: ' "$T/$name.out" | tail -n 1 || tail -n 3 "$T/$name.out")"
}

# stored_rows: every report in the store as the clients print what they
# expect stored (`stored UNIT|SEQ|DATE|TOTAL|PART|TEXT|RECORDED_AT`), sorted.
stored_rows() {
  db "select u.id, r.seq, r.date, r.total, r.part, r.text, r.recorded_at
      from reports r join units u on u.uid = r.uid" | sort
}

# expect_stored NAME: the store holds exactly the reports client NAME said it
# expects stored, each once.
expect_stored() {
  local want
  want=$(sed -n 's/^stored //p' "$T/$1.out" | sort)
  [ -n "$want" ] || fail "$1.py printed no report it expects stored"
  expect_eq "$(stored_rows)" "$want" "reports in the store (unit|seq|date|total|part|text|recorded_at)"
}

# five_units: a hub over a registry of five units of the three levels and two
# divisions, with the unit keys of all but the silent one: the status tests'.
five_units() {
  REGISTRY=$T/units.csv
  cat > "$REGISTRY" <<'CSV'
id,level,division,name
460000-001,provincial,460000,省发展和改革委员会
460100-001,municipal,460100,海口市发展和改革委员会
460100-002,municipal,460100,海口市交通运输局
460100-201,township,460100,海口市第1乡镇人民政府
469005-012,municipal,469005,文昌市交通运输局
CSV
  hub_config
  local u
  for u in 460000-001 460100-001 460100-201 469005-012; do unit_keys $u; done
  hub_start
}
