#!/usr/bin/env bash
# drive.sh: server CPU per message against the physical-limit responder.
#
# Starts, one at a time and interleaved over REPS repetitions, the limit
# responder of ../shared/bench (tools/limit: parses nothing, canned replies),
# examples/mailsink -discard and the go-smtp reference sink, each on CPU 1,
# and drives each from CPU 0 with this module's raw client (TestDrive: the
# same bytes as tools/limit, so the responder can be driven too), 20
# connections, N messages of 1 KiB, lockstep (one round trip per command,
# like smtp-source) and pipelined (MAIL RCPT DATA in one write, RFC 2920).
# Prints medians of msgs/s and server CPU us/msg (utime+stime from
# /proc/PID/stat) and their ratios to go-smtp in the same repetition.
#
#	cd internal/benchcmp && ./drive.sh            # REPS=3 N=30000
#
# Env: REPS, N, SHARED (../../../shared), MAILSINK (built into a temp dir
# from ../../examples/mailsink when unset). Loopback only; kills only the
# PIDs it started.
set -u
here=$(cd "$(dirname "$0")" && pwd)
REPS=${REPS:-3}
N=${N:-30000}
SHARED=${SHARED:-$here/../../../shared}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
(cd "$SHARED/bench/tools" && go build -o "$work/limit" ./limit) || exit 1
sink=$SHARED/peers/gosmtp/bin/sink
if [ ! -x "$sink" ]; then
	(cd "$SHARED/peers/gosmtp" && go build -o "$work/sink" ./sink) || exit 1
	sink=$work/sink
fi
MAILSINK=${MAILSINK:-}
if [ -z "$MAILSINK" ]; then
	(cd "$here/../.." && go build -o "$work/mailsink" ./examples/mailsink) || exit 1
	MAILSINK=$work/mailsink
fi
(cd "$here" && go test -c -o "$work/benchcmp.test" .) || exit 1
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
hz=$(getconf CLK_TCK)
out=$work/raw.tsv
: >"$out"
for rep in $(seq 1 "$REPS"); do
	for mode in lockstep pipelined; do
		for spec in "limit::$work/limit serve -listen {addr} -mode $mode -life 5m" \
			"smtpkit::$MAILSINK -listen {addr} -discard -max-size 1073741824" \
			"go-smtp::$sink -listen {addr} -discard -max-size 1073741824"; do
			name=${spec%%::*} cmd=${spec#*::}
			port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
			addr=127.0.0.1:$port
			taskset -c 1 bash -c "exec ${cmd//\{addr\}/$addr}" >"$work/server.log" 2>&1 &
			pid=$!
			for _ in $(seq 50); do ss -ltnH "sport = :$port" | grep -q . && break; sleep 0.1; done
			sleep 0.2
			c0=$(ticks "$pid")
			pipe=0 noquit=0
			[ "$mode" = pipelined ] && pipe=1
			[ "$name" = limit ] && noquit=1
			line=$(BENCHCMP_DRIVE_ADDR=$addr BENCHCMP_DRIVE_N=$N BENCHCMP_DRIVE_PIPELINED=$pipe BENCHCMP_DRIVE_NOQUIT=$noquit \
				timeout 300 taskset -c 0 "$work/benchcmp.test" -test.run '^TestDrive$' | grep 'msgs=')
			c1=$(ticks "$pid")
			kill "$pid"; wait "$pid" 2>/dev/null; pid=
			[ -n "$line" ] || { echo "rep $rep $name $mode: FAILED" >&2; continue; }
			rate=${line##*msgs_per_s=}
			cpu=$(awk -v c=$((c1 - c0)) -v hz="$hz" -v n="$N" 'BEGIN { printf "%.1f", c / hz * 1e6 / n }')
			printf '%s\t%s\t%s-20conn\tmsgs_s\t%s\n%s\t%s\t%s-20conn\tcpu_us_msg\t%s\n' \
				"$rep" "$name" "$mode" "$rate" "$rep" "$name" "$mode" "$cpu" >>"$out"
			echo "# rep $rep $name $mode: $line cpu_us_msg=$cpu" >&2
		done
	done
done
python3 - "$out" <<'PY'
import sys, collections, statistics
vals = collections.defaultdict(list); byrep = {}
for l in open(sys.argv[1]):
    rep, p, s, m, v = l.rstrip("\n").split("\t"); v = float(v)
    vals[(p, s, m)].append(v); byrep[(rep, p, s, m)] = v
reps = sorted({k[0] for k in byrep})
print("%-18s %-8s %9s %7s %8s %7s %6s" % ("scenario", "peer", "msgs_s", "cpu_us", "x_msgs", "x_cpu", "spread"))
for s in ("lockstep-20conn", "pipelined-20conn"):
    for p in ("limit", "smtpkit", "go-smtp"):
        m = vals.get((p, s, "msgs_s"))
        if not m: continue
        def ratio(metric):
            r = [byrep[(x, p, s, metric)] / byrep[(x, "go-smtp", s, metric)] for x in reps
                 if (x, p, s, metric) in byrep and byrep.get((x, "go-smtp", s, metric))]
            return "%.2f" % statistics.median(r) if r else "-"
        med = statistics.median(m)
        print("%-18s %-8s %9.0f %7.1f %8s %7s %5.0f%%" % (s, p, med, statistics.median(vals[(p, s, "cpu_us_msg")]),
              ratio("msgs_s"), ratio("cpu_us_msg"), 100 * (max(m) - min(m)) / med))
PY
