// @vercel/sdk's project env calls (filterProjectEnvs, createProjectEnv) against a live keyturn.
// Seeds its own team, user token, integration, installation, resources, project, connections and
// user variables through keyturn's HTTP APIs, then drives the SDK as a user would, and reads the
// result back through `GET /v3/env/pull` (what `vercel env pull` writes).
// Prints one line per check and "N passed, N failed".
import { Vercel } from "@vercel/sdk";
import { assert, base, check, databaseSecrets, finish, seed } from "./lib.mjs";

// --- seed, through keyturn's own APIs ------------------------------------------------------------
const { suffix, team, userToken, integration, icfg, partner, user, connections } = await seed("sdkp", {
  products: ["postgres", "kv"],
  tokenName: "sdk",
});
const [postgres, kv] = integration.products;

await partner("PUT", `/v1/installations/${icfg}/resources/sdk-db`, {
  productId: postgres.id,
  name: "SDK database",
  status: "ready",
  secrets: databaseSecrets,
}, 200);
await partner("PUT", `/v1/installations/${icfg}/resources/sdk-kv`, {
  productId: kv.id,
  name: "SDK cache",
  status: "ready",
  secrets: [{ name: "REDIS_URL", value: "redis://kv.example:6379/0" }],
}, 200);
const dbResource = await partner("GET", `/v1/installations/${icfg}/resources/sdk-db`, undefined, 200);
const kvResource = await partner("GET", `/v1/installations/${icfg}/resources/sdk-kv`, undefined, 200);

const projectName = `sdk-app-${suffix}`;
const project = await user("POST", "/v11/projects", { name: projectName }, 200);
await user("POST", connections("sdk-db"), { projectId: project.id }, 201);
await user("POST", connections("sdk-kv"), {
  projectId: project.id,
  envVarEnvironments: ["production", "development"],
  envVarPrefix: "KV",
  makeEnvVarsSensitive: true,
}, 201);
for (const body of [
  { key: "APP_NAME", value: "keyturn demo", type: "encrypted", target: ["production", "preview", "development"] },
  { key: "LOG_LEVEL", value: "debug", type: "plain", target: ["development"] },
  { key: "SIGNING_KEY", value: "do-not-show", type: "sensitive", target: ["production"] },
  { key: "FEATURE_FLAG", value: "feat-on", type: "encrypted", target: ["preview"], gitBranch: "feat" },
]) {
  await user("POST", `/v10/projects/${project.id}/env`, body, 201);
}

const vercel = new Vercel({ bearerToken: userToken, serverURL: base });
const pull = async (target, branch) =>
  (await user("GET", `/v3/env/pull/${project.id}/${target}${branch ? `/${branch}` : ""}`, undefined, 200)).env;

// One record per key and target set, so lookups name both.
function find(envs, key, target) {
  const found = envs.filter((e) => e.key === key && (target === undefined || e.target.includes(target)));
  assert(found.length === 1, `${found.length} records for ${key} ${target ?? ""}: ${JSON.stringify(envs.map((e) => [e.key, e.target]))}`);
  return found[0];
}

function derivedFrom(record, resource) {
  assert(record.configurationId === icfg, `${record.key} configurationId ${record.configurationId}`);
  const hint = record.contentHint;
  assert(hint?.type === "integration-store-secret", `${record.key} contentHint ${JSON.stringify(hint)}`);
  assert(hint.storeId === resource.internalId, `${record.key} storeId ${hint.storeId}`);
  assert(hint.integrationConfigurationId === icfg, `${record.key} hint icfg ${hint.integrationConfigurationId}`);
  assert(hint.integrationId === integration.id, `${record.key} integrationId ${hint.integrationId}`);
  assert(hint.integrationProductId === resource.productId, `${record.key} productId ${hint.integrationProductId}`);
}

function userOwned(record) {
  assert(record.configurationId == null, `${record.key} configurationId ${record.configurationId}`);
  assert(record.contentHint == null, `${record.key} contentHint ${JSON.stringify(record.contentHint)}`);
}

