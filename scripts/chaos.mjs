// The crash test (npm run chaos): keygate is started as `npm start` starts it (wrangler dev on
// 127.0.0.1 with a state directory), concurrent verifications spend a key's credits, the server
// is killed with SIGKILL in the middle of them, started again on the same state, and the balance
// must add up:
//
//   balance after restart = initial − (VALID answers received) − x,
//   0 ≤ x ≤ (requests open at the kill)
//
// x ≥ 0: no acknowledged deduction was lost; x ≤ open: nothing was charged that was not asked
// for. The key must verify after the restart. CHAOS_CONCURRENCY (default 32) requests are kept
// open; the kill comes after CHAOS_KILL_AFTER_MS (default 3000).
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrate, start, secret, seed, call } from "./server.mjs";

const CONCURRENCY = Number(process.env.CHAOS_CONCURRENCY ?? 32);
const KILL_AFTER_MS = Number(process.env.CHAOS_KILL_AFTER_MS ?? 3000);
const INITIAL = 1_000_000;

const dir = mkdtempSync(join(tmpdir(), "keygate-chaos-"));
const stateDir = join(dir, "state");
const log = join(dir, "server.log");
const adminToken = secret(24);
let server;
let ok = false;

function verify(agent, url, key) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ key });
    const req = http.request(`${url}/v1/keys.verifyKey`, { method: "POST", agent, headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) } }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
        } catch (e) {
          reject(e);
        }
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

try {
  migrate(stateDir);
  server = await start({ stateDir, vars: { ADMIN_TOKEN: adminToken }, log });
  const s = await seed(server.url, adminToken);
  const created = await call(server.url, s.rootKey, "keys.createKey", { apiId: s.apiId, remaining: INITIAL });
  if (created.status !== 200) throw new Error(`createKey: ${created.text}`);
  const { key, keyId } = created.body;
  console.log(`chaos: keygate on ${server.url} (pid ${server.pid}, log ${log}); key ${keyId} with ${INITIAL} credits`);

  // drive: CONCURRENCY loops of verifications, each counted when its answer arrives
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const tally = { sent: 0, valid: 0, otherAnswers: 0, failed: 0, open: 0 };
  let killing = false;
  const loops = Array.from({ length: CONCURRENCY }, async () => {
    while (!killing) {
      tally.sent++;
      tally.open++;
      try {
        const r = await verify(agent, server.url, key);
        if (r.status === 200 && r.body.code === "VALID") tally.valid++;
        else tally.otherAnswers++;
      } catch {
        tally.failed++;
      } finally {
        tally.open--;
      }
    }
  });
  await new Promise((r) => setTimeout(r, KILL_AFTER_MS));
  // stop starting requests, note how many are open, and kill at once (the whole process group)
  killing = true;
  const openAtKill = tally.open;
  const validBeforeKill = tally.valid;
  const killed = server.kill("SIGKILL");
  await killed;
  await Promise.all(loops);
  agent.destroy();
  console.log(`chaos: SIGKILL with ${openAtKill} requests open; ${tally.sent} sent, ${tally.valid} VALID answers (${validBeforeKill} before the kill), ${tally.otherAnswers} other answers, ${tally.failed} failed`);

  // restart on the same state
  server = await start({ stateDir, vars: { ADMIN_TOKEN: adminToken }, log });
  const got = await fetch(`${server.url}/v1/keys.getKey?keyId=${keyId}`, { headers: { Authorization: `Bearer ${s.rootKey}` } });
  const after = (await got.json()).remaining;
  const x = INITIAL - tally.valid - after;
  console.log(`chaos: balance before ${INITIAL}, after restart ${after}; ${INITIAL} − ${tally.valid} VALID − ${after} = ${x} deductions of requests open at the kill (allowed 0..${openAtKill})`);
  const again = await call(server.url, null, "keys.verifyKey", { key });
  const final = await fetch(`${server.url}/v1/keys.getKey?keyId=${keyId}`, { headers: { Authorization: `Bearer ${s.rootKey}` } });
  const finalRemaining = (await final.json()).remaining;
  console.log(`chaos: after restart the key verifies: ${again.body?.code} (remaining ${again.body?.remaining}), balance now ${finalRemaining}`);

  const problems = [];
  if (tally.valid === 0) problems.push("no verification succeeded before the kill");
  if (openAtKill === 0) problems.push("no request was open at the kill (nothing was tested)");
  if (x < 0) problems.push(`${-x} acknowledged deductions were lost`);
  if (x > openAtKill) problems.push(`${x} deductions, more than the ${openAtKill} requests open at the kill`);
  if (again.status !== 200 || again.body?.code !== "VALID" || again.body?.remaining !== after - 1) problems.push(`the key did not verify after the restart: ${again.text}`);
  if (finalRemaining !== after - 1) problems.push(`balance ${finalRemaining} after one more verification of ${after}`);
  if (problems.length) throw new Error(problems.join("; "));
  console.log("chaos: ok");
  ok = true;
} catch (e) {
  console.error(`chaos: FAILED: ${e.message}`);
} finally {
  await server?.kill("SIGTERM");
  if (ok) rmSync(dir, { recursive: true, force: true });
  else console.error(`chaos: kept ${dir} (state, server log)`);
}
process.exit(ok ? 0 : 1);
