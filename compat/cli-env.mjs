// The real `vercel` CLI (`env pull`, `env ls`) against a live keyturn.
// Seeds its own team, user token, integration, installation, resources, project, connections and
// user variables through keyturn's HTTP APIs, links a temporary project folder to the project,
// then runs the CLI with `--api` and checks the .env files it writes.
// Prints one line per check and "N passed, N failed".
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Vercel } from "@vercel/sdk";
import {
  assert,
  base,
  check,
  databaseSecrets,
  finish,
  runVercel,
  seed,
  succeeded,
} from "./lib.mjs";

const cli =
  process.env.VERCEL_CLI ||
  fileURLToPath(new URL("./node_modules/vercel/dist/index.js", import.meta.url));

// --- seed, through keyturn's own APIs ------------------------------------------------------------
const { suffix, team, userToken, integration, icfg, partner, user, connections } = await seed("cli", {
  products: ["postgres", "kv"],
  tokenName: "cli",
});
const [postgres, kv] = integration.products;

await partner("PUT", `/v1/installations/${icfg}/resources/cli-db`, {
  productId: postgres.id,
  name: "CLI database",
  status: "ready",
  secrets: [...databaseSecrets, { name: "NEXT_PUBLIC_REGION", value: "fra1", prefix: "ACME" }],
}, 200);
await partner("PUT", `/v1/installations/${icfg}/resources/cli-kv`, {
  productId: kv.slug,
  name: "CLI cache",
  status: "ready",
  secrets: [{ name: "REDIS_URL", value: "redis://kv.example:6379/0" }],
}, 200);

const project = await user("POST", "/v11/projects", { name: `cli-app-${suffix}` }, 200);
await user("POST", connections("cli-db"), { projectId: project.id }, 201);
await user("POST", connections("cli-kv"), {
  projectId: project.id,
  envVarEnvironments: ["production"],
  envVarPrefix: "KV",
}, 201);

const userVars = [
  { key: "APP_NAME", value: "keyturn demo = #1", type: "encrypted", target: ["production", "preview", "development"] },
  { key: "LOG_LEVEL", value: "warn", type: "encrypted", target: ["production"] },
  { key: "LOG_LEVEL", value: "info", type: "encrypted", target: ["preview"] },
  { key: "LOG_LEVEL", value: "debug", type: "plain", target: ["development"] },
  { key: "LOG_LEVEL", value: "trace", type: "encrypted", target: ["preview"], gitBranch: "feat" },
  { key: "FEATURE_FLAG", value: "feat-on", type: "encrypted", target: ["preview"], gitBranch: "feat" },
  { key: "SIGNING_KEY", value: "do-not-pull", type: "sensitive", target: ["production"] },
  { key: "MULTILINE", value: "line1\nline2", type: "encrypted", target: ["development"] },
];
for (const body of userVars) {
  await user("POST", `/v10/projects/${project.id}/env`, body, 201);
}

// --- the CLI ---------------------------------------------------------------------------------------
const home = mkdtempSync(join(tmpdir(), "keyturn-cli-home-"));
const projectDir = join(home, "app");
mkdirSync(join(projectDir, ".vercel"), { recursive: true });
writeFileSync(
  join(projectDir, ".vercel", "project.json"),
  JSON.stringify({ orgId: team.id, projectId: project.id }),
);
process.on("exit", () => rmSync(home, { recursive: true, force: true }));

function vercel(args, token = userToken) {
  return runVercel(cli, {
    home,
    cwd: projectDir,
    args: [...args, "--api", base, "--token", token],
  });
}

async function vercelOk(...args) {
  return succeeded(args, await vercel(args));
}

// The CLI writes `# Created by Vercel CLI` then KEY="value" lines, sorted, with \n and \r escaped.
function parseDotenv(text) {
  const lines = text.split("\n");
  assert(lines[0] === "# Created by Vercel CLI", `first line ${JSON.stringify(lines[0])}`);
  const env = {};
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)="(.*)"$/.exec(line);
    assert(match, `unexpected line ${JSON.stringify(line)}`);
    env[match[1]] = match[2].replace(/\\n/g, "\n").replace(/\\r/g, "\r");
  }
  return env;
}

let pulls = 0;
async function pull(environment, ...extra) {
  pulls += 1;
  const file = `.env.${environment}.${pulls}`;
  await vercelOk("env", "pull", file, "--yes", "--environment", environment, ...extra);
  return parseDotenv(readFileSync(join(projectDir, file), "utf8"));
}

function sameEnv(actual, expected) {
  const a = JSON.stringify(Object.entries(actual).sort());
  const e = JSON.stringify(Object.entries(expected).sort());
  assert(a === e, `\n     got      ${a}\n     expected ${e}`);
}

const common = { APP_NAME: "keyturn demo = #1", NEXT_PUBLIC_ACME_REGION: "fra1" };
const expected = {
  production: {
    ...common,
    DATABASE_URL: "postgres://u:one@db.example/app",
    ACME_PGHOST: "db.example",
    KV_REDIS_URL: "redis://kv.example:6379/0",
    LOG_LEVEL: "warn",
    SIGNING_KEY: "[SENSITIVE]",
  },
  preview: {
    ...common,
    DATABASE_URL: "postgres://u:one@db.example/app",
    ACME_PGHOST: "preview.db.example",
    LOG_LEVEL: "info",
  },
  development: {
    ...common,
    DATABASE_URL: "postgres://u:dev@localhost/app",
    ACME_PGHOST: "db.example",
    LOG_LEVEL: "debug",
    MULTILINE: "line1\nline2",
  },
};

