// Load for the benchmarks: tools/load (keygate-load, a native tool built here with cargo) in a
// separate process, and workerd's CPU time over the same measurement. Why not wrk: wrk corrects
// its latency histogram for coordinated omission, and its scripts only see the corrected one
// (tools/load/src/main.rs says what that did to the figures). `KEYGATE_LOAD_SHOW_BAD=1` prints the
// first answers of each measurement that did not count (status and body), to see what an error was.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { workerdCpuMs } from "./cpu.mjs";

const ROOT = new URL("../..", import.meta.url).pathname;
const MANIFEST = `${ROOT}tools/load/Cargo.toml`;
const BINARY = `${ROOT}tools/load/target/release/keygate-load`;

// built (or found up to date) once per run
const built = spawnSync("cargo", ["build", "--release", "--quiet", "--manifest-path", MANIFEST], { stdio: "inherit" });
if (built.status !== 0) throw new Error(`building ${MANIFEST} failed`);

// each measurement's key list, removed when the run ends
const dir = mkdtempSync(join(tmpdir(), "keygate-bench-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** `connections` keep-alive connections POSTing `body` (each request's key, round-robin from
 * `keys`, at `%KEY%`) to `url` for `seconds`; an answer counts only if it is a 200 containing
 * `expect`. Returns keygate-load's figures (ms) with `rps` (counted answers per second), `errors`
 * and `cpuUs` (workerd's CPU time per request; null without /proc). */
export function load(url, { connections, seconds, keys, body, expect, auth = "" }) {
  const keyFile = join(dir, `keys-${files++}.txt`);
  writeFileSync(keyFile, keys.join("\n") + "\n");
  const args = [url, "--connections", String(connections), "--duration", String(seconds), "--timeout", "10"];
  args.push("--keys", keyFile, "--body", body, "--expect", expect, "--auth", auth);
  const cpu0 = workerdCpuMs();
  return new Promise((resolve, reject) => {
    const child = spawn(BINARY, args);
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => {
      const cpu1 = workerdCpuMs();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (code !== 0 || !line) return reject(new Error(`keygate-load failed (${code}): ${err}${out}`));
      const r = JSON.parse(line);
      r.rps = r.ok / r.seconds;
      r.errors = r.bad + r.socketErrors + r.timeouts;
      r.cpuUs = cpu0 === null || cpu1 === null || !r.requests ? null : ((cpu1 - cpu0) * 1000) / r.requests;
      if (err) process.stderr.write(err);
      resolve(r);
    });
  });
}
