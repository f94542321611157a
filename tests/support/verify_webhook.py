"""Verifies wago webhook deliveries with the official `standardwebhooks` package.

Reads a JSON list of cases on stdin: {"secret", "headers", "body_b64", "form"}.
For each prints {"ok": bool, "error": str, "token": str|None, "json": obj|None}:
ok is whether Webhook(secret).verify(body, headers) accepted it. For form
deliveries the multipart body is parsed with the stdlib email parser and its
`token` and `jsonData` fields are returned.
"""
import base64
import email.parser
import email.policy
import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def parse_form(content_type, body):
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    if not msg.is_multipart():
        raise ValueError("not multipart")
    fields = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[name] = part.get_payload(decode=True).decode()
    return fields


out = []
for case in json.load(sys.stdin):
    body = base64.b64decode(case["body_b64"])
    res = {"ok": False, "error": "", "token": None, "json": None}
    try:
        Webhook(case["secret"]).verify(body, case["headers"], json_parse=False)
        res["ok"] = True
    except WebhookVerificationError as e:
        res["error"] = str(e)
    if case.get("form"):
        fields = parse_form(case["headers"]["content-type"], body)
        res["token"] = fields.get("token")
        res["json"] = json.loads(fields["jsonData"])
    else:
        res["json"] = json.loads(body)
    out.append(res)
json.dump(out, sys.stdout)
