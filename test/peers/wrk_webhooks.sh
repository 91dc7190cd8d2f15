#!/usr/bin/env bash
# wrk posts 1,000 distinct signed Meta status webhooks (wrk cannot sign, so
# the bodies and their X-Hub-Signature-256 are computed first) round-robin
# for a few seconds: every request must get a 2xx, each event is stored
# exactly once, and the rest count as duplicates. A smoke run, not a benchmark.
source "$(dirname "$0")/lib.sh"
start_daemon

python3 - "$WORK/webhooks.lua" "$APP_SECRET" <<'PY'
import hmac, hashlib, json, sys, time
path, secret = sys.argv[1], sys.argv[2].encode()
bodies = []
for i in range(1000):
    body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "100000000000001", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550100001", "phone_number_id": "100000000000002"},
        "statuses": [{"id": "wamid.wrk.%04d" % i, "status": "delivered", "timestamp": str(int(time.time())), "recipient_id": "4915112345678"}]}}]}]},
        separators=(",", ":"))
    sig = "sha256=" + hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    bodies.append((body, sig))
with open(path, "w") as f:
    f.write("local b = {}\nlocal s = {}\n")
    for body, sig in bodies:
        f.write("b[#b+1] = %s\ns[#s+1] = %s\n" % (json.dumps(body), json.dumps(sig)))
    f.write('''local i = 0
request = function()
  i = (i % #b) + 1
  return wrk.format("POST", "/webhooks/whatsapp", {["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = s[i]}, b[i])
end
''')
PY

t_wrk() {
	wrk -t2 -c32 -d3s --latency -s "$WORK/webhooks.lua" "$BASE" >"$WORK/wrk.out" 2>&1 || { cat "$WORK/wrk.out"; return 1; }
	cat "$WORK/wrk.out"
	! grep -q "Non-2xx or 3xx responses" "$WORK/wrk.out" && ! grep -q "Socket errors" "$WORK/wrk.out"
}
t_stored_once() {
	local m new dup
	m=$(curl -fsS "$BASE/metrics")
	new=$(echo "$m" | awk '/^wabridge_webhook_events_total\{provider="meta",result="new",type="status"\}/ {print $2}')
	dup=$(echo "$m" | awk '/^wabridge_webhook_events_total\{provider="meta",result="duplicate",type="any"\}/ {print $2}')
	echo "new status events: $new, duplicates: $dup"
	echo "$m" | grep -E '^wabridge_store_(commits|operations)_total'
	[ "$new" = 1000 ] && [ "${dup:-0}" != 0 ]
}
check wrk_signed_webhooks_all_2xx t_wrk
check wrk_events_stored_once t_stored_once
# Figures for the record only (no timing assertion); BENCHMARKS.md has real runs.
grep -E "Requests/sec|^ +99%|Latency " "$WORK/wrk.out" 2>/dev/null | sed 's/^ */    info: /'
finish
