#!/usr/bin/env bash
# A real multi-node Ray cluster on this one machine: a head node and two worker nodes
# (WORKERS=1: one), each a separate `ray start` with its own ports, custom resources
# ({"node_head": 1}, {"node_a": 1}, {"node_b": 1}) and token authentication on.
#
#   cluster/local.sh up       start it (idempotent), print the address and submit command
#   cluster/local.sh status   `ray status` of the cluster, or "down"
#   cluster/local.sh down     stop exactly the processes `up` started (idempotent)
#
# Environment (all optional):
#   RLSYS_CLUSTER_DIR         state dir: pids, logs, Ray temp dir (default <repo>/.cluster);
#                             keep it short (Ray's unix sockets live under it)
#   RLSYS_CLUSTER_PORT_BASE   first of 400 ports the nodes use (default 20000)
#   DASHBOARD_PORT            dashboard / job submission port (default 8265)
#   WORKERS                   worker nodes, 1 or 2 (default 2)
#   CPUS_PER_WORKER           CPUs of each worker node (default 1)
#   HEAD_CPUS                 CPUs of the head node (default 0: no tasks on the head)
#   OBJECT_STORE_MB           object store per node in MiB (default 256)
#   UP_TIMEOUT / DOWN_TIMEOUT seconds to wait for the nodes / before SIGKILL (60 / 10)
#   RAY                       the `ray` executable (default <repo>/.venv/bin/ray)
#
# Token auth: RAY_AUTH_MODE=token, the token is RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH if set,
# else ~/.ray/auth_token (generated if missing). Clients (`ray job submit`, `ray status`,
# a driver joining with RAY_ADDRESS) need RAY_AUTH_MODE=token and the same token.
#
# The nodes are started with the ray executable's bin dir first on PATH, so a job
# entrypoint's `python` is the same interpreter (the venv's) that runs the nodes.
# Never `ray stop` here: it would kill every Ray instance on the machine.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${RLSYS_CLUSTER_DIR:-$REPO/.cluster}"
PORT_BASE="${RLSYS_CLUSTER_PORT_BASE:-20000}"
DASHBOARD_PORT="${DASHBOARD_PORT:-8265}"
WORKERS="${WORKERS:-2}"
CPUS_PER_WORKER="${CPUS_PER_WORKER:-1}"
HEAD_CPUS="${HEAD_CPUS:-0}"
OBJECT_STORE_MB="${OBJECT_STORE_MB:-256}"
UP_TIMEOUT="${UP_TIMEOUT:-60}"
DOWN_TIMEOUT="${DOWN_TIMEOUT:-10}"
RAY="${RAY:-$REPO/.venv/bin/ray}"
IP=127.0.0.1

die() {
    echo "local.sh: error: $*" >&2
    exit 1
}