await check("projects.filterProjectEnvs (decrypt) returns derived and user records with values", async () => {
  const result = await vercel.projects.filterProjectEnvs({ idOrName: project.id, teamId: team.id, decrypt: "true" });
  assert(Array.isArray(result.envs), `result ${JSON.stringify(result)}`);
  const { envs } = result;

  const prodUrl = find(envs, "DATABASE_URL", "production");
  assert(prodUrl.value === "postgres://u:one@db.example/app", `DATABASE_URL ${prodUrl.value}`);
  assert(prodUrl.type === "encrypted", `DATABASE_URL type ${prodUrl.type}`);
  derivedFrom(prodUrl, dbResource);
  const devUrl = find(envs, "DATABASE_URL", "development");
  assert(devUrl.value === "postgres://u:dev@localhost/app", `dev DATABASE_URL ${devUrl.value}`);
  const previewHost = find(envs, "ACME_PGHOST", "preview");
  assert(previewHost.value === "preview.db.example", `preview ACME_PGHOST ${previewHost.value}`);
  derivedFrom(previewHost, dbResource);
  assert(find(envs, "ACME_PGHOST", "production").value === "db.example", "production ACME_PGHOST");

  const kvProd = find(envs, "KV_REDIS_URL", "production");
  assert(kvProd.type === "sensitive" && kvProd.value === "", `sensitive KV_REDIS_URL ${JSON.stringify(kvProd)}`);
  derivedFrom(kvProd, kvResource);
  const kvDev = find(envs, "KV_REDIS_URL", "development");
  assert(kvDev.type === "encrypted", `development KV_REDIS_URL type ${kvDev.type}`);
  assert(kvDev.value === "redis://kv.example:6379/0", `development KV_REDIS_URL ${kvDev.value}`);
  assert(!envs.some((e) => e.key === "KV_REDIS_URL" && e.target.includes("preview")), "KV_REDIS_URL in preview");

  const appName = find(envs, "APP_NAME");
  assert(appName.value === "keyturn demo", `APP_NAME ${appName.value}`);
  assert(JSON.stringify(appName.target) === '["production","preview","development"]', `APP_NAME target ${appName.target}`);
  userOwned(appName);
  assert(find(envs, "LOG_LEVEL").value === "debug", "LOG_LEVEL");
  const signing = find(envs, "SIGNING_KEY");
  assert(signing.type === "sensitive" && signing.value === "", `SIGNING_KEY ${JSON.stringify(signing)}`);
  const flag = find(envs, "FEATURE_FLAG");
  assert(flag.gitBranch === "feat" && flag.value === "feat-on", `FEATURE_FLAG ${JSON.stringify(flag)}`);
  for (const record of envs) {
    assert(typeof record.id === "string" && record.id.length > 0, `id ${record.id}`);
    assert(Array.isArray(record.securityIssues), `${record.key} securityIssues`);
  }
});

await check("projects.filterProjectEnvs without decrypt shows no plaintext", async () => {
  const { envs } = await vercel.projects.filterProjectEnvs({ idOrName: project.id, teamId: team.id });
  const encrypted = envs.filter((e) => e.type === "encrypted");
  assert(encrypted.length > 0, "no encrypted records");
  for (const record of encrypted) {
    assert(!/example|localhost|keyturn demo/.test(record.value), `${record.key} value ${record.value}`);
  }
});

await check("projects.filterProjectEnvs by project name and gitBranch", async () => {
  // The SDK has no `target` parameter; gitBranch leaves out other branches' variables.
  const onFeat = await vercel.projects.filterProjectEnvs({
    idOrName: projectName,
    teamId: team.id,
    decrypt: "true",
    gitBranch: "feat",
  });
  assert(find(onFeat.envs, "FEATURE_FLAG").value === "feat-on", "FEATURE_FLAG on feat");
  assert(find(onFeat.envs, "ACME_PGHOST", "preview").value === "preview.db.example", "ACME_PGHOST");
  const onMain = await vercel.projects.filterProjectEnvs({
    idOrName: projectName,
    teamId: team.id,
    decrypt: "true",
    gitBranch: "main",
  });
  assert(!onMain.envs.some((e) => e.key === "FEATURE_FLAG"), "FEATURE_FLAG on main");
  assert(find(onMain.envs, "APP_NAME").value === "keyturn demo", "APP_NAME on main");
});

await check("projects.createProjectEnv (upsert, one object) creates a variable seen by env pull", async () => {
  const result = await vercel.projects.createProjectEnv({
    idOrName: project.id,
    teamId: team.id,
    upsert: "true",
    requestBody: { key: "SDK_SINGLE", value: "one", type: "encrypted", target: ["production", "preview"] },
  });
  const created = [result.created].flat();
  assert(created.length === 1 && created[0].key === "SDK_SINGLE", `created ${JSON.stringify(result)}`);
  assert(Array.isArray(result.failed) && result.failed.length === 0, `failed ${JSON.stringify(result.failed)}`);
  assert((await pull("production")).SDK_SINGLE === "one", "production pull");
  assert((await pull("preview")).SDK_SINGLE === "one", "preview pull");
  assert(!("SDK_SINGLE" in (await pull("development"))), "development pull has SDK_SINGLE");
});

