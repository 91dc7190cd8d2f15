#!/usr/bin/env python3
"""Python's imaplib (stdlib) as a mail client, for wabridge's IMAP peer tests.

Every mode connects (STARTTLS on the plain port by default, or --tls implicit
on the TLS port; the certificate verified with --cafile: chain and host name or
IP), logs in (LOGIN) and does one thing:

idle      SELECT a mailbox, IDLE by hand (imaplib has no IDLE before 3.14:
          send "TAG IDLE", read "+", read lines until "* N EXISTS" with N
          above the count SELECT gave, send "DONE", read the tagged OK).
          --on-idle CMD runs (through the shell) once the server said "+",
          so whatever CMD causes happens while the client idles.
fetch     SELECT, FETCH one message (--seq or --uid) with UID FLAGS
          RFC822.SIZE BODY.PEEK[] (or BODY[] with --no-peek), parsed with the
          email package: From name and address, Message-ID, In-Reply-To,
          Subject, the text body decoded.
reply     fetch, then reply as a mail client does: Re: subject, In-Reply-To and
          References naming its Message-ID, the original quoted under an
          "On DATE, NAME wrote:" line; submitted with smtplib (STARTTLS
          verified, AUTH) to --smtp-port; --save-sent APPENDs it to Sent.
flags     SELECT, then NOOP + FETCH FLAGS of one message until it has every
          --want flag (or --wait seconds pass).
search    SELECT, then UID SEARCH for each --criteria; the UIDs per criteria.
store     SELECT, UID STORE --op (+FLAGS, -FLAGS, FLAGS) --flags on --uid.
status    STATUS a mailbox until MESSAGES >= --min (or --wait seconds pass).
list      LIST "" "*": names and attributes.
probe-plain
          no TLS: read the greeting's capabilities, ask CAPABILITY, then try
          LOGIN and AUTHENTICATE PLAIN anyway, recording the answers (a server
          must refuse both; LOGINDISABLED tells the client so).

Prints one JSON object with what happened; exit 0 when the flow ran (and,
for flags/status, the condition was met), 1 otherwise. The calling script
judges the result.
"""
import argparse
import email
import imaplib
import json
import re
import socket
import smtplib
import ssl
import subprocess
import sys
import time
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

# No folding below 998 characters: the email package would otherwise turn a
# msg-id longer than a 78-character line (wabridge's <wamid@domain> are) into
# RFC 2047 encoded words in In-Reply-To/References, which no server reads as
# a msg-id. Mail clients write them on one line, or folded between ids.
REPLY_POLICY = policy.SMTP.clone(max_line_length=998)


def text(b):
    if isinstance(b, bytes):
        return b.decode("utf-8", "replace")
    return b


def answer(typ, data):
    """An imaplib (type, data) pair as JSON-friendly values."""
    out = []
    for d in data or []:
        if isinstance(d, tuple):
            out.append([text(x) for x in d])
        elif d is not None:
            out.append(text(d))
    return [typ, out]


