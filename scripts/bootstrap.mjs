// Creates workspace "default" with a root key holding "*" through the operator API and prints
// them with a curl example. `--save FILE` also writes them to FILE; `--show FILE` only prints FILE.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

const url = (process.env.KEYGATE_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8787}`).replace(/\/$/, "");
const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

function print({ workspaceId, rootKey }, note) {
  console.log(`
keygate is serving on ${url}${note ? `  (${note})` : ""}
  workspace: ${workspaceId}
  root key:  ${rootKey}

Try it:
  curl -s ${url}/v1/apis.createApi -H "Authorization: Bearer ${rootKey}" -H "Content-Type: application/json" -d '{"name":"my-api"}'
`);
}

const show = flag("--show");
if (show) {
  print(JSON.parse(readFileSync(show, "utf8")), `created on first run, kept in ${show}`);
  process.exit(0);
}

const token = process.env.ADMIN_TOKEN;
if (!token) {
  console.error("bootstrap: set ADMIN_TOKEN (or run `npm start` once to generate one in .dev.vars)");
  process.exit(1);
}

async function admin(route, body) {
  const res = await fetch(`${url}/v1/admin.${route}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`admin.${route}: HTTP ${res.status} ${text}`);
  return JSON.parse(text);
}

try {
  const { workspaceId } = await admin("createWorkspace", { name: "default" });
  const { key: rootKey } = await admin("createRootKey", { workspaceId, permissions: ["*"], name: "default root key" });
  const save = flag("--save");
  if (save) {
    mkdirSync(dirname(save), { recursive: true });
    writeFileSync(save, JSON.stringify({ url, workspaceId, rootKey }, null, 2) + "\n", { mode: 0o600 });
  }
  print({ workspaceId, rootKey });
} catch (e) {
  console.error(`bootstrap: ${e.message}`);
  process.exit(1);
}