await check("projects.createProjectEnv (upsert, array) creates every variable", async () => {
  const result = await vercel.projects.createProjectEnv({
    idOrName: project.id,
    teamId: team.id,
    upsert: "true",
    requestBody: [
      { key: "SDK_ARRAY_A", value: "a", type: "plain", target: ["development"] },
      { key: "SDK_ARRAY_B", value: "b=2 #x", type: "encrypted", target: ["production", "development"] },
      { key: "SDK_BRANCH", value: "on-feat", type: "encrypted", target: ["preview"], gitBranch: "feat" },
    ],
  });
  const created = [result.created].flat();
  assert(
    JSON.stringify(created.map((c) => c.key).sort()) === '["SDK_ARRAY_A","SDK_ARRAY_B","SDK_BRANCH"]',
    `created ${JSON.stringify(result)}`,
  );
  assert(result.failed.length === 0, `failed ${JSON.stringify(result.failed)}`);
  const development = await pull("development");
  assert(development.SDK_ARRAY_A === "a" && development.SDK_ARRAY_B === "b=2 #x", JSON.stringify(development));
  assert((await pull("production")).SDK_ARRAY_B === "b=2 #x", "production pull");
  assert((await pull("preview", "feat")).SDK_BRANCH === "on-feat", "preview/feat pull");
  assert(!("SDK_BRANCH" in (await pull("preview"))), "preview pull without branch has SDK_BRANCH");
});

await check("projects.createProjectEnv upsert replaces an existing variable's value", async () => {
  const result = await vercel.projects.createProjectEnv({
    idOrName: project.id,
    teamId: team.id,
    upsert: "true",
    requestBody: { key: "SDK_SINGLE", value: "two", type: "encrypted", target: ["production", "preview"] },
  });
  assert(result.failed.length === 0, `failed ${JSON.stringify(result.failed)}`);
  assert((await pull("production")).SDK_SINGLE === "two", "production pull");
  const { envs } = await vercel.projects.filterProjectEnvs({ idOrName: project.id, teamId: team.id, decrypt: "true" });
  const records = envs.filter((e) => e.key === "SDK_SINGLE");
  assert(records.length === 1 && records[0].value === "two", `records ${JSON.stringify(records)}`);
});

await check("projects.createProjectEnv without upsert on an existing key reports it as failed", async () => {
  let result;
  let caught = null;
  try {
    result = await vercel.projects.createProjectEnv({
      idOrName: project.id,
      teamId: team.id,
      requestBody: { key: "SDK_SINGLE", value: "three", type: "encrypted", target: ["production"] },
    });
  } catch (error) {
    caught = error;
  }
  if (caught) {
    assert(caught.statusCode >= 400 && caught.statusCode < 500, `${caught.constructor.name} ${caught.message}`);
  } else {
    assert(result.failed.length === 1, `result ${JSON.stringify(result)}`);
    assert(result.failed[0].error.code === "ENV_ALREADY_EXISTS", `failed ${JSON.stringify(result.failed)}`);
    assert([result.created ?? []].flat().length === 0, `created ${JSON.stringify(result.created)}`);
  }
  assert((await pull("production")).SDK_SINGLE === "two", "value changed");
});

await check("projects.createProjectEnv on a key owned by a connection is a 409 env_var_conflict", async () => {
  let caught = null;
  try {
    await vercel.projects.createProjectEnv({
      idOrName: project.id,
      teamId: team.id,
      upsert: "true",
      requestBody: { key: "DATABASE_URL", value: "mine", type: "encrypted", target: ["production"] },
    });
  } catch (error) {
    caught = error;
  }
  assert(caught !== null, "no error was thrown");
  assert(caught.statusCode === 409, `statusCode ${caught.statusCode}: ${caught.message}`);
  assert(String(caught.body).includes('"env_var_conflict"'), `body ${caught.body}`);
  assert((await pull("production")).DATABASE_URL === "postgres://u:one@db.example/app", "value changed");
});

await check("after a partial secrets rotation, filterProjectEnvs shows the new value", async () => {
  await partner("PUT", `/v1/installations/${icfg}/resources/sdk-db/secrets`, {
    secrets: [{ name: "DATABASE_URL", value: "postgres://u:two@db.example/app" }],
    partial: true,
  }, 201);
  const { envs } = await vercel.projects.filterProjectEnvs({
    idOrName: project.id,
    teamId: team.id,
    decrypt: "true",
  });
  // The rotation replaced the secret whole: its development override is gone.
  const url = find(envs, "DATABASE_URL", "development");
  assert(url.value === "postgres://u:two@db.example/app", `development DATABASE_URL ${url.value}`);
  assert(find(envs, "DATABASE_URL", "production").value === url.value, "production DATABASE_URL");
  assert(find(envs, "ACME_PGHOST", "development").value === "db.example", "ACME_PGHOST untouched");
  assert((await pull("development")).DATABASE_URL === url.value, "development pull");
});

finish();
