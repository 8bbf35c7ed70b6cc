// Runs keyturn in emulator mode for a Node test suite (docs/testing-with-keyturn.md): starts
// `keyturn serve --emulator --port 0 [--seed FILE]` with a temporary data directory and an
// admin token of its own, reads the address from the start line it prints, waits for /readyz,
// and stops it. Copy this file into your suite; it needs nothing but Node (18 or newer).
//
//   import { startKeyturn } from "./keyturn-emulator.mjs";
//   const keyturn = await startKeyturn({ seed: "fixture.json" });
//   ... keyturn.url, keyturn.reset(), keyturn.seed(obj), keyturn.fault({...}),
//   ... keyturn.advanceClock(ms), keyturn.requests(glob)
//   await keyturn.stop();
//
// `connectKeyturn(url, adminToken)` gives the same controls for an emulator started elsewhere.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

// The start line: `keyturn 0.1.0: http://127.0.0.1:54321`.
const START_LINE = /^keyturn \S+: (http:\/\/\S+)/;
const START_TIMEOUT_MS = 30_000;

// The controls of keyturn's emulator (CONTRACT.md 7) on a running server.
export function connectKeyturn(url, adminToken) {
  async function control(method, path, body, expected) {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${adminToken}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status !== expected) {
      throw new Error(`${method} ${path} answered ${response.status}, not ${expected}: ${text}`);
    }
    return text ? JSON.parse(text) : undefined;
  }
  return {
    url,
    adminToken,
    reset: () => control("POST", "/v1/admin/reset", undefined, 204),
    seed: (fixture) => control("POST", "/v1/admin/seed", fixture, 201),
    fault: (spec) => control("POST", "/v1/admin/faults", spec, 201),
    clearFaults: () => control("DELETE", "/v1/admin/faults", undefined, 204),
    advanceClock: async (ms) => (await control("POST", "/v1/admin/clock", { advanceMs: ms }, 200)).now,
    requests: async (path) => {
      const query = path === undefined ? "" : `?path=${encodeURIComponent(path)}`;
      return (await control("GET", `/v1/admin/requests${query}`, undefined, 200)).requests;
    },
  };
}

// Starts an emulator. `command` is how to run keyturn (default: KEYTURN_COMMAND, else
// `keyturn` on the PATH), split on spaces; `seed` a JSON or YAML fixture file.
export async function startKeyturn({ seed, command } = {}) {
  const [program, ...prefix] = (command ?? process.env.KEYTURN_COMMAND ?? "keyturn").split(" ");
  const dataDir = mkdtempSync(join(tmpdir(), "keyturn-"));
  const adminToken = `kt_admin_${randomBytes(20).toString("hex")}`;
  const args = [...prefix, "serve", "--emulator", "--port", "0"];
  if (seed !== undefined) args.push("--seed", seed);
  // The parent's KEYTURN_* settings stay out, so a developer's own cannot leak in.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("KEYTURN_")),
  );
  const child = spawn(program, args, {
    env: { ...env, KEYTURN_DATA_DIR: join(dataDir, "data"), KEYTURN_ADMIN_TOKEN: adminToken, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = [];
  child.stderr.on("data", (chunk) => output.push(String(chunk)));
  const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));

  async function stop() {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }

  try {
    const url = await readStartLine(child, exited, output);
    await waitUntilReady(url, exited);
    return { ...connectKeyturn(url, adminToken), stop };
  } catch (error) {
    await stop();
    throw new Error(`${error.message}\n${output.join("")}`);
  }
}

function readStartLine(child, exited, output) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`keyturn printed no address in ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
    const lines = createInterface({ input: child.stdout });
    let found = false;
    // Every line is read to the end, so a full pipe never blocks the server.
    lines.on("line", (line) => {
      output.push(`${line}\n`);
      const match = START_LINE.exec(line);
      if (match !== null && !found) {
        found = true;
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    exited.then((code) => {
      clearTimeout(timer);
      if (!found) reject(new Error(`keyturn exited (${code}) before printing its address`));
    });
  });
}

async function waitUntilReady(url, exited) {
  let gone = false;
  exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (gone) throw new Error("keyturn exited before it was ready");
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`keyturn at ${url} was not ready in ${START_TIMEOUT_MS} ms`);
}
