// The webhook receiver of document 002 (WAGO-Go), for tests/conformance_wago_go.rs.
// `isValid` is the document's code exactly as it prints it; around it, what
// an Express app with express.json() gives it: `req.headers` and the parsed
// `req.body`. Prints {"port"} once listening, then one JSON line per
// delivery: {"valid", "body"}. Answers 200 to a valid delivery, 401 otherwise.
import crypto from "node:crypto";
import http from "node:http";

function isValid(req, secret) {
  const sig = req.headers["x-wago-signature"];
  const body = JSON.stringify(req.body);
  const h = crypto.createHmac("sha256", secret).update(body).digest("hex");
  return crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(h));
}

const secret = process.env.WEBHOOK_SECRET;
if (!secret) {
  console.error("WEBHOOK_SECRET is not set");
  process.exit(2);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    let valid = false;
    let body = null;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      req.body = body;
      valid = isValid(req, secret);
    } catch (e) {
      valid = false;
    }
    console.log(JSON.stringify({ valid, body }));
    res.statusCode = valid ? 200 : 401;
    res.end();
  });
});
server.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
