#!/usr/bin/env python3
"""An SMTP server on loopback (aiosmtpd, PyPI) for edigate's EDI-by-email tests.

  python smtp_sink.py serve DIR PORT [USER PASSWORD]
                                       accept mail on 127.0.0.1:PORT and save each message as
                                       DIR/<n>.eml (written under a temporary name, then renamed);
                                       a recipient whose local part is "nobody" is refused with
                                       550, as a mail server refuses an unknown mailbox. With USER
                                       and PASSWORD, mail is taken only after AUTH PLAIN or LOGIN
                                       with them (offered without TLS: loopback only).
                                       With SMTP_SINK_CERT and SMTP_SINK_KEY set (PEM files),
                                       STARTTLS with that certificate is offered and required
                                       before anything else (and AUTH is then offered only after).
                                       With SMTP_SINK_IMPLICIT_TLS=1 as well, TLS starts with the
                                       connection instead (implicit TLS, as on port 465).
                                       Prints "listening" once it accepts; runs until killed.
  python smtp_sink.py send HOST PORT FROM TO [--ca CA] [--body FILE] [ATTACHMENT...]
                                       mail the attachments (.x12 as application/edi-x12, .edi as
                                       application/edifact, others application/octet-stream) with
                                       Python's smtplib; with --ca, STARTTLS first, the server's
                                       certificate verified against CA for HOST. Prints the
                                       server's answer as JSON: stage (done, mail, rcpt, data,
                                       tls), code and message.
  python smtp_sink.py show FILE        print one saved message as JSON: from, to, subject,
                                       message_id, the text body, and each attachment's file name, content type
                                       and bytes (hex), as Python's own MIME parser reads them.
Exits 2 when aiosmtpd is not installed (sh tests/peers/setup.sh installs it).
"""
import email
import email.policy
import itertools
import json
import logging
import os
import pathlib
import sys
import time
import warnings


def serve(directory, port, credentials=None):
    try:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword
    except ImportError as e:
        print(f"aiosmtpd is not installed: {e}", file=sys.stderr)
        sys.exit(2)
    out = pathlib.Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    counter = itertools.count(len(list(out.glob("*.eml"))) + 1)

    class Save:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.split("@", 1)[0] == "nobody":
                return "550 5.1.1 no such mailbox"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            n = next(counter)
            tmp = out / f".{n}.eml.tmp"
            tmp.write_bytes(envelope.original_content or envelope.content)
            os.rename(tmp, out / f"{n:04}.eml")
            return "250 OK"

    auth = {}
    if credentials:
        want = (credentials[0].encode(), credentials[1].encode())

        def authenticator(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and (data.login, data.password) == want
            return AuthResult(success=ok)

        auth = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False)
        # AUTH without TLS is what this test server is for (loopback); its warnings say so.
        warnings.simplefilter("ignore", UserWarning)
        logging.getLogger("mail.log").setLevel(logging.ERROR)
    cert, key = os.environ.get("SMTP_SINK_CERT"), os.environ.get("SMTP_SINK_KEY")
    if cert and key:
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        if os.environ.get("SMTP_SINK_IMPLICIT_TLS") == "1":
            auth.update(ssl_context=context, auth_require_tls=False)
        else:
            auth.update(tls_context=context, require_starttls=True, auth_require_tls=True)
    controller = Controller(Save(), hostname="127.0.0.1", port=port, **auth)
    controller.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def show(path):
    msg = email.message_from_bytes(pathlib.Path(path).read_bytes(), policy=email.policy.default)
    attachments = [
        {
            "filename": part.get_filename(),
            "content_type": part.get_content_type(),
            "hex": part.get_payload(decode=True).hex(),
        }
        for part in msg.iter_attachments()
    ]
    print(json.dumps({
        "from": str(msg["From"]),
        "to": str(msg["To"]),
        "subject": str(msg["Subject"]),
        "message_id": str(msg["Message-ID"]),
        "body": msg.get_body(preferencelist=("plain",)).get_content(),
        "attachments": attachments,
    }))


def send(args):
    import argparse
    import smtplib
    import ssl
    from email.message import EmailMessage

    parser = argparse.ArgumentParser(prog="smtp_sink.py send")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("sender")
    parser.add_argument("to")
    parser.add_argument("--ca")
    parser.add_argument("--body")
    parser.add_argument("attachments", nargs="*")
    a = parser.parse_intermixed_args(args)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = a.sender, a.to, "EDI documents"
    if a.body:
        msg.set_content(pathlib.Path(a.body).read_text())
    else:
        msg.set_content("The documents are attached.\n")
    types = {".x12": ("application", "edi-x12"), ".edi": ("application", "edifact")}
    for path in a.attachments:
        p = pathlib.Path(path)
        maintype, subtype = types.get(p.suffix, ("application", "octet-stream"))
        msg.add_attachment(p.read_bytes(), maintype=maintype, subtype=subtype, filename=p.name)

    def answer(stage, code, message):
        if isinstance(message, bytes):
            message = message.decode(errors="replace")
        print(json.dumps({"stage": stage, "code": code, "message": message}))

    try:
        with smtplib.SMTP(a.host, a.port, timeout=30) as s:
            s.ehlo()
            if a.ca:
                s.starttls(context=ssl.create_default_context(cafile=a.ca))
                s.ehlo()
            s.sendmail(a.sender, [a.to], msg.as_bytes())
            answer("done", 250, "taken")
    except smtplib.SMTPSenderRefused as e:
        answer("mail", e.smtp_code, e.smtp_error)
    except smtplib.SMTPRecipientsRefused as e:
        code, message = next(iter(e.recipients.values()))
        answer("rcpt", code, message)
    except smtplib.SMTPDataError as e:
        answer("data", e.smtp_code, e.smtp_error)
    except ssl.SSLError as e:
        answer("tls", 0, str(e))


def main():
    if len(sys.argv) > 5 and sys.argv[1] == "send":
        send(sys.argv[2:])
    elif len(sys.argv) in (4, 6) and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4:6] or None)
    elif len(sys.argv) == 3 and sys.argv[1] == "show":
        show(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