await check("vercel --version runs", async () => {
  const result = await vercelOk("--version");
  assert(result.output.includes("64.0.2"), `output ${result.output.trim()}`);
});

for (const environment of ["production", "preview", "development"]) {
  await check(`vercel env pull --environment ${environment} writes derived and user variables`, async () => {
    sameEnv(await pull(environment), expected[environment]);
  });
}

await check("a connection limited to production adds nothing to preview or development", async () => {
  for (const environment of ["preview", "development"]) {
    const env = await pull(environment);
    assert(!("KV_REDIS_URL" in env), `${environment} has KV_REDIS_URL`);
  }
});

await check("vercel env pull --environment preview --git-branch feat adds the branch's variables", async () => {
  sameEnv(await pull("preview", "--git-branch", "feat"), {
    ...expected.preview,
    LOG_LEVEL: "trace",
    FEATURE_FLAG: "feat-on",
  });
});

await check("vercel env pull --git-branch of another branch gets the plain preview env", async () => {
  sameEnv(await pull("preview", "--git-branch", "main"), expected.preview);
});

await check("after a partial secrets rotation, env pull shows the new value", async () => {
  await partner("PUT", `/v1/installations/${icfg}/resources/cli-db/secrets`, {
    secrets: [
      {
        name: "DATABASE_URL",
        value: "postgres://u:two@db.example/app",
        environmentOverrides: { development: "postgres://u:dev2@localhost/app" },
      },
    ],
    partial: true,
  }, 201);
  sameEnv(await pull("production"), {
    ...expected.production,
    DATABASE_URL: "postgres://u:two@db.example/app",
  });
  sameEnv(await pull("development"), {
    ...expected.development,
    DATABASE_URL: "postgres://u:dev2@localhost/app",
  });
  expected.production.DATABASE_URL = "postgres://u:two@db.example/app";
  expected.development.DATABASE_URL = "postgres://u:dev2@localhost/app";
});

await check("vercel env ls exits 0 and lists every key", async () => {
  const result = await vercelOk("env", "ls");
  const keys = [
    "DATABASE_URL", "ACME_PGHOST", "NEXT_PUBLIC_ACME_REGION", "KV_REDIS_URL", "APP_NAME",
    "LOG_LEVEL", "FEATURE_FLAG", "SIGNING_KEY", "MULTILINE",
  ];
  const missing = keys.filter((key) => !new RegExp(`\\b${key}\\b`).test(result.stdout + result.stderr));
  assert(missing.length === 0, `missing ${missing}: ${result.output.trim()}`);
});

await check("vercel env ls production lists only production's keys", async () => {
  const result = await vercelOk("env", "ls", "production");
  const text = result.output;
  for (const key of Object.keys(expected.production)) {
    assert(new RegExp(`\\b${key}\\b`).test(text), `missing ${key}: ${text.trim()}`);
  }
  for (const key of ["MULTILINE", "FEATURE_FLAG"]) {
    assert(!new RegExp(`\\b${key}\\b`).test(text), `has ${key}: ${text.trim()}`);
  }
});

await check("variables created with @vercel/sdk createProjectEnv show in vercel env pull", async () => {
  const sdk = new Vercel({ bearerToken: userToken, serverURL: base });
  await sdk.projects.createProjectEnv({
    idOrName: project.id,
    teamId: team.id,
    upsert: "true",
    requestBody: { key: "SDK_ONE", value: "from the sdk", type: "encrypted", target: ["production"] },
  });
  await sdk.projects.createProjectEnv({
    idOrName: project.id,
    teamId: team.id,
    upsert: "true",
    requestBody: [
      { key: "SDK_TWO", value: "two", type: "plain", target: ["production", "development"] },
      { key: "LOG_LEVEL", value: "error", type: "encrypted", target: ["production"] },
    ],
  });
  expected.production = { ...expected.production, SDK_ONE: "from the sdk", SDK_TWO: "two", LOG_LEVEL: "error" };
  sameEnv(await pull("production"), expected.production);
  sameEnv(await pull("development"), { ...expected.development, SDK_TWO: "two" });
});

await check("after disconnecting a resource, env pull no longer has its variables", async () => {
  await user("DELETE", `${connections("cli-kv")}/${project.id}`, undefined, 204);
  const { KV_REDIS_URL: _gone, ...rest } = expected.production;
  sameEnv(await pull("production"), rest);
});

await check("a wrong token makes the CLI fail, not hang", async () => {
  const child = await vercel(["env", "pull", ".env.bad", "--yes"], "kt_not_a_real_token");
  assert(child.signal === null, `killed: ${child.output.trim()}`);
  assert(child.code !== 0, `exited 0: ${child.output.trim()}`);
  assert(/token/i.test(child.output), `output ${child.output.trim()}`);
});

finish();
