#!/usr/bin/env python3
"""Python's smtplib (stdlib) as a mail program, for wabridge's SMTP peer test.

send: EHLO, STARTTLS with a verifying SSLContext (--cafile; host name or IP
checked), EHLO again, AUTH (LOGIN as smtplib does it: the user name as the
initial response; or PLAIN), then MAIL/RCPT/DATA of a MIME message built with
the email package: a UTF-8 text/plain body (quoted-printable), a non-ASCII
Subject and From display name as RFC 2047 encoded words (no SMTPUTF8), and
optional attachments (PATH:TYPE[:NAME]).

probe-cleartext: EHLO without STARTTLS, then AUTH PLAIN and MAIL anyway,
recording the replies (a server must refuse both).

Prints one JSON object with every reply; exit 0 when the flow ran (the mail
was accepted for send; the probe completed), 1 otherwise. The calling script
judges the replies.
"""
import argparse
import base64
import json
import mimetypes
import os
import re
import smtplib
import ssl
import sys
from email.headerregistry import Address
from email.message import EmailMessage
from email import policy
from email.utils import formatdate, make_msgid


def reply(code, msg):
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    return [code, msg]


def build_message(a):
    m = EmailMessage(policy=policy.SMTP)
    local, _, domain = a.header_from.partition("@")
    m["From"] = Address(a.from_name, local, domain) if a.from_name else a.header_from
    m["To"] = ", ".join(a.to)
    if a.subject:
        m["Subject"] = a.subject
    m["Date"] = formatdate(localtime=True)
    m["Message-ID"] = a.message_id or make_msgid(domain="peer.test")
    for h in a.header:
        k, _, v = h.partition(":")
        m[k.strip()] = v.strip()
    m.set_content(a.body, subtype="plain", charset="utf-8", cte="quoted-printable")
    for spec in a.attach:
        path, _, rest = spec.partition(":")
        ctype, _, name = rest.partition(":")
        ctype = ctype or mimetypes.guess_type(path)[0] or "application/octet-stream"
        maintype, _, subtype = ctype.partition("/")
        with open(path, "rb") as f:
            m.add_attachment(f.read(), maintype=maintype, subtype=subtype,
                             filename=name or os.path.basename(path))
    return m


def send(a, out):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=a.cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    s = smtplib.SMTP(a.host, a.port, local_hostname="peer.test", timeout=a.timeout)
    if a.debug:
        s.set_debuglevel(2)
    try:
        out["ehlo"] = reply(*s.ehlo())
        out["features_before_tls"] = dict(s.esmtp_features)
        out["starttls"] = reply(*s.starttls(context=ctx))  # verifies the chain and the host name/IP
        out["tls"] = {"version": s.sock.version(), "cipher": s.sock.cipher()[0],
                      "peer_subject": dict(x[0] for x in s.sock.getpeercert()["subject"]),
                      "peer_san": s.sock.getpeercert().get("subjectAltName")}
        out["ehlo_tls"] = reply(*s.ehlo())
        out["features"] = dict(s.esmtp_features)
        s.user, s.password = a.user, a.password
        if a.auth == "login":
            out["auth"] = reply(*s.auth("LOGIN", s.auth_login))  # initial response: the user name
        else:
            out["auth"] = reply(*s.auth("PLAIN", s.auth_plain))
        msg = build_message(a)
        raw = msg.as_bytes()
        out["message_id"] = msg["Message-ID"]
        out["message_bytes"] = len(raw)
        subject = re.search(rb"^Subject: (.*(?:\r\n[ \t].*)*)\r\n", raw, re.M)
        out["subject_header"] = subject and subject.group(1).decode("ascii")  # as sent: encoded words
        opts = ["SIZE=%d" % len(raw)] if s.has_extn("size") else []
        out["mail"] = reply(*s.mail(a.envelope_from, opts))
        out["rcpt"] = [reply(*s.rcpt(r)) for r in a.to]
        out["data"] = reply(*s.data(raw))
        out["quit"] = reply(*s.quit())
        return out["data"][0] == 250
    except smtplib.SMTPResponseException as e:
        out["error"] = reply(e.smtp_code, e.smtp_error)
        return False
    finally:
        s.close()


def probe(a, out):
    s = smtplib.SMTP(a.host, a.port, local_hostname="peer.test", timeout=a.timeout)
    if a.debug:
        s.set_debuglevel(2)
    try:
        out["ehlo"] = reply(*s.ehlo())
        out["features"] = dict(s.esmtp_features)
        token = base64.b64encode(("\0%s\0%s" % (a.user, a.password)).encode()).decode()
        out["auth"] = reply(*s.docmd("AUTH", "PLAIN " + token))
        out["mail"] = reply(*s.docmd("MAIL", "FROM:<%s>" % a.envelope_from))
        try:
            out["quit"] = reply(*s.quit())
        except smtplib.SMTPServerDisconnected:
            pass
        return True
    except smtplib.SMTPServerDisconnected as e:
        out["disconnected"] = str(e)  # dropping the connection is a refusal too
        return True
    finally:
        s.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["send", "probe-cleartext"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cafile", help="CA to verify the server certificate with")
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--auth", choices=["login", "plain"], default="login")
    p.add_argument("--from", dest="envelope_from", required=True, help="MAIL FROM address")
    p.add_argument("--header-from", help="From header address (default: --from)")
    p.add_argument("--from-name", default="", help="From display name (may be non-ASCII)")
    p.add_argument("--to", action="append", default=[])
    p.add_argument("--subject", default="")
    p.add_argument("--body", default="")
    p.add_argument("--message-id")
    p.add_argument("--header", action="append", default=[], help="extra 'Name: value'")
    p.add_argument("--attach", action="append", default=[], help="PATH:TYPE[:NAME]")
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--debug", action="store_true", help="smtplib's protocol trace on stderr")
    a = p.parse_args()
    a.header_from = a.header_from or a.envelope_from
    out = {"mode": a.mode}
    try:
        ok = send(a, out) if a.mode == "send" else probe(a, out)
    except Exception as e:  # connection, TLS verification, protocol: reported in the JSON
        out["exception"] = "%s: %s" % (type(e).__name__, e)
        ok = False
    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
