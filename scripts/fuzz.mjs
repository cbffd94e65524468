// Contract fuzzing: schemathesis generates requests from keygate's own /openapi.json (valid ones
// and broken ones, including methods a path does not have) against a freshly started local server
// with a seeded `*` root key and operator token, and checks every answer:
//   - no 5xx,
//   - the status is one the document lists for the operation (405 with `Allow` for other methods),
//   - the body matches the documented schema of that status,
//   - the content type and headers are the documented ones.
// Bounded: FUZZ_EXAMPLES cases per operation and phase (default 30), FUZZ_MAX_TIME seconds for the
// main pass (default 300) and a fifth of it for the second. FUZZ_SEED fixes the generated cases
// (default 1, so CI runs are reproducible). Prints the figures; exits non-zero on any failure.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { ROOT, migrate, start, secret, seed, call, admin } from "./server.mjs";

const examples = process.env.FUZZ_EXAMPLES ?? "30";
const maxTime = process.env.FUZZ_MAX_TIME ?? "300";
const seedValue = process.env.FUZZ_SEED ?? "1";

/** Resources the fuzzer's requests can name: keys, an identity, a namespace, a permission, a role. */
async function fixtures(url, adminToken, rootKey, apiId) {
  const ok = async (route, body) => {
    const r = await call(url, rootKey, route, body);
    if (r.status !== 200) throw new Error(`${route}: ${r.status} ${r.text}`);
    return r.body;
  };
  await admin(url, adminToken, "updateApi", { apiId, storeEncryptedKeys: true });
  const keys = [];
  for (const body of [{ remaining: 1000 }, { ratelimit: { limit: 100, duration: 60_000 } }, { recoverable: true, externalId: "fuzz-identity" }, {}]) {
    keys.push(await ok("keys.createKey", { apiId, ...body }));
  }
  const identity = await ok("identities.createIdentity", { externalId: "fuzz-owner", credits: { remaining: 100 } });
  await ok("ratelimits.limit", { namespace: "fuzz-ns", identifier: "fuzz-user", limit: 10, duration: 60_000 });
  await ok("ratelimits.setOverride", { namespaceName: "fuzz-ns", identifier: "fuzz-user-*", limit: 5, duration: 60_000 });
  const permission = await ok("permissions.createPermission", { name: "fuzz.read" });
  const role = await ok("permissions.createRole", { name: "fuzz-role", permissions: ["fuzz.read"] });
  return {
    apiId: [apiId],
    keyId: keys.map((k) => k.keyId),
    key: keys.map((k) => k.key),
    identityId: [identity.identityId],
    externalId: ["fuzz-owner", "fuzz-identity"],
    namespaceName: ["fuzz-ns"],
    identifier: ["fuzz-user", "fuzz-user-*"],
    permissionId: [permission.permissionId],
    roleId: [role.roleId],
  };
}

const dir = mkdtempSync(join(tmpdir(), "keygate-fuzz-"));
const log = join(dir, "server.log");
const adminToken = secret(24);
let server;
let code = 1;
try {
  migrate(join(dir, "state"));
  server = await start({ stateDir: join(dir, "state"), vars: { ADMIN_TOKEN: adminToken, ENCRYPTION_KEY: secret() }, log });
  const { rootKey, apiId } = await seed(server.url, adminToken);
  const known = await fixtures(server.url, adminToken, rootKey, apiId);
  console.log(`fuzz: keygate on ${server.url} (log ${log}), ${examples} examples per operation, at most ${maxTime} s, seed ${seedValue}`);

  // each security scheme of the document gets its credential; half of the ids the fuzzer sends
  // name existing resources, so requests get past "not found" into the operations
  const config = join(dir, "schemathesis.toml");
  let toml = `[auth.openapi.rootKey]\nbearer = "${rootKey}"\n\n[auth.openapi.adminToken]\nbearer = "${adminToken}"\n`;
  for (const [name, values] of Object.entries(known)) toml += `\n[dictionaries.${name}]\nvalues = ${JSON.stringify(values)}\n`;
  toml += "\n[parameters]\n";
  for (const name of Object.keys(known)) {
    for (const at of ["query", "body"]) toml += `"${at}.${name}" = { dictionary = "${name}", probability = 0.5 }\n`;
  }
  writeFileSync(config, toml);
  // two passes: the operator routes that can take the fuzzer's own credentials away (disable its
  // workspace, revoke or rotate its root key) run last, so they cannot hide the other routes
  const destructive = "^/v1/admin\\.(updateWorkspace|revokeRootKey|rotateRootKey)$";
  const passes = [
    { name: "all other operations", filter: ["--exclude-path-regex", destructive], maxTime: maxTime },
    { name: "operator routes that revoke credentials", filter: ["--include-path-regex", destructive], maxTime: String(Math.max(30, Math.round(Number(maxTime) / 5))) },
  ];
  let generated = 0;
  let failures = 0;
  code = 0;
  for (const [i, pass] of passes.entries()) {
    console.log(`fuzz: pass ${i + 1}, ${pass.name}`);
    const args = [
      "--config-file", config,
      "run", `${server.url}/openapi.json`,
      ...pass.filter,
      "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,unsupported_method",
      "--phases", "examples,coverage,fuzzing",
      "--max-examples", examples,
      "--max-time", pass.maxTime,
      "--seed", seedValue,
      "--workers", "2",
      "--request-timeout", "30",
      "--suppress-health-check", "all",
      "--report", "junit",
      "--report-junit-path", join(dir, `junit-${i + 1}.xml`),
    ];
    const st = spawn(join(ROOT, ".venv/bin/schemathesis"), args, { cwd: dir, stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NO_COLOR: "1" } });
    let output = "";
    st.stdout.on("data", (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    const exit = await new Promise((resolve) => st.on("close", (c) => resolve(c ?? 1)));
    if (exit !== 0) code = exit;
    // are the fuzzer's credentials still good? (operations that only answered 401/403 otherwise)
    const probe = await call(server.url, rootKey, "apis.getApi?apiId=" + apiId, undefined);
    console.log(`fuzz: after pass ${i + 1} the seeded root key gets ${probe.status} from apis.getApi`);
    generated += Number(output.match(/(\d+) generated/)?.[1] ?? 0);
    failures += Number(output.match(/(\d+) found (\d+) unique failures/)?.[2] ?? 0);
  }
  console.log(`fuzz: ${generated} test cases generated, ${failures} unique failures (schemathesis exit ${code})`);
} catch (e) {
  console.error(`fuzz: ${e.message}`);
} finally {
  await server?.kill("SIGTERM");
  if (code === 0 && !process.env.FUZZ_KEEP) rmSync(dir, { recursive: true, force: true });
  else console.error(`fuzz: kept ${dir} (server log, report)`);
}
process.exit(code);
