// Shared by the compatibility scripts (not a script itself: compat/run.sh copies it next to them but
// does not run it). The check()/assert() counters, keyturn's HTTP APIs as the admin, the partner
// (installation) and the user, and the seed every script starts from.
import { spawn } from "node:child_process";
import { join } from "node:path";

export const base = process.env.KEYTURN_URL;
const adminToken = process.env.KEYTURN_ADMIN_TOKEN;
let passed = 0;
let failed = 0;

export async function check(label, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${label}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${label}: ${error?.constructor?.name}: ${error?.message}`);
  }
}

export function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// Prints "N passed, N failed" and exits: 0 when every check passed and there was one at least.
export function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

export async function call(method, path, token, body, expected) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== expected) {
    throw new Error(`${method} ${path} answered ${response.status} (wanted ${expected}): ${text}`);
  }
  return text ? JSON.parse(text) : undefined;
}

export const admin = (path, body) => call("POST", path, adminToken, body, 201);

// Seeds a team `<prefix>-<suffix>` (with a user token named `tokenName`, when given), an
// integration `<prefix>-db-<suffix>` with one product per slug in `products`, and its installation
// on the team, through keyturn's admin API. Returns them with `partner` and `user`, which call
// keyturn with the installation's access token and the user token, and `connections(rid)`, the path
// of a resource's project connections.
export async function seed(prefix, { products, tokenName }) {
  const suffix = Math.random().toString(36).slice(2, 8);
  const team = await admin("/v1/admin/teams", { slug: `${prefix}-${suffix}` });
  const userToken =
    tokenName === undefined
      ? undefined
      : (await admin(`/v1/admin/teams/${team.id}/tokens`, { name: tokenName })).token;
  const integration = await admin("/v1/admin/integrations", {
    slug: `${prefix}-db-${suffix}`,
    products: products.map((slug) => ({ slug })),
  });
  const installation = await admin("/v1/admin/installations", {
    teamId: team.id,
    integration: integration.id,
  });
  const icfg = installation.id;
  return {
    suffix,
    team,
    userToken,
    integration,
    installation,
    icfg,
    partner: (method, path, body, expected) =>
      call(method, path, installation.accessToken, body, expected),
    user: (method, path, body, expected) => call(method, path, userToken, body, expected),
    connections: (rid) => `/v1/integrations/installations/${icfg}/resources/${rid}/connections`,
  };
}

// The database resource's secrets in sdk-projects and cli-env: DATABASE_URL with a development
// override, and PGHOST under the prefix ACME with a preview override.
export const databaseSecrets = [
  {
    name: "DATABASE_URL",
    value: "postgres://u:one@db.example/app",
    environmentOverrides: { development: "postgres://u:dev@localhost/app" },
  },
  {
    name: "PGHOST",
    value: "db.example",
    prefix: "ACME",
    environmentOverrides: { preview: "preview.db.example" },
  },
];

const CLI_TIMEOUT_MS = 60_000;

// The environment of a `vercel` CLI run: its own HOME (no user config), nothing from the
// caller's Vercel setup (tokens, linked ids, CI markers), no telemetry, no colour.
function cliEnv(home) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("VERCEL_") && !key.startsWith("NOW_") && key !== "CI") env[key] = value;
  }
  return {
    ...env,
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_DATA_HOME: join(home, ".local", "share"),
    XDG_CACHE_HOME: join(home, ".cache"),
    VERCEL_TELEMETRY_DISABLED: "1",
    NO_UPDATE_NOTIFIER: "1",
    NO_COLOR: "1",
    FORCE_COLOR: "0",
  };
}

// One `vercel` CLI run (`cli`: its entry script) in `cwd`: {code, signal, stdout, stderr,
// output}; killed after a minute.
export function runVercel(cli, { home, cwd, args }) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd,
      env: cliEnv(home),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), CLI_TIMEOUT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, output: stdout + stderr });
    });
  });
}

// A run's result, asserted to have exited 0 (the last lines of its output in the message).
export function succeeded(args, result) {
  const shown = result.output.trim().split("\n").slice(-8).join(" | ");
  assert(result.signal === null, `vercel ${args.join(" ")} was killed (${result.signal}): ${shown}`);
  assert(result.code === 0, `vercel ${args.join(" ")} exited ${result.code}: ${shown}`);
  return result;
}