def connect(a, out):
    """Connect, secure the connection as --tls says, LOGIN. Returns the client."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=a.cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if a.tls == "implicit":
        c = imaplib.IMAP4_SSL(a.host, a.port, ssl_context=ctx, timeout=a.timeout)
    else:
        c = imaplib.IMAP4(a.host, a.port, timeout=a.timeout)
        out["caps_before_tls"] = sorted(c.capabilities)
        out["starttls"] = answer(*c.starttls(ssl_context=ctx))  # verifies chain and host name/IP
    if a.debug:
        c.debug = 4
    cert = c.sock.getpeercert()
    out["tls"] = {"version": c.sock.version(), "peer_san": cert.get("subjectAltName")}
    out["login"] = answer(*c.login(a.user, a.password))
    _, caps = c.capability()  # imaplib keeps the pre-login list; ask again
    out["caps"] = sorted(text(caps[-1] or b"").upper().split())
    return c


def select(c, a, out):
    typ, data = c.select(quote(a.mailbox))
    out["select"] = {"answer": answer(typ, data)}
    if typ != "OK":
        raise imaplib.IMAP4.error("SELECT %s: %s %s" % (a.mailbox, typ, data))
    for name in ("EXISTS", "UIDVALIDITY", "UIDNEXT", "FLAGS", "PERMANENTFLAGS", "UNSEEN"):
        v = c.untagged_responses.get(name)
        if v:
            out["select"][name.lower()] = text(v[-1])
    c.untagged_responses.clear()
    return int(data[0])


def quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def msgset(a):
    return ("UID", str(a.uid)) if a.uid else ("SEQ", str(a.seq))


def parse_fetch(data):
    """imaplib FETCH data → list of {seq, uid, flags, size, literal}."""
    res = []
    for d in data:
        if d is None:
            continue
        head, lit = (d[0], d[1]) if isinstance(d, tuple) else (d, None)
        head = text(head)
        m = re.match(r"(\d+) \(", head)
        if not m:
            continue  # the ")" closing a literal
        r = {"seq": int(m.group(1))}
        if (u := re.search(r"\bUID (\d+)", head)):
            r["uid"] = int(u.group(1))
        if (f := re.search(r"\bFLAGS \(([^)]*)\)", head)):
            r["flags"] = f.group(1).split()
        if (s := re.search(r"\bRFC822\.SIZE (\d+)", head)):
            r["size"] = int(s.group(1))
        if lit is not None:
            r["literal"] = lit
        res.append(r)
    return res


def raw_header(raw, name):
    """A header field as it is on the wire (unfolded), or None."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    m = re.search(rb"^" + name + rb":[ \t]*([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.M | re.I)
    return text(re.sub(rb"\r\n(?=[ \t])", b"", m.group(1))) if m else None


def fetch(c, a, out):
    select(c, a, out)
    kind, num = msgset(a)
    item = "BODY[]" if a.no_peek else "BODY.PEEK[]"
    items = "(UID FLAGS RFC822.SIZE %s)" % item
    typ, data = c.uid("FETCH", num, items) if kind == "UID" else c.fetch(num, items)
    out["fetch_answer"] = typ
    msgs = [m for m in parse_fetch(data) if "literal" in m]
    if typ != "OK" or not msgs:
        out["fetch_data"] = answer(typ, data)
        return False
    m = msgs[-1]
    raw = m.pop("literal")
    msg = email.message_from_bytes(raw, policy=policy.default)
    frm = msg["From"]
    addr = frm.addresses[0] if frm is not None and frm.addresses else None
    body = msg.get_body(preferencelist=("plain", "html"))
    # A second FETCH FLAGS: what the message's flags are after this FETCH
    # (BODY[] without PEEK sets \Seen).
    typ2, data2 = c.uid("FETCH", str(m["uid"]), "(FLAGS)")
    after = [x for x in parse_fetch(data2) if "flags" in x]
    out.update({
        "seq": m["seq"], "uid": m.get("uid"), "flags": m.get("flags"),
        "flags_after": after[-1]["flags"] if after else None,
        "size": m.get("size"), "bytes": len(raw),
        "from_name": addr.display_name if addr else None,
        "from_addr": addr.addr_spec if addr else None,
        "from_raw": raw_header(raw, b"From"),
        "message_id": msg["Message-ID"], "in_reply_to": msg["In-Reply-To"],
        "subject": msg["Subject"], "date": msg["Date"],
        "content_type": msg.get_content_type(),
        "text": body.get_content().replace("\r\n", "\n") if body is not None else None,
    })
    return True


def reply(c, a, out):
    """Reply to a message as a mail client does: fetch it, write the reply
    (Re: subject, In-Reply-To and References naming its Message-ID, the
    original quoted under an attribution line), submit it with smtplib
    (STARTTLS verified, AUTH), and with --save-sent APPEND it to Sent (\\Seen)."""
    orig = {}
    if not fetch(c, a, orig):
        out["fetch"] = orig
        return False
    out["replied_to"] = {k: orig.get(k) for k in ("uid", "from_addr", "message_id", "subject")}
    m = EmailMessage(policy=REPLY_POLICY)
    m["From"] = a.sender
    m["To"] = orig["from_addr"]
    subj = orig["subject"] or ""
    m["Subject"] = subj if subj.lower().startswith("re:") else "Re: " + subj
    m["Date"] = formatdate(localtime=True)
    m["Message-ID"] = make_msgid(domain="peer.test")
    m["In-Reply-To"] = orig["message_id"]
    m["References"] = orig["message_id"]
    quoted = "".join("> " + line + "\n" for line in (orig["text"] or "").rstrip("\n").split("\n"))
    m.set_content("%s\n\nOn %s, %s wrote:\n%s" % (a.body, orig["date"], orig["from_name"] or orig["from_addr"], quoted),
                  subtype="plain", charset="utf-8", cte="quoted-printable")
    raw = m.as_bytes()
    out["message_id"] = m["Message-ID"]
    out["in_reply_to"] = m["In-Reply-To"]
    out["raw_headers"] = text(raw.split(b"\r\n\r\n", 1)[0]).split("\r\n")
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=a.cafile)
    s = smtplib.SMTP(a.host, a.smtp_port, local_hostname="peer.test", timeout=a.timeout)
    try:
        s.ehlo()
        code, msg = s.starttls(context=ctx)  # verifies chain and host name/IP
        out["smtp_starttls"] = [code, text(msg)]
        s.ehlo()
        code, msg = s.login(a.user, a.password)
        out["smtp_auth"] = [code, text(msg)]
        refused = s.sendmail(a.sender, [orig["from_addr"]], raw)
        out["smtp_refused"] = {k: [v[0], text(v[1])] for k, v in refused.items()}
        s.quit()
    except smtplib.SMTPException as e:
        out["smtp_error"] = "%s: %s" % (type(e).__name__, e)
        return False
    finally:
        s.close()
    if a.save_sent:
        typ, data = c.append(quote("Sent"), "(\\Seen)", imaplib.Time2Internaldate(time.time()), raw)
        out["append"] = answer(typ, data)
        if typ != "OK":
            return False
    return not refused


