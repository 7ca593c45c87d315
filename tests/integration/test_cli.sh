#!/bin/bash
# The kvmon command line end to end: --help everywhere, exit codes, --json
# schemas, and the VM life cycle on the real bundled guest.
set -u
KVMON=${KVMON:?path to kvmon}
ROOT=${KVMON_TEST_ROOT:-/tmp/kvmon-test}
n=0; failed=0
ok() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed+1)); fi; }
run() { "$@" >/dev/null 2>&1; echo $?; }

ok "$(run "$KVMON" --help)" "kvmon --help exits 0"
ok "$([ "$("$KVMON" --version)" = "kvmon 0.1.0" ]; echo $?)" "--version"
for c in demo "vm start" "vm stop" "vm status" "vm info" "vm list" "mem read" qmp guest \
	ps lsmod syscalls "kernel info" check watch "baseline create"; do
	# shellcheck disable=SC2086
	ok "$(run "$KVMON" $c --help)" "kvmon $c --help exits 0"
done
ok "$([ "$(run "$KVMON" nosuch)" = 2 ]; echo $?)" "unknown command exits 2"
ok "$([ "$(run "$KVMON" vm start --memory 12)" = 2 ]; echo $?)" "bad option value exits 2"
out=$("$KVMON" vm status --name no-such-vm --rundir "$ROOT/none" --json 2>/dev/null); rc=$?
ok "$([ $rc = 2 ] && echo "$out" | jq -e '.error and .errno == 2' >/dev/null; echo $?)" \
	"missing VM: exit 2 and a JSON error object"

if [ -z "${KVMON_GUEST_DIR:-}" ] || [ ! -f "$KVMON_GUEST_DIR/rootfs.qcow2" ]; then
	if [ -n "${KVMON_REQUIRE_GUEST:-}" ]; then echo "Bail out! bundled guest missing"; exit 1; fi
	echo "1..$n"; exit $((failed ? 1 : 0))
fi

mkdir -p "$ROOT"
RUN=$(mktemp -d "$ROOT/cli.XXXXXX")
# RAM files too stay under this run's roots (the leak check looks there).
SHM=/dev/shm/$(basename "$ROOT")
mkdir -p "$SHM"
name=kt$$-cli
cleanup() {
	"$KVMON" vm stop --name "$name" --rundir "$RUN" >/dev/null 2>&1
	"$KVMON" vm stop --name "kt$$-demo" --rundir "$RUN" >/dev/null 2>&1
	rm -rf "$RUN"
}
trap cleanup EXIT

out=$("$KVMON" vm start --name "$name" --rundir "$RUN" --mem-dir "$SHM" --wait --json); rc=$?
ok "$([ $rc = 0 ] && echo "$out" | jq -e '.pid > 0 and (.qmp|length) > 0 and .http_port > 0' >/dev/null; echo $?)" \
	"vm start --wait --json"
ok "$(run "$KVMON" vm status --name "$name" --rundir "$RUN")" "vm status: running exits 0"
out=$("$KVMON" vm list --rundir "$RUN" --json)
ok "$(echo "$out" | jq -e --arg n "$name" '[.vms[].name] == [$n]' >/dev/null; echo $?)" "vm list --json"
out=$("$KVMON" vm info --name "$name" --rundir "$RUN" --json)
ok "$(echo "$out" | jq -e '.qemu_version != "" and (.ram.layout|length) >= 2 and
	.ram.backends[0].share == true and .balloon.actual == 268435456 and
	(.disks[0].inserted["node-name"]) == "disk0" and .nics[0].name == "nic0"' >/dev/null; echo $?)" \
	"vm info --json: version, layout, shared backend, balloon, disk node, NIC"
qmp=$(echo "$out" | jq -r .paths.qmp)
ok "$("$KVMON" vm info --qmp "$qmp" --json | jq -e '.started_by_kvmon == false' >/dev/null; echo $?)" \
	"vm info --qmp attaches to a QEMU by socket"
ok "$("$KVMON" qmp --name "$name" --rundir "$RUN" query-status | jq -e '.status == "running"' >/dev/null; echo $?)" \
	"qmp query-status"
ok "$("$KVMON" qmp --name "$name" --rundir "$RUN" --hmp 'info version' | grep -q 7; echo $?)" "qmp --hmp"
out=$("$KVMON" qmp --name "$name" --rundir "$RUN" --json no-such-command 2>/dev/null); rc=$?
ok "$([ $rc = 2 ] && echo "$out" | jq -e '.error | contains("CommandNotFound")' >/dev/null; echo $?)" \
	"QMP error reply: exit 2, JSON error"
