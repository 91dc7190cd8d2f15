#!/usr/bin/env node
'use strict';
// esme.js: an ESME on node-smpp's client side, the independent SMPP client of
// wabridge's peer tests.
//
//   node esme.js --host H --port P --system-id ID --password PW
//       [--from +15550100001] [--to +4915112345678]
//       [--submit gsm,ucs2,concat]        which messages to submit (or "none")
//       [--text-gsm T] [--text-ucs2 T] [--text-concat T]   replace the built-in texts
//                                         (the concat text must make 3 GSM segments)
//       [--registered-delivery 1]         0x11 asks for intermediate receipts too
//       [--expect-stat DELIVRD]           the final receipt state every message must reach
//       [--expect-intermediate]           every message must also get an intermediate receipt
//                                         (esm_class 0x20, or message_state ENROUTE/SCHEDULED)
//       [--strict-intermediate]           an intermediate receipt must have esm_class 0x20
//                                         (SMPP 3.4 5.2.12), not 0x04 with state ENROUTE
//       [--expect-mo N] [--expect-mo-text TEXT]...
//       [--on-bound 'shell command']      run once bound (e.g. inject MO); must exit 0
//       [--timeout 20000] [--linger 500]  overall wait; quiet time after the last expected PDU
//       [--allow-duplicate-receipts]      default: a second final receipt for an id fails
//       [--expect-bind-fail]              pass only if the bind is refused (bad credentials test)
//       [--expect-submit-status N]        every submit_sm must be refused with this command_status
//                                         (e.g. 0x0a RINVSRCADR for a number the account does not own)
//
// It binds as a transceiver, sends enquire_link, submits GSM 03.38 text
// (data_coding 0), UCS-2 text (data_coding 8) and a 3-part concatenated
// message (esm_class 0x40, UDH 05 00 03 ref 03 n), all with
// registered_delivery; answers every deliver_sm (receipts and MO) with
// deliver_sm_resp; waits for one final receipt per distinct message_id and for
// the expected MO; sends enquire_link again and unbinds.
//
// Prints one JSON line per event and a final {"event":"summary","ok":…}.
// Exits 0 only if every response had command_status 0 and every expectation
// was met.
const { spawn } = require('child_process');
const T = require('./smpp_text');
const smpp = T.smpp;

const opt = T.args(process.argv.slice(2), ['expect-intermediate', 'strict-intermediate', 'allow-duplicate-receipts', 'expect-bind-fail'], ['expect-mo-text']);
const need = (k) => { if (!opt[k]) { console.error('esme.js: --' + k + ' is required'); process.exit(2); } return opt[k]; };
const host = need('host'), port = Number(need('port'));
const systemId = need('system-id'), password = need('password');
const from = opt.from !== undefined ? opt.from : '+15550100001'; // '' sends an empty source_addr
const to = opt.to !== undefined ? opt.to : '+4915112345678';
const kinds = (opt.submit || 'gsm,ucs2,concat').split(',').filter((k) => k && k !== 'none');
const registeredDelivery = Number(opt['registered-delivery'] || 1);
const expectStat = opt['expect-stat'] || 'DELIVRD';
const expectMO = Number(opt['expect-mo'] || 0);
const expectMOText = [].concat(opt['expect-mo-text'] || []);
const timeoutMs = Number(opt.timeout || 20000);
const lingerMs = Number(opt.linger || 500);
const expectSubmitStatus = opt['expect-submit-status'] === undefined ? null : Number(opt['expect-submit-status']);

// The texts: GSM with extension characters, UCS-2 outside GSM (BMP only),
// and a 3-part GSM text (153 + 153 + rest septets).
const TEXTS = {
	gsm: 'Hello from esme.js: GSM 03.38 with [brackets] {braces} ~tilde €uro @ £ ä ö ü ñ',
	ucs2: 'UCS-2 from esme.js: Привет, 你好, Γειά σου, ✓ ₹ ☃',
	concat: Array.from({ length: 30 }, (_, i) => `part-text ${String(i).padStart(2, '0')}`).join(' ') + ' END',
};
for (const k of Object.keys(TEXTS)) if (opt['text-' + k] !== undefined) TEXTS[k] = opt['text-' + k];