def flags(c, a, out):
    select(c, a, out)
    kind, num = msgset(a)
    want = set(a.want)
    deadline = time.monotonic() + a.wait
    polls = 0
    start = time.monotonic()
    while True:
        polls += 1
        c.noop()
        c.untagged_responses.pop("FETCH", None)  # unsolicited flag updates; we ask below
        typ, data = c.uid("FETCH", num, "(FLAGS)") if kind == "UID" else c.fetch(num, "(FLAGS)")
        got = [m for m in parse_fetch(data) if "flags" in m]
        out["flags"] = got[-1]["flags"] if got else None
        out["uid"] = got[-1].get("uid") if got else None
        if got and want <= set(got[-1]["flags"]):
            out.update(polls=polls, seconds=round(time.monotonic() - start, 2))
            return True
        if time.monotonic() >= deadline:
            out.update(polls=polls, seconds=round(time.monotonic() - start, 2),
                       missing=sorted(want - set(out["flags"] or [])))
            return False
        time.sleep(0.1)


def search(c, a, out):
    select(c, a, out)
    out["search"] = {}
    ok = True
    for crit in a.criteria:
        typ, data = c.uid("SEARCH", crit)
        if typ != "OK":
            out["search"][crit] = answer(typ, data)
            ok = False
            continue
        out["search"][crit] = [int(x) for x in b" ".join(d for d in data if d).split()]
    return ok


def store(c, a, out):
    select(c, a, out)
    typ, data = c.uid("STORE", str(a.uid), a.op, "(%s)" % " ".join(a.flags))
    out["store"] = answer(typ, data)
    got = [m for m in parse_fetch(data) if "flags" in m]
    out["flags"] = got[-1]["flags"] if got else None
    return typ == "OK"


def status(c, a, out):
    deadline = time.monotonic() + a.wait
    while True:
        typ, data = c.status(quote(a.mailbox), "(MESSAGES UNSEEN UIDNEXT)")
        out["status"] = answer(typ, data)
        m = re.search(r"MESSAGES (\d+)", text(data[0] or b"")) if typ == "OK" else None
        out["messages"] = int(m.group(1)) if m else None
        if out["messages"] is not None and out["messages"] >= a.min:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def list_(c, a, out):
    typ, data = c.list('""', "*")
    out["list"] = []
    for d in data:
        m = re.match(r'\(([^)]*)\) (?:"[^"]*"|NIL) (.*)$', text(d))
        if m:
            out["list"].append({"name": m.group(2).strip('"'), "attrs": m.group(1).split()})
    return typ == "OK"