out=$("$KVMON" mem find --name "$name" --rundir "$RUN" --json "Linux version "); rc=$?
ok "$([ $rc = 0 ] && echo "$out" | jq -e '.found' >/dev/null; echo $?)" "mem find: banner found"
gpa=$(echo "$out" | jq -r .gpa)
ok "$("$KVMON" mem read --name "$name" --rundir "$RUN" "$gpa" 32 | grep -q 'Linux version'; echo $?)" \
	"mem read shows the banner at its address"
ok "$([ "$(run "$KVMON" mem find --name "$name" --rundir "$RUN" "no-such-string-$$-xyzzy")" = 1 ]; echo $?)" \
	"mem find: absent text exits 1"

# Memory introspection, profile-less.
V=(--name "$name" --rundir "$RUN")
out=$("$KVMON" ps "${V[@]}" --json)
ok "$(echo "$out" | jq -e '(.processes|length) > 20 and
	any(.processes[]; .comm == "httpd" and .uid == 33 and (.cmdline|startswith("httpd")))' >/dev/null; echo $?)" \
	"ps --json: processes with uid and command line (httpd runs as 33)"
ok "$("$KVMON" ps --tree "${V[@]}" | grep -qE '^ +[0-9]+ +httpd'; echo $?)" "ps --tree shows httpd below init"
ok "$("$KVMON" lsmod "${V[@]}" --json | jq -e 'any(.modules[]; .name == "ext4" and .size > 0)' >/dev/null; echo $?)" \
	"lsmod --json lists ext4"
out=$("$KVMON" syscalls "${V[@]}" --json); rc=$?
ok "$([ $rc = 0 ] && echo "$out" | jq -e '(.syscalls|length) > 400 and .outside_core_text == 0 and
	.syscalls[0].symbol == "__x64_sys_read"' >/dev/null; echo $?)" "syscalls --json: clean table, entry 0 is read"
ok "$("$KVMON" kernel info "${V[@]}" --json | jq -e '(.release|startswith("6.")) and .symbols > 50000' >/dev/null; echo $?)" \
	"kernel info --json"
ok "$(run "$KVMON" kernel sym init_task "${V[@]}")" "kernel sym init_task"
ok "$([ "$(run "$KVMON" kernel sym no_such_symbol_xyz "${V[@]}")" = 1 ]; echo $?)" "kernel sym of an unknown name exits 1"
ok "$("$KVMON" kernel member task_struct tasks.next "${V[@]}" --json | jq -e '.size == 8' >/dev/null; echo $?)" \
	"kernel member (BTF)"
out=$("$KVMON" check "${V[@]}" --json); rc=$?
ok "$([ $rc = 0 ] && echo "$out" | jq -e '.clean and (.findings|length) == 0' >/dev/null; echo $?)" "check --json: clean guest"
ok "$(run "$KVMON" baseline create "$RUN/base.kvb" "${V[@]}")" "baseline create"
ok "$([ "$(stat -c %a "$RUN/base.kvb")" = 600 ]; echo $?)" "baseline file is private (0600)"
ok "$(run "$KVMON" check --baseline "$RUN/base.kvb" --pause "${V[@]}")" "check --baseline --pause: clean"
printf 'x' | dd of="$RUN/base.kvb" bs=1 seek=4096 conv=notrunc 2>/dev/null
ok "$([ "$(run "$KVMON" check --baseline "$RUN/base.kvb" "${V[@]}")" = 2 ]; echo $?)" "damaged baseline refused"
out=$("$KVMON" watch --count 2 --interval 0.2 --no-baseline "${V[@]}" 2>/dev/null); rc=$?
ok "$([ $rc = 0 ] && [ -z "$out" ]; echo $?)" "watch on a clean guest: no alerts, exit 0"
ok "$([ "$("$KVMON" vm status "${V[@]}" --json | jq -r .status)" = running ]; echo $?)" "guest still running after --pause"
ok "$([ "$(run "$KVMON" vm start --name "$name" --rundir "$RUN")" = 2 ]; echo $?)" \
	"starting a VM name twice is refused"
ok "$(run "$KVMON" vm stop --name "$name" --rundir "$RUN")" "vm stop"
ok "$([ "$(run "$KVMON" vm status --name "$name" --rundir "$RUN")" = 2 ] && [ ! -e "$RUN/$name" ]; echo $?)" \
	"after stop: no VM, no run dir"

out=$("$KVMON" demo --name "kt$$-demo" --rundir "$RUN" --mem-dir "$SHM" --json); rc=$?
ok "$([ $rc = 0 ] && echo "$out" | jq -e '(.memory.banner | startswith("Linux version 6.")) and
	(.memory.osrelease | length) > 0 and .vm.status.status == "running"' >/dev/null; echo $?)" \
	"demo --json: boots, finds banner and VMCOREINFO in guest RAM"
ok "$([ ! -e "$RUN/kt$$-demo" ]; echo $?)" "demo stopped its VM and removed its state"

echo "1..$n"
exit $((failed ? 1 : 0))
