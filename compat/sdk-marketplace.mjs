// @vercel/sdk's Marketplace calls against a live keyturn (issue: the seed endpoint contract).
// Seeds its own team, integration and installation through keyturn's admin API, then drives the
// SDK exactly as a partner would. Prints one line per check and "N passed, N failed".
import { Vercel } from "@vercel/sdk";
import { assert, base, check, finish, seed } from "./lib.mjs";

const { integration, installation, icfg } = await seed("sdk", { products: ["postgres"] });
const product = integration.products[0];
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

finish();