def idle(c, a, out):
    before = select(c, a, out)
    out["exists_before"] = before
    tag = b"IDLE1"
    c.send(tag + b" IDLE\r\n")
    c.sock.settimeout(a.timeout)
    cont = c.readline()
    out["idle_continuation"] = text(cont).rstrip()
    if not cont.startswith(b"+"):
        return False
    start = time.monotonic()
    if a.on_idle:
        p = subprocess.run(a.on_idle, shell=True, capture_output=True, timeout=a.wait)
        out["on_idle"] = {"rc": p.returncode, "stdout": text(p.stdout).strip(), "stderr": text(p.stderr).strip()}
    deadline = start + a.wait
    lines = []
    exists = None
    while exists is None:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        c.sock.settimeout(left)
        try:
            line = c.readline()
        except (socket.timeout, TimeoutError):
            break
        if not line:
            out["disconnected"] = True
            break
        lines.append(text(line).rstrip())
        m = re.match(rb"\* (\d+) EXISTS", line)
        if m and int(m.group(1)) > before:
            exists = int(m.group(1))
    out["idle_lines"] = lines
    out["exists"] = exists
    out["seconds_to_exists"] = round(time.monotonic() - start, 2) if exists else None
    if exists is None:
        return False
    # End the IDLE: DONE, then the tagged answer (more untagged data may come first).
    c.sock.settimeout(a.timeout)
    c.send(b"DONE\r\n")
    done = []
    while True:
        line = c.readline()
        if not line:
            break
        done.append(text(line).rstrip())
        if line.startswith(tag + b" "):
            break
    out["done"] = done
    return bool(done) and done[-1].startswith("IDLE1 OK")


def probe_plain(a, out):
    c = imaplib.IMAP4(a.host, a.port, timeout=a.timeout)
    out["greeting"] = text(c.welcome)
    out["caps"] = sorted(c.capabilities)
    typ, data = c.capability()
    out["capability"] = answer(typ, data)
    # imaplib itself does not stop at LOGINDISABLED: it sends LOGIN anyway.
    try:
        out["login"] = answer(*c.login(a.user, a.password))
    except imaplib.IMAP4.abort as e:
        out["login_error"] = "abort: %s" % e
        out["disconnected"] = True
        return True
    except imaplib.IMAP4.error as e:
        out["login_error"] = str(e)
    try:
        out["authenticate"] = answer(*c.authenticate(
            "PLAIN", lambda _: ("\0%s\0%s" % (a.user, a.password)).encode()))
    except imaplib.IMAP4.abort as e:
        out["authenticate_error"] = "abort: %s" % e
        out["disconnected"] = True
        return True
    except imaplib.IMAP4.error as e:
        out["authenticate_error"] = str(e)
    # Still not authenticated: a command of that state must be refused.
    try:
        out["select"] = answer(*c.select("INBOX"))
    except imaplib.IMAP4.error as e:
        out["select_error"] = str(e)
    try:
        c.logout()
    except (imaplib.IMAP4.error, OSError):
        pass
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["idle", "fetch", "reply", "flags", "search", "store", "status", "list", "probe-plain"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls", choices=["starttls", "implicit"], default="starttls")
    p.add_argument("--cafile", help="CA to verify the server certificate with")
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--mailbox", default="INBOX")
    p.add_argument("--seq", type=int, default=1)
    p.add_argument("--uid", type=int)
    p.add_argument("--no-peek", action="store_true", help="fetch: BODY[] (sets \\Seen) instead of BODY.PEEK[]")
    p.add_argument("--want", action="append", default=[], help="flags: a flag to wait for")
    p.add_argument("--criteria", action="append", default=[], help="search: criteria, e.g. 'TEXT \"word\"'")
    p.add_argument("--op", default="+FLAGS", help="store: +FLAGS, -FLAGS or FLAGS")
    p.add_argument("--flags", action="append", default=[], help="store: a flag")
    p.add_argument("--min", type=int, default=1, help="status: wait for at least this many messages")
    p.add_argument("--smtp-port", type=int, help="reply: the submission port (STARTTLS)")
    p.add_argument("--from", dest="sender", help="reply: the From and MAIL FROM address")
    p.add_argument("--body", default="", help="reply: the new text above the quote")
    p.add_argument("--save-sent", action="store_true", help="reply: APPEND the mail to Sent, as clients do")
    p.add_argument("--on-idle", help="idle: shell command to run once IDLE is accepted")
    p.add_argument("--wait", type=float, default=15, help="seconds to wait for the condition")
    p.add_argument("--timeout", type=float, default=30, help="socket timeout")
    p.add_argument("--debug", action="store_true", help="imaplib's protocol trace on stderr")
    a = p.parse_args()
    out = {"mode": a.mode}
    c = None
    try:
        if a.mode == "probe-plain":
            ok = probe_plain(a, out)
        else:
            c = connect(a, out)
            ok = {"idle": idle, "fetch": fetch, "reply": reply, "flags": flags, "search": search,
                  "store": store, "status": status, "list": list_}[a.mode](c, a, out)
    except Exception as e:  # connection, TLS verification, protocol: reported in the JSON
        out["exception"] = "%s: %s" % (type(e).__name__, e)
        ok = False
    finally:
        if c is not None:
            try:
                c.logout()
            except Exception:
                pass
    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
