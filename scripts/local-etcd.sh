# scripts/local-etcd.sh - sourced by run-local and demo: find out whether an
# etcd answers on a loopback endpoint, start a throw-away one when none
# does, and reap what the caller started.
#
# Only loopback over plain http is ever probed or started.  The caller
# keeps the PID in $etcd_pid and stops it itself: nothing here signals a
# process it did not start.
#
# Sets etcd_host and etcd_port (local_etcd_parse) and etcd_pid
# (local_etcd_ensure); its own variables begin with le_.  The caller
# defines say().

# shellcheck shell=sh

# Split a URL into etcd_host and etcd_port; etcd_host is empty unless the
# URL is plain http on loopback.
local_etcd_parse() {
	etcd_host=; etcd_port=
	case $1 in
	http://127.0.0.1:*|http://localhost:*)
		le_hostport=${1#http://}
		le_hostport=${le_hostport%%/*}
		etcd_port=${le_hostport##*:}
		etcd_host=127.0.0.1
		;;
	http://127.0.0.1|http://127.0.0.1/|http://localhost|http://localhost/)
		etcd_host=127.0.0.1; etcd_port=2379
		;;
	esac
	case $etcd_port in
	''|*[!0-9]*) etcd_host= ;;
	esac
}

local_etcd_healthy() {
	curl -s -m 1 "http://$etcd_host:$etcd_port/health" 2>/dev/null | grep -q '"health": *"true"'
}

local_etcd_answers() {
	curl -s -m 1 -o /dev/null "http://$etcd_host:$etcd_port/health" 2>/dev/null
}

# True while PID runs: kill -0 alone also succeeds on a child that has
# exited and waits to be reaped.
local_pid_running() {
	kill -0 "$1" 2>/dev/null || return 1
	# The state follows the last ")": the name before it may hold one.
	le_state=$(sed -n 's/^.*) \([A-Z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ -n "$le_state" ] && [ "$le_state" != Z ] && [ "$le_state" != X ]
}

# shellcheck disable=SC2317  # reap runs from traps
# Wait for a child of ours, sending it SIGKILL if another INT or TERM comes
# while it is still shutting down.
reap() {
	le_reap_pid=$1
	trap 'kill -KILL "$le_reap_pid" 2>/dev/null' INT TERM
	while :; do
		wait "$le_reap_pid"
		le_rc=$?
		# wait ends early (status > 128) when a trapped signal arrives.
		if [ "$le_rc" -gt 128 ] && kill -0 "$le_reap_pid" 2>/dev/null; then
			continue
		fi
		return "$le_rc"
	done
}

# Use the etcd at etcd_host:etcd_port, or start a throw-away one with its
# data and log in DIR (peer port: client port + 1).  Return 1 when there
# is no etcd to use.
local_etcd_ensure() {
	le_dir=$1
	if [ -z "$etcd_host" ]; then
		say "the endpoint is not plain http on loopback; not starting etcd"
		return 0
	fi
	if local_etcd_healthy; then
		say "etcd answers at http://$etcd_host:$etcd_port; using it"
		return 0
	fi
	if local_etcd_answers; then
		say "something answers at http://$etcd_host:$etcd_port but does not report a healthy etcd; using it anyway"
		return 0
	fi
	command -v etcd >/dev/null 2>&1 ||
	    { say "etcd is not installed (make deps installs etcd-server)"; return 1; }
	le_peer=$((etcd_port + 1))
	say "starting a throw-away etcd on http://$etcd_host:$etcd_port (peer port $le_peer, data and log in $le_dir)"
	# In its own session, so that Ctrl-C reaches the daemons but not
	# etcd: they must be able to revoke their leases on the way out.
	le_setsid=
	command -v setsid >/dev/null 2>&1 && le_setsid=setsid
	$le_setsid etcd --name kingsmoot-local \
	    --data-dir "$le_dir/data" \
	    --listen-client-urls "http://$etcd_host:$etcd_port" \
	    --advertise-client-urls "http://$etcd_host:$etcd_port" \
	    --listen-peer-urls "http://$etcd_host:$le_peer" \
	    --initial-advertise-peer-urls "http://$etcd_host:$le_peer" \
	    --initial-cluster "kingsmoot-local=http://$etcd_host:$le_peer" \
	    --initial-cluster-state new \
	    >"$le_dir/etcd.log" 2>&1 </dev/null &
	etcd_pid=$!
	le_tries=0
	until local_etcd_healthy; do
		if ! local_pid_running "$etcd_pid"; then
			wait "$etcd_pid"
			etcd_pid=
			say "etcd exited; the end of its log:"
			tail -n 20 "$le_dir/etcd.log" >&2
			return 1
		fi
		le_tries=$((le_tries + 1))
		if [ "$le_tries" -ge 100 ]; then
			say "etcd is not healthy after 10 s; the end of its log:"
			tail -n 20 "$le_dir/etcd.log" >&2
			return 1
		fi
		sleep 0.1
	done
	say "etcd is healthy (pid $etcd_pid)"
}
