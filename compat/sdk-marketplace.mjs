// @vercel/sdk's Marketplace calls against a live keyturn (issue: the seed endpoint contract).
// Seeds its own team, integration and installation through keyturn's admin API, then drives the
// SDK exactly as a partner would. Prints one line per check and "N passed, N failed".
import { Vercel } from "@vercel/sdk";

const base = process.env.KEYTURN_URL;
const adminToken = process.env.KEYTURN_ADMIN_TOKEN;
let passed = 0;
let failed = 0;

async function check(label, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${label}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${label}: ${error?.constructor?.name}: ${error?.message}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

async function admin(path, body) {
  const response = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  assert(response.status === 201, `${path} answered ${response.status}`);
  return response.json();
}

const suffix = Math.random().toString(36).slice(2, 8);
const team = await admin("/v1/admin/teams", { slug: `sdk-${suffix}` });
const integration = await admin("/v1/admin/integrations", {
  slug: `sdk-db-${suffix}`,
  products: [{ slug: "postgres" }],
});
const product = integration.products[0];
const installation = await admin("/v1/admin/installations", {
  teamId: team.id,
  integration: integration.id,
});
const icfg = installation.id;
const vercel = new Vercel({ bearerToken: installation.accessToken, serverURL: base });

async function resource(resourceId) {
  const response = await fetch(`${base}/v1/installations/${icfg}/resources/${resourceId}`, {
    headers: { Authorization: `Bearer ${installation.accessToken}` },
  });
  assert(response.status === 200, `GET resource answered ${response.status}`);
  return response.json();
}

await check("marketplace.importResource creates a resource with its secrets", async () => {
  const result = await vercel.marketplace.importResource({
    integrationConfigurationId: icfg,
    resourceId: "sdk-db",
    requestBody: {
      productId: product.id,
      name: "SDK database",
      status: "ready",
      ownership: "owned",
      metadata: { region: "fra1" },
      secrets: [
        { name: "DATABASE_URL", value: "postgres://u:one@h/db" },
        { name: "PGHOST", value: "h", prefix: "ACME", environmentOverrides: { preview: "h-preview" } },
      ],
    },
  });
  assert(result.name === "SDK database", `name was ${JSON.stringify(result)}`);
  const body = await resource("sdk-db");
  assert(body.secretsVersion === 1, `secretsVersion ${body.secretsVersion}`);
  assert(JSON.stringify(body.secretNames) === '["DATABASE_URL","PGHOST"]', `names ${body.secretNames}`);
});

await check("marketplace.updateResourceSecretsById rotates one secret (partial)", async () => {
  const result = await vercel.marketplace.updateResourceSecretsById({
    integrationConfigurationId: icfg,
    resourceId: "sdk-db",
    requestBody: { secrets: [{ name: "DATABASE_URL", value: "postgres://u:two@h/db" }], partial: true },
  });
  assert(result === undefined, `result ${JSON.stringify(result)}`);
  const body = await resource("sdk-db");
  assert(body.secretsVersion === 2, `secretsVersion ${body.secretsVersion}`);
  assert(body.secretNames.length === 2, `names ${body.secretNames}`);
});

await check("marketplace.updateResourceSecrets (deprecated, by product slug) replaces the set", async () => {
  await vercel.marketplace.updateResourceSecrets({
    integrationConfigurationId: icfg,
    integrationProductIdOrSlug: product.slug,
    resourceId: "sdk-db",
    requestBody: { secrets: [{ name: "DATABASE_URL", value: "postgres://u:three@h/db" }] },
  });
  const body = await resource("sdk-db");
  assert(body.secretsVersion === 3, `secretsVersion ${body.secretsVersion}`);
  assert(JSON.stringify(body.secretNames) === '["DATABASE_URL"]', `names ${body.secretNames}`);
});

await check("marketplace.getIntegrationResource reads the resource", async () => {
  const body = await vercel.marketplace.getIntegrationResource({
    integrationConfigurationId: icfg,
    resourceId: "sdk-db",
  });
  assert(body.id === "sdk-db" && body.internalId.startsWith("res_"), JSON.stringify(body));
  assert(body.productId === product.id && body.status === "ready", JSON.stringify(body));
});

await check("a missing resource surfaces as an SDK error with status 404", async () => {
  let caught = null;
  try {
    await vercel.marketplace.updateResourceSecretsById({
      integrationConfigurationId: icfg,
      resourceId: "no-such-resource",
      requestBody: { secrets: [{ name: "A", value: "b" }] },
    });
  } catch (error) {
    caught = error;
  }
  assert(caught !== null, "no error was thrown");
  assert(caught.statusCode === 404, `statusCode ${caught.statusCode}`);
  assert(String(caught.body).includes('"not_found"'), `body ${caught.body}`);
});

await check("marketplace.deleteIntegrationResource answers 204", async () => {
  await vercel.marketplace.deleteIntegrationResource({
    integrationConfigurationId: icfg,
    resourceId: "sdk-db",
  });
  const response = await fetch(`${base}/v1/installations/${icfg}/resources/sdk-db`, {
    headers: { Authorization: `Bearer ${installation.accessToken}` },
  });
  assert(response.status === 404, `after delete GET answered ${response.status}`);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