const errors = [];
const fail = (msg, extra) => { errors.push(msg); T.emit(Object.assign({ event: 'error', error: msg }, extra || {})); };

const submitted = []; // {kind, part, message_id}
const receipts = new Map(); // message_id -> [receipt]
const mos = [];
const moParts = new Map();
let done = false;
let closing = false; // after our unbind the peer may close first

const session = smpp.connect({ host, port });
session.on('error', (e) => { if (!done) fail('socket error: ' + e.message); finish(); });
session.on('close', () => { if (!done && !closing) { fail('connection closed by peer'); finish(); } });

function call(cmd, fields) {
	return new Promise((resolve) => {
		const timer = setTimeout(() => { fail(cmd + ': no response'); resolve(null); }, 10000);
		const ok = session[cmd](fields || {}, (resp) => { clearTimeout(timer); resolve(resp); });
		if (ok === false) { clearTimeout(timer); fail(cmd + ': socket not writable'); resolve(null); }
	});
}

function checkStatus(cmd, resp, extra) {
	if (!resp) return false;
	if (resp.command === 'generic_nack') { fail(cmd + ': generic_nack', { status: resp.command_status }); return false; }
	if (resp.command_status !== 0) {
		fail(cmd + ': command_status 0x' + resp.command_status.toString(16), Object.assign({ status: resp.command_status }, extra || {}));
		return false;
	}
	return true;
}

session.on('deliver_sm', (pdu) => {
	const raw = Buffer.isBuffer(pdu.short_message) ? pdu.short_message : Buffer.alloc(0);
	const payload = Buffer.isBuffer(pdu.message_payload) ? pdu.message_payload : null;
	let body = raw.length ? raw : (payload || raw);
	const isReceipt = (pdu.esm_class & 0x3c) !== 0; // 0x04 receipt, 0x08/0x10 acks, 0x20 intermediate
	session.send(pdu.response());
	if (isReceipt) {
		const text = T.decode(body, pdu.data_coding);
		const parsed = T.parseReceipt(text);
		// Intermediate: esm_class 0x20 (the spec), or a non-final state in a
		// 0x04 receipt (what many SMSCs send, and what Kannel accepts).
		const state = pdu.message_state !== undefined ? pdu.message_state : (parsed ? T.STATES[parsed.stat] : undefined);
		const nonFinal = state === T.STATES.ENROUTE || state === T.STATES.SCHEDULED;
		const r = {
			event: 'receipt', esm_class: pdu.esm_class, intermediate: (pdu.esm_class & 0x20) !== 0 || nonFinal,
			receipted_message_id: pdu.receipted_message_id === undefined ? null : pdu.receipted_message_id,
			message_state: pdu.message_state === undefined ? null : pdu.message_state,
			source_addr: T.fromAddr(pdu.source_addr, pdu.source_addr_ton), destination_addr: T.fromAddr(pdu.destination_addr, pdu.dest_addr_ton),
			short_message: text, parsed,
		};
		T.emit(r);
		if (nonFinal && !(pdu.esm_class & 0x20)) {
			const msg = `intermediate receipt (state ${state}) with esm_class 0x${pdu.esm_class.toString(16)}, not 0x20`;
			if (opt['strict-intermediate']) fail(msg);
			else T.emit({ event: 'warning', warning: msg });
		}
		const id = r.receipted_message_id || (parsed && parsed.id);
		if (!id) return fail('receipt without receipted_message_id or id:', { short_message: text });
		if (r.receipted_message_id && parsed && parsed.id !== r.receipted_message_id) {
			fail('receipt text id differs from receipted_message_id', { text_id: parsed.id, tlv_id: r.receipted_message_id });
		}
		if (!submitted.some((s) => s.message_id === id)) fail('receipt for an id we were not given: ' + id);
		if (r.message_state === null) fail('receipt without message_state TLV', { id });
		const stat = parsed ? parsed.stat : null;
		if (r.message_state !== null && stat && T.STATES[stat] !== undefined && T.STATES[stat] !== r.message_state) {
			fail(`receipt stat ${stat} disagrees with message_state ${r.message_state}`, { id });
		}
		if (!receipts.has(id)) receipts.set(id, []);
		const list = receipts.get(id);
		list.push(r);
		if (!r.intermediate) {
			if (stat !== expectStat) fail(`receipt for ${id}: stat ${stat}, want ${expectStat}`);
			if (list.filter((x) => !x.intermediate).length > 1 && !opt['allow-duplicate-receipts']) fail('second final receipt for ' + id);
		} else if (list.some((x) => !x.intermediate && x !== r)) {
			fail('intermediate receipt after the final one for ' + id);
		}
		return;
	}
	// MO: reassemble concatenated parts (UDH IEI 0x00/0x08, or SAR TLVs).
	let concat = null;
	if (pdu.esm_class & 0x40) {
		const u = T.splitUdh(body);
		if (!u) return fail('MO with UDHI but a malformed UDH');
		concat = u.concat; body = u.body;
	} else if (pdu.sar_msg_ref_num !== undefined) {
		concat = { ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum };
	}
	const m = {
		from: T.fromAddr(pdu.source_addr, pdu.source_addr_ton), to: T.fromAddr(pdu.destination_addr, pdu.dest_addr_ton),
		data_coding: pdu.data_coding, text: T.decode(body, pdu.data_coding),
	};
	if (concat && concat.total > 1) {
		const key = m.from + '/' + concat.ref + '/' + concat.total;
		if (!moParts.has(key)) moParts.set(key, new Map());
		const got = moParts.get(key);
		got.set(concat.seq, m);
		T.emit(Object.assign({ event: 'mo_part', seq: concat.seq, total: concat.total, ref: concat.ref }, m));
		if (got.size < concat.total) return;
		moParts.delete(key);
		const all = [...got.keys()].sort((a, b) => a - b).map((k) => got.get(k));
		Object.assign(m, { text: all.map((p) => p.text).join(''), parts: concat.total });
	}
	mos.push(m);
	T.emit(Object.assign({ event: 'mo' }, m));
});
session.on('enquire_link', (pdu) => session.send(pdu.response()));
session.on('unbind', (pdu) => { session.send(pdu.response()); T.emit({ event: 'unbind_from_peer' }); });

