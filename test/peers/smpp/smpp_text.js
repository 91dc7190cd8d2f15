'use strict';
// Text, address, id and receipt helpers shared by esme.js and smsc.js.
// Encoding is done here (GSM 03.38 unpacked, UCS-2/UTF-16BE) and handed to
// node-smpp as Buffers, so node-smpp's automatic data_coding detection never
// runs: it labels GSM-encoded text as data_coding 1 (IA5), which is wrong.

const crypto = require('crypto');
const smpp = require('smpp');

// Keep short_message and message_payload as the raw bytes received: node-smpp
// would decode them into {udh, message} with its own (lossy) guesses; we
// decode them ourselves from data_coding and esm_class.
smpp.filters.message.decode = (value) => value;

// GSM 03.38 default alphabet and its extension table (each extension char
// costs two septets: ESC + char).
const GSM_BASIC = '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
	'¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXT = '\f^{}\\[~]|€';

function gsmCost(ch) {
	if (ch !== '\x1b' && GSM_BASIC.includes(ch)) return 1;
	if (GSM_EXT.includes(ch)) return 2;
	return null;
}

function isGsm(text) {
	for (const ch of text) if (gsmCost(ch) === null) return false;
	return true;
}

// encode returns the short_message bytes for text in data_coding 0 (GSM
// 03.38, one septet per octet, unpacked as SMPP carries it) or 8 (UCS-2).
function encode(text, dataCoding) {
	if (dataCoding === 8) {
		const le = Buffer.from(text, 'utf16le');
		for (let i = 0; i + 1 < le.length; i += 2) {
			const b = le[i]; le[i] = le[i + 1]; le[i + 1] = b;
		}
		return le;
	}
	if (dataCoding === 0 || dataCoding === 1) return smpp.gsmCoder.encode(text, 0);
	if (dataCoding === 3) return Buffer.from(text, 'latin1');
	throw new Error('unsupported data_coding ' + dataCoding);
}

function decode(buf, dataCoding) {
	const dc = dataCoding & 0xff;
	if (dc === 8) {
		const le = Buffer.from(buf);
		for (let i = 0; i + 1 < le.length; i += 2) {
			const b = le[i]; le[i] = le[i + 1]; le[i + 1] = b;
		}
		return le.toString('utf16le');
	}
	if (dc === 3) return buf.toString('latin1');
	if (dc === 0 || dc === 1 || (dc & 0xf0) === 0xf0) return smpp.gsmCoder.decode(buf, 0);
	return buf.toString('latin1');
}

// split cuts text into SMS segments: 160/153 septets for GSM, 70/67 UTF-16
// code units for UCS-2. It never splits an escape pair or a surrogate pair.
function split(text, dataCoding) {
	const single = dataCoding === 8 ? 70 : 160;
	const multi = dataCoding === 8 ? 67 : 153;
	const cost = (ch) => (dataCoding === 8 ? ch.length : (gsmCost(ch) || 1));
	let total = 0;
	for (const ch of text) total += cost(ch);
	if (total <= single) return [text];
	const parts = [];
	let cur = '', used = 0;
	for (const ch of text) { // for..of walks code points: surrogate pairs stay whole
		const c = cost(ch);
		if (used + c > multi) { parts.push(cur); cur = ''; used = 0; }
		cur += ch; used += c;
	}
	if (cur) parts.push(cur);
	return parts;
}

// concatUdh is the 8-bit-reference concatenation UDH: 05 00 03 ref total seq.
function concatUdh(ref, total, seq) {
	return Buffer.from([5, 0, 3, ref & 0xff, total, seq]);
}