# The nodes (head first) and their custom resources, for WORKERS worker nodes.
set_nodes() {
    [[ "$WORKERS" == 1 || "$WORKERS" == 2 ]] || die "WORKERS must be 1 or 2, got '$WORKERS'"
    local all=(head worker1 worker2)
    local res=('{"node_head": 1}' '{"node_a": 1}' '{"node_b": 1}')
    NODES=("${all[@]:0:WORKERS+1}")
    RESOURCES=("${res[@]:0:WORKERS+1}")
    N_NODES=${#NODES[@]}
}
set_nodes

if [[ ! -x "$RAY" ]]; then
    RAY="$(command -v ray || true)"
    [[ -n "$RAY" ]] || die "no ray executable: run 'make install' or set RAY=/path/to/ray"
fi
BIN_DIR="$(cd "$(dirname "$RAY")" && pwd)"
PYTHON="$BIN_DIR/python"
[[ -x "$PYTHON" ]] || PYTHON="$(command -v python3)"

mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"
# One Ray temp dir per node, as on separate machines: nodes sharing one would share the
# runtime_env working_dir copies, and one node's agent deletes what another's job runs in.
TEMP_DIR="$STATE/ray"
PID_DIR="$STATE/pids"
LOG_DIR="$STATE/logs"
SETTINGS="$STATE/cluster.env"

# Addresses from the settings; `load_settings` first makes them those of the running
# cluster (written by `up`), whatever this shell's environment says.
derive() {
    GCS_PORT="$PORT_BASE"
    CLIENT_PORT=$((PORT_BASE + 1))
    ADDRESS="$IP:$GCS_PORT"
    DASHBOARD="http://$IP:$DASHBOARD_PORT"
}
load_settings() {
    if [[ -f "$SETTINGS" ]]; then
        # shellcheck source=/dev/null
        source "$SETTINGS"
    fi
    derive
    set_nodes
}
derive

export RAY_AUTH_MODE=token
export RAY_USAGE_STATS_ENABLED=0
export PATH="$BIN_DIR:$PATH"
unset RAY_ADDRESS

# Ports: PORT_BASE GCS, +1 Ray client server, +2..+9 free (e.g. a DASHBOARD_PORT);
# node i (0 head, 1, 2): six service ports at +10+10i.. and 100 worker ports at +100+100i..
node_port() { echo $((PORT_BASE + 10 + 10 * $1 + $2)); }
worker_ports() { echo "$((PORT_BASE + 100 + 100 * $1)) $((PORT_BASE + 199 + 100 * $1))"; }

all_ports() {
    local i k lo hi
    printf "%s\n" "$GCS_PORT" "$CLIENT_PORT" "$DASHBOARD_PORT"
    for i in 0 1 2; do
        for k in 0 1 2 3 4 5; do node_port "$i" "$k"; done
        read -r lo hi <<<"$(worker_ports "$i")"
        seq "$lo" "$hi"
    done
}

# Is process $1 one of this cluster's, going by what it runs on: a Ray process given our
# temp dir as an option (--log_dir=..., --session-dir=...), or anything running in it (a
# job driver in its working_dir copy)? A reused pid, or `less` on a log file, is not.
ours() {
    local pid="$1" args=() cwd
    { mapfile -d '' args <"/proc/$pid/cmdline"; } 2>/dev/null || return 1
    [[ "${args[*]}" == *"=$TEMP_DIR/"* ]] && return 0
    cwd="$(readlink "/proc/$pid/cwd" 2>/dev/null || true)"
    [[ "$cwd" == "$TEMP_DIR"/* ]]
}

# Every live process of this cluster, as "pid stage": the sessions `up` created (one per
# `ray start`; only Ray processes, in case a session id was reused) plus any process whose
# command line or cwd is in our temp dir (job drivers run in a session of their own, with
# their cwd in the temp dir's copy of the working_dir). Stages are the shutdown order:
# 1 worker nodes and job drivers, 2 the head's processes but its GCS, 3 the GCS.
cluster_scan() {
    local f pid sid stat state comm args head_sid="" sids=" "
    [[ -s "$PID_DIR/head.sid" ]] && head_sid="$(cat "$PID_DIR/head.sid")"
    for f in "$PID_DIR"/*.sid; do
        [[ -e "$f" ]] && sids+="$(cat "$f") "
    done
    for pid in /proc/[0-9]*; do
        pid="${pid#/proc/}"
        [[ "$pid" != "$$" && "$pid" != "$BASHPID" ]] || continue
        { read -r stat <"/proc/$pid/stat" && read -r comm <"/proc/$pid/comm"; } 2>/dev/null ||
            continue
        read -r state _ _ sid _ <<<"${stat##*) }" # state ppid pgrp session ...
        [[ "$state" != Z ]] || continue           # a zombie is gone, only not yet reaped
        if [[ -z "$sid" || "$sids" != *" $sid "* ]]; then
            ours "$pid" || continue
        else
            { mapfile -d '' args <"/proc/$pid/cmdline"; } 2>/dev/null || continue
            [[ "${args[*]}" == *ray* ]] || continue
        fi
        if [[ "$comm" == gcs_server ]]; then
            echo "$pid 3"
        elif [[ -n "$head_sid" && "$sid" == "$head_sid" ]]; then
            echo "$pid 2"
        else
            echo "$pid 1"
        fi
    done
    return 0
}

# pids of the cluster's processes of shutdown stage <= $1 (default: all)
cluster_pids() { cluster_scan | awk -v s="${1:-3}" '$2 <= s {print $1}'; }

# raylet (and gcs_server for the head) of node $1 alive?
node_alive() {
    local name="$1" f="$PID_DIR/$1.pids" pid comm found_raylet=1 found_gcs=0
    [[ -s "$f" ]] || return 1
    [[ "$name" == head ]] && found_gcs=1
    while read -r pid; do
        ours "$pid" || continue
        comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
        [[ "$comm" == raylet ]] && found_raylet=0
        [[ "$comm" == gcs_server ]] && found_gcs=0
    done <"$f"
    return $((found_raylet + found_gcs))
}

alive_count() {
    local n=0 name
    for name in "${NODES[@]}"; do
        if node_alive "$name"; then n=$((n + 1)); fi
    done
    echo "$n"
}

print_usage_info() {
    cat <<EOF
Ray cluster up: $N_NODES nodes (head ${HEAD_CPUS} CPU, $WORKERS worker(s) x ${CPUS_PER_WORKER} CPU)
  address:   $ADDRESS      (drivers: RAY_AUTH_MODE=token RAY_ADDRESS=$ADDRESS python -m rlsys run)
  dashboard: $DASHBOARD
  submit:    RAY_AUTH_MODE=token $RAY job submit --address $DASHBOARD \\
               --runtime-env $REPO/cluster/runtime_env.yaml --working-dir $REPO -- python -m rlsys run
  state:     $STATE (logs: $TEMP_DIR/<node>/session_latest/logs, job logs on the head)
  stop:      $REPO/cluster/local.sh down
EOF
}

ensure_token() {
    if [[ -z "${RAY_AUTH_TOKEN:-}" && -z "${RAY_AUTH_TOKEN_PATH:-}" && ! -s "$HOME/.ray/auth_token" ]]; then
        "$RAY" get-auth-token --generate >/dev/null 2>&1 || die "could not generate a Ray auth token"
    fi
}

check_ports_free() {
    local busy
    busy="$(all_ports | "$PYTHON" -c '
import socket, sys
busy = []
for line in sys.stdin:
    port = int(line)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "in use"
    try:
        s.bind(("", port))
    except OSError:
        busy.append(port)
    finally:
        s.close()
print(" ".join(map(str, busy)))
')"
    [[ -z "$busy" ]] || die "ports in use: $busy (set RLSYS_CLUSTER_PORT_BASE / DASHBOARD_PORT)"
}

# Start node $1 (index $2) in a session of its own and record the session and its pids.
start_node() {
    local name="$1" i="$2" lo hi pid rc
    read -r lo hi <<<"$(worker_ports "$i")"
    local args=(
        --temp-dir "$TEMP_DIR/$name"
        --num-cpus "$([[ $i == 0 ]] && echo "$HEAD_CPUS" || echo "$CPUS_PER_WORKER")"
        --resources "${RESOURCES[$i]}"
        --object-store-memory $((OBJECT_STORE_MB * 1024 * 1024))
        --node-manager-port "$(node_port "$i" 0)"
        --object-manager-port "$(node_port "$i" 1)"
        --dashboard-agent-listen-port "$(node_port "$i" 2)"
        --dashboard-agent-grpc-port "$(node_port "$i" 3)"
        --metrics-export-port "$(node_port "$i" 4)"
        --runtime-env-agent-port "$(node_port "$i" 5)"
        --min-worker-port "$lo"
        --max-worker-port "$hi"
        --disable-usage-stats
    )
    if [[ $i == 0 ]]; then
        args+=(--head --port "$GCS_PORT" --ray-client-server-port "$CLIENT_PORT"
            --include-dashboard true --dashboard-host "$IP" --dashboard-port "$DASHBOARD_PORT")
    else
        args+=(--address "$ADDRESS")
    fi
    # setsid: every process this `ray start` spawns shares one new session id = its pid.
    setsid "$RAY" start "${args[@]}" >"$LOG_DIR/$name.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PID_DIR/$name.sid"
    rc=0
    wait "$pid" || rc=$?
    ps -eo pid=,sid= | awk -v s="$pid" '$2 == s {print $1}' >"$PID_DIR/$name.pids"
    if [[ $rc != 0 ]]; then
        tail -n 20 "$LOG_DIR/$name.log" >&2
        return 1
    fi
}

# Wait until the cluster's GCS reports all nodes alive (bounded even if ray.init hangs).
wait_for_nodes() {
    timeout "$((UP_TIMEOUT + 30))" "$PYTHON" - "$ADDRESS" "$UP_TIMEOUT" "$N_NODES" <<'EOF'
import sys, time
import ray
address, timeout, nodes = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
ray.init(address=address, logging_level="ERROR", log_to_driver=False)
deadline = time.monotonic() + timeout
while True:
    alive = [n for n in ray.nodes() if n["Alive"]]
    if len(alive) >= nodes:
        break
    if time.monotonic() > deadline:
        sys.exit(f"only {len(alive)} of {nodes} nodes alive after {timeout:g} s")
    time.sleep(0.5)
cpus = int(ray.cluster_resources().get("CPU", 0))
print(f"{len(alive)} nodes alive, {cpus} CPUs")
EOF
}

cmd_up() {
    local n i
    n="$(alive_count)"
    if [[ "$n" == "$N_NODES" ]]; then
        load_settings
        echo "already up"
        print_usage_info
        return 0
    fi
    if [[ "$n" != 0 ]] || [[ -n "$(cluster_pids)" ]]; then
        echo "partial cluster left over ($n of $N_NODES nodes alive): stopping it first"
        (load_settings && cmd_down)
    fi
    rm -f "$SETTINGS"
    if ((${#TEMP_DIR} > 32)); then
        die "state dir path too long for Ray's unix sockets: $TEMP_DIR (set RLSYS_CLUSTER_DIR to a path of at most 28 characters)"
    fi
    ensure_token
    check_ports_free
    mkdir -p "${NODES[@]/#/$TEMP_DIR/}" "$PID_DIR" "$LOG_DIR"
    rm -f "$PID_DIR"/*
    # Nodes started in the repo: a job submitted without --working-dir runs there.
    cd "$REPO"
    for ((i = 0; i < N_NODES; i++)); do
        echo "starting ${NODES[$i]} ..."
        if ! start_node "${NODES[$i]}" "$i"; then
            cmd_down >/dev/null 2>&1 || true
            die "${NODES[$i]} failed to start (log: $LOG_DIR/${NODES[$i]}.log)"
        fi
    done
    if ! wait_for_nodes; then
        cmd_down >/dev/null 2>&1 || true
        die "the cluster did not come up with $N_NODES nodes within ${UP_TIMEOUT} s (logs: $LOG_DIR, $TEMP_DIR/*/session_latest/logs)"
    fi
    printf 'PORT_BASE=%q\nDASHBOARD_PORT=%q\nWORKERS=%q\nCPUS_PER_WORKER=%q\nHEAD_CPUS=%q\n' \
        "$PORT_BASE" "$DASHBOARD_PORT" "$WORKERS" "$CPUS_PER_WORKER" "$HEAD_CPUS" >"$SETTINGS"
    # Record late-spawned processes too (dashboard modules, agents, idle workers).
    for ((i = 0; i < N_NODES; i++)); do
        ps -eo pid=,sid= | awk -v s="$(cat "$PID_DIR/${NODES[$i]}.sid")" '$2 == s {print $1}' \
            >>"$PID_DIR/${NODES[$i]}.pids"
        sort -un -o "$PID_DIR/${NODES[$i]}.pids" "$PID_DIR/${NODES[$i]}.pids"
    done
    print_usage_info
}

# SIGTERM to the processes of stage <= $1, SIGKILL to what is left after DOWN_TIMEOUT.
stop_stage() {
    local stage="$1" pids pid deadline
    pids="$(cluster_pids "$stage")"
    [[ -n "$pids" ]] || return 0
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
    deadline=$((SECONDS + DOWN_TIMEOUT))
    while [[ -n "$(cluster_pids "$stage")" ]] && ((SECONDS < deadline)); do sleep 0.25; done
    pids="$(cluster_pids "$stage")"
    [[ -n "$pids" ]] || return 0
    # shellcheck disable=SC2086  # word splitting of the pid list is intended
    echo "SIGKILL to $(echo $pids | wc -w) processes still running ${DOWN_TIMEOUT} s after SIGTERM:" \
        "$(for pid in $pids; do cat "/proc/$pid/comm" 2>/dev/null; done | sort | uniq -c | xargs)"
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
    deadline=$((SECONDS + 10))
    while [[ -n "$(cluster_pids "$stage")" ]] && ((SECONDS < deadline)); do sleep 0.2; done
}

cmd_down() {
    local pids
    pids="$(cluster_pids)"
    if [[ -z "$pids" ]]; then
        echo "down (nothing running)"
    else
        # shellcheck disable=SC2086
        echo "stopping $(echo $pids | wc -w) processes ..."
        stop_stage 1 # worker nodes, job drivers
        stop_stage 2 # the head (dashboard, raylet, agents, ...)
        stop_stage 3 # the head's GCS last: the others shut down cleanly while it is up
        pids="$(cluster_pids)"
        [[ -z "$pids" ]] || die "processes still alive: $(echo "$pids" | tr '\n' ' ')"
        echo "down"
    fi
    # ray start wrote the address file into our temp dir; drop it and, if it points to
    # this cluster, the machine-wide one too (a stale one misleads ray.init()).
    rm -f "$TEMP_DIR"/*/ray_current_cluster
    local global=/tmp/ray/ray_current_cluster
    if [[ -f "$global" && "$(cat "$global" 2>/dev/null || true)" == *":$GCS_PORT" ]]; then
        rm -f "$global"
    fi
    rm -f "$PID_DIR"/*.sid "$PID_DIR"/*.pids "$SETTINGS"
    return 0
}

cmd_status() {
    if [[ "$(alive_count)" == 0 ]]; then
        echo "down"
        return 0
    fi
    echo "address $ADDRESS, dashboard $DASHBOARD, $(alive_count) of $N_NODES nodes' raylets alive"
    "$RAY" status --address "$ADDRESS"
}

case "${1:-}" in
up) cmd_up ;;
down) load_settings && cmd_down ;;
status) load_settings && cmd_status ;;
*)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