async function submit(kind) {
	const src = T.toAddr(from), dst = T.toAddr(to);
	const base = {
		source_addr_ton: src.ton, source_addr_npi: src.npi, source_addr: src.addr,
		dest_addr_ton: dst.ton, dest_addr_npi: dst.npi, destination_addr: dst.addr,
		registered_delivery: registeredDelivery,
	};
	const dc = kind === 'ucs2' ? 8 : 0;
	const text = TEXTS[kind];
	if (!text) return fail('unknown --submit kind ' + kind);
	let parts = [text];
	if (kind === 'concat') {
		parts = T.split(text, dc);
		if (parts.length !== 3) return fail('concat text split into ' + parts.length + ' parts, want 3');
	}
	const ref = Math.floor(Math.random() * 256);
	for (let i = 0; i < parts.length; i++) {
		let sm = T.encode(parts[i], dc);
		let esm = 0;
		if (parts.length > 1) { sm = Buffer.concat([T.concatUdh(ref, parts.length, i + 1), sm]); esm = 0x40; }
		const resp = await call('submit_sm', Object.assign({}, base, { esm_class: esm, data_coding: dc, short_message: sm }));
		if (expectSubmitStatus !== null) {
			if (!resp) continue;
			T.emit({ event: 'submit_sm_resp', kind, part: i + 1, status: resp.command_status, message_id: resp.message_id || null });
			if (resp.command_status !== expectSubmitStatus) {
				fail(`submit_sm ${kind}: command_status 0x${resp.command_status.toString(16)}, want 0x${expectSubmitStatus.toString(16)}`);
				if (resp.message_id) submitted.push({ kind, part: i + 1, message_id: resp.message_id }); // its receipts are not strays
			}
			continue;
		}
		if (!checkStatus('submit_sm ' + kind, resp, { kind, part: i + 1 })) continue;
		const id = resp.message_id;
		T.emit({ event: 'submit_sm_resp', kind, part: i + 1, parts: parts.length, message_id: id, status: resp.command_status, text: parts[i] });
		if (!id) fail('submit_sm_resp without message_id', { kind });
		else submitted.push({ kind, part: i + 1, message_id: id });
	}
}