// splitUdh separates a UDH-carrying short_message (esm_class 0x40) into the
// UDH, its concatenation info (IEI 0x00 8-bit or 0x08 16-bit ref) and the body.
function splitUdh(buf) {
	const len = buf[0];
	if (len === undefined || len + 1 > buf.length) return null;
	const udh = buf.subarray(0, len + 1);
	let concat = null;
	for (let i = 1; i + 1 < udh.length;) {
		const iei = udh[i], iel = udh[i + 1];
		const v = udh.subarray(i + 2, i + 2 + iel);
		if (iei === 0x00 && iel === 3) concat = { ref: v[0], total: v[1], seq: v[2] };
		if (iei === 0x08 && iel === 4) concat = { ref: (v[0] << 8) | v[1], total: v[2], seq: v[3] };
		i += 2 + iel;
	}
	return { udh, concat, body: buf.subarray(len + 1) };
}

// ULID-shaped id in lower-case Crockford base32 (26 chars), the shape of
// wabridge's own message ids (e.g. 01m80bm55e5xf2p61xfeg5j2zq).
const B32 = '0123456789abcdefghjkmnpqrstvwxyz';
function newId() {
	let t = Date.now();
	let out = '';
	for (let i = 0; i < 10; i++) { out = B32[t % 32] + out; t = Math.floor(t / 32); }
	const r = crypto.randomBytes(16);
	for (let i = 0; i < 16; i++) out += B32[r[i] % 32];
	return out;
}

// toAddr turns "+4915112345678" into international TON/NPI without the
// plus, digits into TON 1 as well, and anything else into alphanumeric.
function toAddr(s) {
	if (s === '') return { addr: '', ton: 0, npi: 0 };
	if (/^\+\d+$/.test(s)) return { addr: s.slice(1), ton: 1, npi: 1 };
	if (/^\d+$/.test(s)) return { addr: s, ton: 1, npi: 1 };
	return { addr: s, ton: 5, npi: 0 };
}

function fromAddr(addr, ton) {
	return ton === 1 && /^\d+$/.test(addr) ? '+' + addr : addr;
}

const STATES = { SCHEDULED: 0, ENROUTE: 1, DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8, SKIPPED: 9 };

// parseReceipt reads the SMPP 3.4 Appendix B receipt text.
function parseReceipt(text) {
	const m = /id:(\S+)\s+sub:(\S*)\s+dlvrd:(\S*)\s+submit date:(\d*)\s+done date:(\d*)\s+stat:(\S+)\s+err:(\S*)(?:\s+[Tt]ext:(.*))?/s.exec(text || '');
	if (!m) return null;
	return { id: m[1], sub: m[2], dlvrd: m[3], submit_date: m[4], done_date: m[5], stat: m[6], err: m[7], text: m[8] === undefined ? null : m[8] };
}

function smppDate(d) {
	const p = (n) => String(n).padStart(2, '0');
	return p(d.getUTCFullYear() % 100) + p(d.getUTCMonth() + 1) + p(d.getUTCDate()) + p(d.getUTCHours()) + p(d.getUTCMinutes());
}

function receiptText(id, stat, err, submitted, original) {
	const now = new Date();
	let t = '';
	for (const ch of (original || '').slice(0, 20)) t += gsmCost(ch) === 1 && ch !== '\n' && ch !== '\r' ? ch : '?';
	return `id:${id} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:${smppDate(submitted || now)} ` +
		`done date:${smppDate(now)} stat:${stat} err:${String(err || 0).padStart(3, '0')} text:${t}`;
}

// args parses --key value and --flag (boolean) arguments. Keys listed in
// repeated collect into arrays; for any other key the last value wins.
function args(argv, booleans, repeated) {
	const out = {};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (!a.startsWith('--')) throw new Error('unexpected argument ' + a);
		const k = a.slice(2);
		let v;
		if (booleans.includes(k)) v = true;
		else {
			if (i + 1 >= argv.length) throw new Error('missing value for ' + a);
			v = argv[++i];
		}
		if ((repeated || []).includes(k)) out[k] = [].concat(out[k] || [], v);
		else out[k] = v;
	}
	return out;
}

function emit(obj) {
	process.stdout.write(JSON.stringify(Object.assign({ ts: new Date().toISOString() }, obj)) + '\n');
}

module.exports = {
	isGsm, encode, decode, split, concatUdh, splitUdh, newId, toAddr, fromAddr,
	STATES, parseReceipt, receiptText, args, emit, smpp,
};
