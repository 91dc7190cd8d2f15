#!/usr/bin/env node
'use strict';
// smsc.js: a minimal SMSC on node-smpp's server side. A stand-in for
// wabridge's SMPP server while that is being written, and the upstream SMSC
// that wabridge's SMS fallback (issue 7) will bind to.
//
//   node smsc.js [--host 127.0.0.1] [--port 0] [--control-port 0]
//                [--account system_id:password]...   (default smsc:secret)
//                [--ready-file FILE] [--dlr-delay 200] [--dlr-stat DELIVRD]
//                [--dlr-err 0] [--submit-status 0] [--no-intermediate] [--no-receipts]
//
// Binds (transmitter, receiver, transceiver) are checked against the
// accounts. submit_sm is answered with a ULID-shaped lower-case id (the shape
// of wabridge's ids) and, when registered_delivery asks for it, a receipt
// deliver_sm (esm_class 0x04, Appendix B text, receipted_message_id and
// message_state TLVs) follows after --dlr-delay ms; an intermediate ENROUTE
// receipt (esm_class 0x20) comes first when bit 0x10 is set.
//
// Every PDU event is printed as a JSON line on stdout. Once listening, the
// ready file gets {"smpp_port":N,"control_port":M}. The control API (HTTP on
// 127.0.0.1:M) drives it from tests:
//   GET  /state    {sessions, submits, delivers, config}
//   POST /mo       {"from","to","text","data_coding"?,"system_id"?,"long"?}: deliver_sm
//                  MO to a bound receiver; a long text is split into 8-bit-ref
//                  UDH parts, or with "long":"payload" sent whole in one
//                  deliver_sm's message_payload TLV (empty short_message);
//                  answers {"statuses":[deliver_sm_resp command_status…]}
//   POST /receipt  {"message_id","stat"?,"err"?,"as_id"?}: send a final receipt for
//                  that submit now; "as_id" puts another id in the receipt (to
//                  check that a gateway matches ids exactly)
//   POST /config   {"dlr_delay","dlr_stat","dlr_err","submit_status","intermediate",
//                   "receipts" (false: no automatic receipts)}
const http = require('http');
const fs = require('fs');
const T = require('./smpp_text');
const smpp = T.smpp;

const opt = T.args(process.argv.slice(2), ['no-intermediate', 'no-receipts'], ['account']);
const accounts = {};
for (const a of [].concat(opt.account || 'smsc:secret')) {
	const i = a.indexOf(':');
	accounts[a.slice(0, i)] = a.slice(i + 1);
}
const config = {
	dlr_delay: Number(opt['dlr-delay'] || 200),
	dlr_stat: opt['dlr-stat'] || 'DELIVRD',
	dlr_err: Number(opt['dlr-err'] || 0),
	submit_status: Number(opt['submit-status'] || 0),
	intermediate: !opt['no-intermediate'],
	receipts: !opt['no-receipts'],
};

const sessions = new Set();
const submits = []; // what ESMEs submitted, with the ids we gave
const byId = new Map();
const delivers = []; // deliver_sm we sent and how they were answered
let moRef = 0;

function canReceive(s) { return s.bound === 'receiver' || s.bound === 'transceiver'; }
function canTransmit(s) { return s.bound === 'transmitter' || s.bound === 'transceiver'; }

function receiverFor(systemId, prefer) {
	if (prefer && sessions.has(prefer) && canReceive(prefer) && (!systemId || prefer.system_id === systemId)) return prefer;
	for (const s of sessions) if (canReceive(s) && (!systemId || s.system_id === systemId)) return s;
	return null;
}

// deliver sends a deliver_sm and resolves with its deliver_sm_resp status.
function deliver(session, fields, what) {
	return new Promise((resolve) => {
		const rec = { what, system_id: session.system_id, fields: summarize(fields), status: null };
		delivers.push(rec);
		const timer = setTimeout(() => { rec.status = 'timeout'; resolve('timeout'); }, 10000);
		const ok = session.deliver_sm(fields, (resp) => {
			clearTimeout(timer);
			rec.status = resp.command_status;
			T.emit({ event: 'deliver_sm_resp', what, system_id: session.system_id, status: resp.command_status, sequence_number: resp.sequence_number });
			resolve(resp.command_status);
		});
		if (ok === false) { clearTimeout(timer); rec.status = 'not_writable'; resolve('not_writable'); }
		T.emit({ event: 'deliver_sm', what, system_id: session.system_id, fields: summarize(fields) });
	});
}

function summarize(f) {
	const out = {};
	for (const k of Object.keys(f)) out[k] = Buffer.isBuffer(f[k]) ? f[k].toString('hex') : f[k];
	return out;
}

