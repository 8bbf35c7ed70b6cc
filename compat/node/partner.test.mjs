// A partner's Node test suite, as docs/testing-with-keyturn.md describes it: keyturn in
// emulator mode started once for the file from a seed file, reset and re-seeded before each
// test, and @vercel/sdk pointed at it. Run by `make test-compat` with `node --test`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, beforeEach, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Vercel } from "@vercel/sdk";
import { startKeyturn } from "./keyturn-emulator.mjs";

const fixtureFile = fileURLToPath(new URL("./fixture.json", import.meta.url));
const fixture = JSON.parse(readFileSync(fixtureFile, "utf8"));
const accessToken = fixture.installations[0].accessToken;
const userToken = fixture.teams[0].tokens[0].token;
const clientSecret = fixture.integrations[0].clientSecret;

let keyturn;
before(async () => {
  keyturn = await startKeyturn({ seed: fixtureFile });
});
after(async () => {
  await keyturn?.stop();
});

const sdk = (token, options = {}) => new Vercel({ bearerToken: token, serverURL: keyturn.url, ...options });

async function pullEnv(projectId) {
  const response = await fetch(`${keyturn.url}/v3/env/pull/${projectId}/production`, {
    headers: { Authorization: `Bearer ${userToken}` },
  });
  assert.equal(response.status, 200);
  return (await response.json()).env;
}

async function listResources(token) {
  return fetch(`${keyturn.url}/v1/installations/icfg_node/resources`, {
    headers: { Authorization: `Bearer ${token}` },
  });
}

test("the --seed file's world is there when the emulator starts", async () => {
  assert.deepEqual(await pullEnv("prj_node"), { DATABASE_URL: "postgres://app:one@db/app" });
});

describe("with a fresh world for each test", () => {
  beforeEach(async () => {
    await keyturn.reset();
    await keyturn.seed(fixture);
  });

  test("updateResourceSecretsById pushes a partial update the project's env shows", async () => {
    await sdk(accessToken).marketplace.updateResourceSecretsById({
      integrationConfigurationId: "icfg_node",
      resourceId: "db1",
      requestBody: {
        secrets: [{ name: "DATABASE_URL", value: "postgres://app:two@db/app" }],
        partial: true,
      },
    });
    assert.deepEqual(await pullEnv("prj_node"), { DATABASE_URL: "postgres://app:two@db/app" });
    const sent = await keyturn.requests("/v1/installations/*/secrets");
    assert.deepEqual(
      sent.map((r) => [r.method, r.status, r.tokenKind]),
      [["PUT", 201, "integration"]],
    );
  });

  test("a 429 from keyturn is retried by the SDK after Retry-After", async () => {
    await keyturn.fault({
      path: "/v1/installations/*/secrets",
      method: "PUT",
      status: 429,
      retryAfterS: 0,
      count: 1,
    });
    const retrying = sdk(accessToken, {
      retryConfig: {
        strategy: "backoff",
        backoff: { initialInterval: 10, maxInterval: 100, exponent: 1.5, maxElapsedTime: 5000 },
        retryConnectionErrors: false,
      },
    });
    await retrying.marketplace.updateResourceSecretsById({
      integrationConfigurationId: "icfg_node",
      resourceId: "db1",
      requestBody: { secrets: [{ name: "DATABASE_URL", value: "postgres://app:three@db/app" }] },
    });
    const sent = await keyturn.requests("/v1/installations/*/secrets");
    assert.deepEqual(sent.map((r) => r.status), [201, 429]); // newest first
    assert.deepEqual(await pullEnv("prj_node"), { DATABASE_URL: "postgres://app:three@db/app" });
  });

  test("a rotated access token expires when keyturn's clock passes its lifetime", async () => {
    const rotated = await sdk(accessToken).marketplace.rotateInstallationCredential({
      integrationConfigurationId: "icfg_node",
      requestBody: { clientSecret },
    });
    assert.equal(rotated.tokenType, "oauth2-token");
    assert.equal((await listResources(rotated.accessToken)).status, 200);
    await keyturn.advanceClock(rotated.expiresIn * 1000); // no sleeping
    const expired = await listResources(rotated.accessToken);
    assert.equal(expired.status, 401);
    assert.match((await expired.json()).error.message, /expired/);
    assert.equal((await listResources(accessToken)).status, 200); // admin-made tokens do not expire
  });

  test("reset empties the world and the recorder: the seeded token is unknown", async () => {
    await keyturn.reset();
    assert.equal((await listResources(accessToken)).status, 401);
    const sent = await keyturn.requests();
    assert.deepEqual(
      sent.map((r) => [r.method, r.path, r.status, r.tokenKind]),
      [["GET", "/v1/installations/icfg_node/resources", 401, null]],
    );
  });
});
