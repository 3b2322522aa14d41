// Bridge from the Python tests to the official Mailgun Node SDK (mailgun.js), unmodified.
//
// Reads {"url", "key", "calls": [{"method": "messages.create", "args": [...]}]} on stdin, makes
// the calls in order on one client and writes one JSON array on stdout: per call
// {"ok": true, "result": ...} or {"ok": false, "status", "message", "details"} (the SDK's error).
// In args, {"$buffer": base64} becomes a Buffer and {"$date": iso} a Date, as SDK users pass them.
// The SDK's deprecation warnings go to stderr.
'use strict';
const fs = require('fs');
const FormData = require('form-data');
const Mailgun = require('mailgun.js');

function revive(value) {
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === 'object') {
    if ('$buffer' in value) return Buffer.from(value.$buffer, 'base64');
    if ('$date' in value) return new Date(value.$date);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
  }
  return value;
}

function method(client, dotted) {
  const names = dotted.split('.');
  let target = client;
  for (const name of names.slice(0, -1)) {
    target = target[name];
    if (!target) throw new Error(`the SDK has no ${dotted}`);
  }
  const fn = target[names[names.length - 1]];
  if (typeof fn !== 'function') throw new Error(`the SDK has no ${dotted}`);
  return (args) => fn.apply(target, args);
}

async function main() {
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  const client = new Mailgun(FormData).client({ username: 'api', key: input.key, url: input.url });
  const out = [];
  for (const call of input.calls) {
    const invoke = method(client, call.method);
    try {
      const result = await invoke(revive(call.args || []));
      out.push({ ok: true, result: result === undefined ? null : result });
    } catch (error) {
      out.push({
        ok: false,
        status: error.status === undefined ? null : error.status,
        message: String(error.message === undefined ? error : error.message),
        details: error.details === undefined ? null : error.details,
      });
    }
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(2);
});
