// The real `vercel webhooks` commands (create, ls, inspect, rm) with `--api` against a live
// keyturn, and a receiver in Node that checks every delivery's `x-vercel-signature` with
// `node:crypto`, using the TypeScript snippet of docs/events.md as written (types stripped by
// esbuild). Prints one line per check and "N passed, N failed".
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { transformSync } from "esbuild";
import { assert, base, check, finish, runVercel, seed, succeeded } from "./lib.mjs";

const cli =
  process.env.VERCEL_CLI ||
  fileURLToPath(new URL("./node_modules/vercel/dist/index.js", import.meta.url));
const DELIVERY_DEADLINE_MS = 20_000;

const home = mkdtempSync(join(tmpdir(), "keyturn-webhooks-"));
process.on("exit", () => rmSync(home, { recursive: true, force: true }));

// --- the documented verification snippet ---------------------------------------------------------
const doc = readFileSync(join(process.env.KEYTURN_REPO, "docs", "events.md"), "utf8");
const snippet = /```ts\n([\s\S]*?)```/.exec(doc)[1];
const module = join(home, "verify.mjs");
writeFileSync(module, transformSync(snippet, { loader: "ts", format: "esm" }).code);
const { verifySignature } = await import(pathToFileURL(module).href);

// --- a receiver, as partner code writes one -------------------------------------------------------
let secret = "";
const deliveries = [];
const receiver = createServer((request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    const raw = Buffer.concat(chunks);
    const signature = request.headers["x-vercel-signature"] ?? "";
    const valid = verifySignature(secret, raw, signature);
    deliveries.push({ body: JSON.parse(raw.toString("utf8")), raw, signature, valid });
    response.writeHead(valid ? 200 : 401).end();
  });
});
await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const hookUrl = `http://127.0.0.1:${receiver.address().port}/vercel-webhook`;

// --- seed, through keyturn's own APIs ------------------------------------------------------------
const { suffix, team, userToken, user } = await seed("hooks", { products: ["pg"], tokenName: "cli" });

function vercel(args) {
  return runVercel(cli, {
    home,
    cwd: home,
    args: [...args, "--api", base, "--token", userToken, "--scope", team.slug],
  });
}

async function vercelOk(...args) {
  return succeeded(args, await vercel(args));
}

// `--format json` answers: the JSON document the CLI prints.
function jsonOf(result) {
  const start = result.stdout.indexOf("{");
  assert(start >= 0, `no JSON in: ${result.output.trim().slice(0, 300)}`);
  return JSON.parse(result.stdout.slice(start));
}

let hook;
await check("vercel webhooks create answers the new hook and its secret once", async () => {
  const created = await vercelOk(
    "webhooks", "create", hookUrl, "--event", "project.created", "--event", "deployment.created",
  );
  // Its human output: the details, then "Save this secret - it will not be shown again: ...".
  const id = /ID\s+(hook_[A-Za-z0-9]+)/.exec(created.output);
  const shown = /not be shown again: (\S+)/.exec(created.output);
  assert(id && shown, `no id or secret in: ${created.output.trim().slice(0, 400)}`);
  hook = { id: id[1] };
  secret = shown[1];
  assert(created.output.includes(hookUrl), "the URL is shown");
  assert(typeof secret === "string" && secret.length >= 32, "the secret is shown on create");
});

await check("vercel webhooks ls lists it", async () => {
  const listed = jsonOf(await vercelOk("webhooks", "ls", "--format", "json"));
  const ids = listed.webhooks.map((item) => item.id);
  assert(JSON.stringify(ids) === JSON.stringify([hook.id]), `ids ${ids}`);
  assert(listed.webhooks[0].events.includes("project.created"), "events listed");
});

await check("vercel webhooks inspect shows it, without its secret", async () => {
  const shown = await vercelOk("webhooks", "inspect", hook.id, "--format", "json");
  assert(shown.output.includes(hookUrl), `url missing: ${shown.output.slice(0, 300)}`);
  assert(!shown.output.includes(secret), "the secret is not shown again");
});

await check("a new project is delivered, and the Node receiver verifies its signature", async () => {
  const project = await user("POST", "/v11/projects", { name: `hooked-${suffix}` }, 200);
  const deadline = Date.now() + DELIVERY_DEADLINE_MS;
  while (!deliveries.some((d) => d.body.payload?.project?.id === project.id)) {
    assert(Date.now() < deadline, `no delivery within ${DELIVERY_DEADLINE_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const delivered = deliveries.find((d) => d.body.payload.project.id === project.id);
  assert(delivered.valid, "the signature verifies with the hook's secret");
  assert(delivered.body.type === "project.created", `type ${delivered.body.type}`);
  assert(/^[0-9a-f]{40}$/.test(delivered.signature), "lower-case hex SHA-1");
  const tampered = Buffer.concat([delivered.raw, Buffer.from(" ")]);
  assert(!verifySignature(secret, tampered, delivered.signature), "a changed body fails");
  assert(!verifySignature(`${secret}x`, delivered.raw, delivered.signature), "another key fails");
});

await check("vercel webhooks rm removes it", async () => {
  await vercelOk("webhooks", "rm", hook.id, "--yes");
  const listed = jsonOf(await vercelOk("webhooks", "ls", "--format", "json"));
  assert(listed.webhooks.length === 0, `left: ${JSON.stringify(listed.webhooks)}`);
});

receiver.close();
finish();