function runShell(cmd) {
	return new Promise((resolve) => {
		const p = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
		let out = '';
		p.stdout.on('data', (d) => { out += d; });
		p.stderr.on('data', (d) => { out += d; });
		p.on('close', (code) => {
			T.emit({ event: 'on_bound', code, output: out.trim().slice(0, 2000) });
			if (code !== 0) fail('--on-bound command exited ' + code);
			resolve();
		});
	});
}

function satisfied() {
	const ids = [...new Set(submitted.map((s) => s.message_id))];
	const finals = ids.every((id) => (receipts.get(id) || []).some((r) => !r.intermediate));
	const inter = !opt['expect-intermediate'] || ids.every((id) => (receipts.get(id) || []).some((r) => r.intermediate));
	return ((registeredDelivery & 0x03) === 0 || finals) && inter && mos.length >= expectMO;
}

function wait(cond, ms) {
	return new Promise((resolve) => {
		const start = Date.now();
		const tick = () => {
			if (cond()) return resolve(true);
			if (Date.now() - start > ms) return resolve(false);
			setTimeout(tick, 25);
		};
		tick();
	});
}

function finish() {
	if (done) return;
	done = true;
	const ids = [...new Set(submitted.map((s) => s.message_id))];
	T.emit({
		event: 'summary', ok: errors.length === 0, errors,
		submitted: submitted.length, distinct_ids: ids.length,
		final_receipts: ids.filter((id) => (receipts.get(id) || []).some((r) => !r.intermediate)).length,
		intermediate_receipts: [...receipts.values()].flat().filter((r) => r.intermediate).length,
		mo: mos.map((m) => m.text),
	});
	try { session.destroy(); } catch (e) { /* gone already */ }
	process.exit(errors.length === 0 ? 0 : 1);
}

async function main() {
	await new Promise((resolve) => session.on('connect', resolve));
	const bind = await call('bind_transceiver', { system_id: systemId, password, interface_version: 0x34 });
	if (opt['expect-bind-fail']) {
		if (!bind) return finish();
		T.emit({ event: 'bind_resp', status: bind.command_status });
		if (bind.command_status === 0) fail('bind succeeded with credentials that must be refused');
		done = true;
		T.emit({ event: 'summary', ok: errors.length === 0, errors, bind_status: bind.command_status });
		session.destroy();
		process.exit(errors.length === 0 ? 0 : 1);
	}
	if (!checkStatus('bind_transceiver', bind)) return finish();
	T.emit({ event: 'bind_resp', status: 0, system_id: bind.system_id });
	checkStatus('enquire_link', await call('enquire_link'));
	T.emit({ event: 'enquire_link_resp' });
	if (opt['on-bound']) await runShell(opt['on-bound']);
	for (const k of kinds) await submit(k);
	if (!(await wait(() => satisfied() || errors.length > 0, timeoutMs))) {
		const ids = [...new Set(submitted.map((s) => s.message_id))];
		const missing = ids.filter((id) => !(receipts.get(id) || []).some((r) => !r.intermediate));
		if ((registeredDelivery & 0x03) && missing.length) fail('no final receipt for ' + missing.join(','));
		if (opt['expect-intermediate']) {
			const noInter = ids.filter((id) => !(receipts.get(id) || []).some((r) => r.intermediate));
			if (noInter.length) fail('no intermediate receipt for ' + noInter.join(','));
		}
		if (mos.length < expectMO) fail(`got ${mos.length} MO, want ${expectMO}`);
	}
	await new Promise((r) => setTimeout(r, lingerMs)); // catch duplicates and strays
	for (const t of expectMOText) if (!mos.some((m) => m.text === t)) fail('no MO with text ' + JSON.stringify(t), { got: mos.map((m) => m.text) });
	checkStatus('enquire_link', await call('enquire_link'));
	closing = true;
	const unbind = await call('unbind');
	if (checkStatus('unbind', unbind)) T.emit({ event: 'unbind_resp', status: 0 });
	finish();
}

setTimeout(() => { fail('overall timeout'); finish(); }, timeoutMs + lingerMs + 15000).unref();
main().catch((e) => { fail('exception: ' + (e && e.stack)); finish(); });
