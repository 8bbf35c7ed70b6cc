// keyturn's rotation tokens verified the way partner code verifies Vercel's: with npm `jose`'s
// createRemoteJWKSet and jwtVerify, the keys fetched from keyturn's /.well-known/jwks, the issuer
// pinned to Vercel's (run.sh starts keyturn with KEYTURN_OIDC_ISSUER=https://marketplace.vercel.com).
// A partner API on a free port answers the rotation request keyturn sends it. Prints one line per
// check and "N passed, N failed".
import { createServer } from "node:http";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { assert, base, check, finish, seed } from "./lib.mjs";

const VERCEL_ISSUER = "https://marketplace.vercel.com";
const jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks`));
const world = await seed("jose", { products: ["postgres"], tokenName: "owner" });
const received = [];

// The partner: verifies the bearer token as partner code does, then rotates at once.
const partnerApi = createServer(async (request, response) => {
  let body = "";
  for await (const chunk of request) body += chunk;
  const token = (request.headers.authorization ?? "").replace(/^Bearer /, "");
  const seen = { headers: request.headers, url: request.url, body: JSON.parse(body || "{}") };
  try {
    seen.verified = await jwtVerify(token, jwks, {
      issuer: VERCEL_ISSUER,
      audience: world.integration.id,
      algorithms: ["RS256"],
    });
    seen.header = decodeProtectedHeader(token);
  } catch (error) {
    seen.error = `${error.code ?? error.constructor.name}: ${error.message}`;
  }
  seen.token = token;
  received.push(seen);
  const answer = seen.error
    ? { status: 401, body: { error: { code: "invalid_token", message: seen.error } } }
    : { status: 200, body: { sync: true, secrets: [{ name: "PGPASSWORD", value: "rotated" }] } };
  response.writeHead(answer.status, { "Content-Type": "application/json" });
  response.end(JSON.stringify(answer.body));
});
await new Promise((resolve) => partnerApi.listen(0, "127.0.0.1", resolve));
const partnerUrl = `http://127.0.0.1:${partnerApi.address().port}`;

const adminToken = process.env.KEYTURN_ADMIN_TOKEN;
const patched = await fetch(`${base}/v1/admin/integrations/${world.integration.id}`, {
  method: "PATCH",
  headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
  body: JSON.stringify({ baseUrl: partnerUrl }),
});
assert(patched.status === 200, `PATCH integration answered ${patched.status}`);
await world.partner(
  "PUT",
  `/v1/installations/${world.icfg}/resources/jose-db`,
  {
    productId: world.integration.products[0].id,
    name: "jose db",
    status: "ready",
    secrets: [{ name: "PGPASSWORD", value: "old" }],
  },
  200,
);

await check("openid-configuration names Vercel's issuer and keyturn's JWKS", async () => {
  const response = await fetch(`${base}/.well-known/openid-configuration`);
  const configuration = await response.json();
  assert(configuration.issuer === VERCEL_ISSUER, `issuer ${configuration.issuer}`);
  assert(configuration.jwks_uri === `${base}/.well-known/jwks`, `jwks_uri ${configuration.jwks_uri}`);
});

let rotation;
await check("a rotation request reaches the partner with a token jose verifies", async () => {
  const path = `/v1/integrations/installations/${world.icfg}/resources/jose-db/secrets/rotate`;
  const answer = await world.user("POST", path, { reason: "compat" }, 200);
  rotation = answer.rotation;
  assert(rotation.status === "completed", `rotation ${JSON.stringify(rotation)}`);
  assert(received.length === 1, `${received.length} partner calls`);
  assert(!received[0].error, `jose refused the token: ${received[0].error}`);
});

await check("the token has Vercel's header, claims and headers around it", async () => {
  const seen = received[0];
  const { payload, protectedHeader } = seen.verified;
  assert(protectedHeader.alg === "RS256" && protectedHeader.kid, `header ${JSON.stringify(protectedHeader)}`);
  const keys = await (await fetch(`${base}/.well-known/jwks`)).json();
  assert(keys.keys.some((key) => key.kid === protectedHeader.kid), "kid not in the JWKS");
  assert(payload.iss === VERCEL_ISSUER, `iss ${payload.iss}`);
  assert(payload.aud === world.integration.id, `aud ${payload.aud}`);
  assert(payload.account_id === world.team.id, `account_id ${payload.account_id}`);
  assert(payload.installation_id === world.icfg, `installation_id ${payload.installation_id}`);
  assert(payload.user_role === "ADMIN", `user_role ${payload.user_role}`);
  assert(payload.sub === `account:${world.team.id}:user:${payload.user_id}`, `sub ${payload.sub}`);
  assert(payload.exp - payload.iat === 300, `lifetime ${payload.exp - payload.iat}`);
  assert(seen.headers["x-vercel-auth"] === "user", "X-Vercel-Auth");
  assert(seen.headers["idempotency-key"] === rotation.id, "Idempotency-Key");
  assert(JSON.stringify(seen.body) === '{"reason":"compat"}', `body ${JSON.stringify(seen.body)}`);
});

await check("jose refuses the token for another audience or issuer", async () => {
  const token = received[0].token;
  for (const options of [
    { issuer: VERCEL_ISSUER, audience: "oac_someone_else" },
    { issuer: base, audience: world.integration.id },
  ]) {
    let refused = false;
    try {
      await jwtVerify(token, jwks, options);
    } catch {
      refused = true;
    }
    assert(refused, `accepted with ${JSON.stringify(options)}`);
  }
});

partnerApi.close();
finish();
