# Helpers shared by the SMTP peer tests (sourced after ../lib.sh).

# A CA and a server certificate for localhost / 127.0.0.1 signed by it.
make_certs() {
	local d=$WORK/tls
	mkdir -p "$d" &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj "/CN=wabridge peer test CA" -keyout "$d/ca.key" -out "$d/ca.pem" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null &&
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-subj "/CN=localhost" -keyout "$d/key.pem" -out "$d/cert.csr" 2>/dev/null &&
		printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' \
			'extendedKeyUsage=serverAuth' 'subjectAltName=DNS:localhost,IP:127.0.0.1' >"$d/ext.cnf" &&
		openssl x509 -req -in "$d/cert.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
			-days 2 -extfile "$d/ext.cnf" -out "$d/cert.pem" 2>/dev/null &&
		openssl verify -CAfile "$d/ca.pem" "$d/cert.pem" >/dev/null
}

# wait_port PORT: until something listens there.
wait_port() {
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# open_window CUSTOMER [BUSINESS]: the customer writes; wait until wabridge
# has the message (the API knows its wamid), so the window is open.
open_window() {
	local wamid code=""
	wamid=$(jq -cn --arg f "$1" --arg t "${2:-$BIZ1}" '{from:$f, to:$t, text:"hi"}' |
		curl -fsS "$SANDBOX/sandbox/v1/inbound" --data-binary @- | jq -r .wamid) || return 1
	for _ in $(seq 1 200); do
		code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/messages/$wamid")
		[ "$code" = 200 ] && return 0
		sleep 0.05
	done
	echo "inbound $wamid from $1: API answers $code"; return 1
}

# sent_to CUSTOMER: what the sandbox received for that number, in arrival order.
sent_to() { curl -fsS "$SANDBOX/sandbox/v1/messages?to=${1#+}"; }

# wait_sent SECS CUSTOMER JQ: poll until the customer's messages satisfy JQ
# (run with -e over the array of messages); print them on timeout.
wait_sent() {
	local secs=$1 who=$2 filter=$3 i
	for ((i = 0; i < secs * 10; i++)); do
		sent_to "$who" | jq -e ".messages | $filter" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "sandbox for $who does not satisfy: $filter"
	sent_to "$who" | jq -c '.messages[] | {type, from, text, media, request}' | cut -c1-400
	return 1
}