async function sendReceipt(sub, stat, err, intermediate, asId) {
	const s = receiverFor(sub.system_id, sub.session);
	if (!s) {
		T.emit({ event: 'receipt_undeliverable', message_id: sub.message_id, reason: 'no receiver bound' });
		return 'no_receiver';
	}
	const id = asId || sub.message_id;
	const text = T.receiptText(id, stat, err, sub.at, sub.text);
	// The receipt comes from the recipient of the original message.
	return deliver(s, {
		source_addr_ton: sub.dest_addr_ton, source_addr_npi: sub.dest_addr_npi, source_addr: sub.wire.destination_addr,
		dest_addr_ton: sub.source_addr_ton, dest_addr_npi: sub.source_addr_npi, destination_addr: sub.wire.source_addr,
		esm_class: intermediate ? 0x20 : 0x04,
		data_coding: 0,
		short_message: T.encode(text, 0),
		receipted_message_id: id,
		message_state: T.STATES[stat] === undefined ? T.STATES.UNKNOWN : T.STATES[stat],
	}, intermediate ? 'intermediate_receipt' : 'receipt');
}

function onSubmit(session, pdu) {
	if (!canTransmit(session)) {
		session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
		T.emit({ event: 'submit_sm_refused', reason: 'not bound to transmit', sequence_number: pdu.sequence_number });
		return;
	}
	const raw = Buffer.isBuffer(pdu.short_message) ? pdu.short_message : Buffer.alloc(0);
	const payload = Buffer.isBuffer(pdu.message_payload) ? pdu.message_payload : null;
	let body = raw.length ? raw : (payload || raw);
	let udh = null, concat = null;
	if (pdu.esm_class & 0x40) {
		const u = T.splitUdh(body);
		if (u) { udh = u.udh.toString('hex'); concat = u.concat; body = u.body; }
	}
	if (pdu.sar_msg_ref_num !== undefined) {
		concat = { ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum, sar: true };
	}
	const sub = {
		system_id: session.system_id,
		source_addr: T.fromAddr(pdu.source_addr, pdu.source_addr_ton), source_addr_ton: pdu.source_addr_ton, source_addr_npi: pdu.source_addr_npi,
		destination_addr: T.fromAddr(pdu.destination_addr, pdu.dest_addr_ton), dest_addr_ton: pdu.dest_addr_ton, dest_addr_npi: pdu.dest_addr_npi,
		esm_class: pdu.esm_class, data_coding: pdu.data_coding, registered_delivery: pdu.registered_delivery,
		udh, concat, text: T.decode(body, pdu.data_coding), body_hex: body.toString('hex'),
		message_payload: !!(payload && !raw.length),
		at: new Date(),
	};
	Object.defineProperty(sub, 'session', { value: session, enumerable: false });
	Object.defineProperty(sub, 'wire', { value: { source_addr: pdu.source_addr, destination_addr: pdu.destination_addr }, enumerable: false });
	if (config.submit_status) {
		sub.status = config.submit_status;
		submits.push(sub);
		session.send(pdu.response({ command_status: config.submit_status }));
		T.emit(Object.assign({ event: 'submit_sm', refused: config.submit_status }, sub));
		return;
	}
	sub.message_id = T.newId();
	sub.status = 0;
	submits.push(sub);
	byId.set(sub.message_id, sub);
	session.send(pdu.response({ message_id: sub.message_id }));
	T.emit(Object.assign({ event: 'submit_sm' }, sub));
	const rd = pdu.registered_delivery & 0x03;
	const stat = config.dlr_stat, err = config.dlr_err;
	const wantFinal = rd === 1 || (rd === 2 && stat !== 'DELIVRD');
	const wantIntermediate = config.intermediate && (pdu.registered_delivery & 0x10);
	if (!config.receipts || (!wantFinal && !wantIntermediate)) return;
	setTimeout(async () => {
		if (wantIntermediate) await sendReceipt(sub, 'ENROUTE', 0, true);
		if (wantFinal) await sendReceipt(sub, stat, err, false);
	}, config.dlr_delay);
}

function onBind(session, pdu, kind) {
	const ok = accounts[pdu.system_id] !== undefined && accounts[pdu.system_id] === pdu.password;
	if (session.bound) {
		session.send(pdu.response({ command_status: smpp.ESME_RALYBND }));
		T.emit({ event: 'bind_refused', kind, system_id: pdu.system_id, reason: 'already bound' });
		return;
	}
	if (!ok) {
		session.send(pdu.response({ command_status: accounts[pdu.system_id] === undefined ? smpp.ESME_RINVSYSID : smpp.ESME_RINVPASWD }));
		T.emit({ event: 'bind_refused', kind, system_id: pdu.system_id, reason: 'bad credentials' });
		return;
	}
	session.bound = kind;
	session.system_id = pdu.system_id;
	session.send(pdu.response({ system_id: 'smscjs' }));
	T.emit({ event: 'bound', kind, system_id: pdu.system_id, system_type: pdu.system_type, interface_version: pdu.interface_version });
}

