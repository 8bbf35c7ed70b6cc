// @vercel/sdk's installation credential calls (rotateInstallationCredential,
// revokeInstallationCredential) against a live keyturn, as a partner rotating its own access
// token would. Prints one line per check and "N passed, N failed".
import { Vercel } from "@vercel/sdk";
import { assert, base, check, finish, seed } from "./lib.mjs";

const { integration, installation, icfg } = await seed("creds", { products: ["postgres"] });
const original = installation.accessToken;
const sdk = (token) => new Vercel({ bearerToken: token, serverURL: base });
let rotated = null;

async function status(token) {
  const response = await fetch(`${base}/v1/installations/${icfg}/resources`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  return response.status;
}

async function sdkError(fn) {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error("no error was thrown");
}

await check("marketplace.rotateInstallationCredential answers a new oauth2 token", async () => {
  const result = await sdk(original).marketplace.rotateInstallationCredential({
    integrationConfigurationId: icfg,
    requestBody: { clientSecret: integration.clientSecret, clientId: integration.clientId },
  });
  assert(result.tokenType === "oauth2-token", `tokenType ${result.tokenType}`);
  assert(result.expiresIn === 3600, `expiresIn ${result.expiresIn}`);
  assert(result.scope === `installation:${icfg}`, `scope ${result.scope}`);
  assert(/^[A-Za-z0-9_]+$/.test(result.accessToken), "token alphabet");
  rotated = result.accessToken;
  assert((await status(rotated)) === 200, "the new token does not work");
  assert((await status(original)) === 200, "the old token stopped working");
});

await check("a wrong client secret surfaces as an SDK error with status 403", async () => {
  const error = await sdkError(() =>
    sdk(original).marketplace.rotateInstallationCredential({
      integrationConfigurationId: icfg,
      requestBody: { clientSecret: "not-the-secret" },
    }),
  );
  assert(error.statusCode === 403, `statusCode ${error.statusCode}`);
});

await check("marketplace.revokeInstallationCredential retires the old token", async () => {
  const result = await sdk(rotated).marketplace.revokeInstallationCredential({
    integrationConfigurationId: icfg,
    requestBody: { token: original, clientSecret: integration.clientSecret },
  });
  assert(result.revoked === true && result.alreadyRevoked === false, JSON.stringify(result));
  assert((await status(original)) === 401, "the revoked token still works");
});

await check("revoking the last live token surfaces as an SDK error with status 409", async () => {
  const error = await sdkError(() =>
    sdk(rotated).marketplace.revokeInstallationCredential({
      integrationConfigurationId: icfg,
      requestBody: { token: rotated, clientSecret: integration.clientSecret },
    }),
  );
  assert(error.statusCode === 409, `statusCode ${error.statusCode}`);
  assert(String(error.body).includes('"last_live_credential"'), `body ${error.body}`);
  assert((await status(rotated)) === 200, "the last token stopped working");
});

finish();