const server = smpp.createServer((session) => {
	sessions.add(session);
	session.bound = null;
	T.emit({ event: 'connect', remote: session.socket.remoteAddress + ':' + session.socket.remotePort });
	session.on('bind_transceiver', (pdu) => onBind(session, pdu, 'transceiver'));
	session.on('bind_transmitter', (pdu) => onBind(session, pdu, 'transmitter'));
	session.on('bind_receiver', (pdu) => onBind(session, pdu, 'receiver'));
	session.on('submit_sm', (pdu) => onSubmit(session, pdu));
	session.on('enquire_link', (pdu) => {
		session.send(pdu.response());
		T.emit({ event: 'enquire_link', system_id: session.system_id });
	});
	session.on('unbind', (pdu) => {
		session.send(pdu.response());
		T.emit({ event: 'unbind', system_id: session.system_id });
		session.bound = null;
		session.close();
	});
	session.on('unknown', (pdu) => {
		session.send(pdu.response());
		T.emit({ event: 'unknown_pdu', command_id: pdu.command_id });
	});
	for (const cmd of ['data_sm', 'query_sm', 'cancel_sm', 'replace_sm', 'submit_multi']) {
		session.on(cmd, (pdu) => {
			session.send(pdu.response({ command_status: smpp.ESME_RINVCMDID }));
			T.emit({ event: 'unsupported', command: cmd });
		});
	}
	session.on('generic_nack', (pdu) => T.emit({ event: 'generic_nack', status: pdu.command_status, sequence_number: pdu.sequence_number }));
	session.on('error', (e) => T.emit({ event: 'session_error', error: String(e && e.message) }));
	session.on('close', () => {
		sessions.delete(session);
		T.emit({ event: 'close', system_id: session.system_id });
	});
});
server.on('error', (e) => { T.emit({ event: 'server_error', error: String(e.message) }); process.exit(1); });

function body(req) {
	return new Promise((resolve, reject) => {
		let data = '';
		req.setEncoding('utf8');
		req.on('data', (c) => { data += c; });
		req.on('end', () => { try { resolve(data ? JSON.parse(data) : {}); } catch (e) { reject(e); } });
	});
}

async function injectMO(m) {
	const s = receiverFor(m.system_id || null, null);
	if (!s) return { code: 409, body: { error: 'no receiver bound' + (m.system_id ? ' for ' + m.system_id : '') } };
	const text = String(m.text || '');
	const dc = m.data_coding !== undefined ? Number(m.data_coding) : (T.isGsm(text) ? 0 : 8);
	const parts = m.long === 'payload' ? [text] : T.split(text, dc);
	const src = T.toAddr(m.from || '+4915112345678');
	const dst = T.toAddr(m.to || '+15550100001');
	const ref = (++moRef) & 0xff;
	const statuses = [];
	for (let i = 0; i < parts.length; i++) {
		let sm = T.encode(parts[i], dc);
		if (parts.length > 1) sm = Buffer.concat([T.concatUdh(ref, parts.length, i + 1), sm]);
		const f = {
			source_addr_ton: src.ton, source_addr_npi: src.npi, source_addr: src.addr,
			dest_addr_ton: dst.ton, dest_addr_npi: dst.npi, destination_addr: dst.addr,
			esm_class: parts.length > 1 ? 0x40 : 0, data_coding: dc, short_message: sm,
		};
		if (m.long === 'payload') { f.short_message = Buffer.alloc(0); f.message_payload = sm; }
		statuses.push(await deliver(s, f, 'mo'));
	}
	return { code: 200, body: { statuses, parts: parts.length, data_coding: dc, system_id: s.system_id } };
}

const control = http.createServer(async (req, res) => {
	const send = (code, obj) => { res.writeHead(code, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(obj) + '\n'); };
	try {
		const url = new URL(req.url, 'http://x');
		if (req.method === 'GET' && url.pathname === '/state') {
			return send(200, {
				sessions: [...sessions].map((s) => ({ system_id: s.system_id, bound: s.bound })),
				submits, delivers, config,
			});
		}
		if (req.method === 'POST' && url.pathname === '/mo') {
			const r = await injectMO(await body(req));
			return send(r.code, r.body);
		}
		if (req.method === 'POST' && url.pathname === '/receipt') {
			const b = await body(req);
			const sub = byId.get(b.message_id);
			if (!sub) return send(404, { error: 'unknown message_id' });
			const status = await sendReceipt(sub, b.stat || 'DELIVRD', b.err || 0, false, b.as_id);
			return send(200, { status });
		}
		if (req.method === 'POST' && url.pathname === '/config') {
			Object.assign(config, await body(req));
			return send(200, config);
		}
		send(404, { error: 'not found' });
	} catch (e) {
		send(400, { error: String(e.message) });
	}
});

server.listen(Number(opt.port || 0), opt.host || '127.0.0.1', () => {
	control.listen(Number(opt['control-port'] || 0), '127.0.0.1', () => {
		const ready = { smpp_port: server.address().port, control_port: control.address().port };
		T.emit(Object.assign({ event: 'listening' }, ready));
		if (opt['ready-file']) {
			fs.writeFileSync(opt['ready-file'] + '.tmp', JSON.stringify(ready) + '\n');
			fs.renameSync(opt['ready-file'] + '.tmp', opt['ready-file']);
		}
	});
});

for (const sig of ['SIGTERM', 'SIGINT']) {
	process.on(sig, () => {
		for (const s of sessions) { try { s.destroy(); } catch (e) { /* closing anyway */ } }
		server.close();
		control.close();
		process.exit(0);
	});
}
