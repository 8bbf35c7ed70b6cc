#!/usr/bin/env bash
# Run Vercel's own clients against a live keyturn on SQLite: `make test-compat`.
# npm packages are installed in $COMPAT_DIR (outside the repository) from package.json and its
# lock; the scripts are copied next to them so that Node resolves the packages.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${KEYTURN_PYTHON:-python3}
: "${COMPAT_DIR:?COMPAT_DIR must name a folder outside the repository}"

# Every child process is bounded: `timeout SECONDS command...` where coreutils has it.
bounded() {
  if command -v timeout >/dev/null 2>&1; then timeout -k 10 "$@"; else shift; "$@"; fi
}

export VERCEL_TELEMETRY_DISABLED=1 NO_UPDATE_NOTIFIER=1
mkdir -p "$COMPAT_DIR"
cp "$here/package.json" "$here/.npmrc" "$COMPAT_DIR/"
if [ -f "$here/package-lock.json" ]; then cp "$here/package-lock.json" "$COMPAT_DIR/"; fi
(cd "$COMPAT_DIR" && bounded 600 npm install --no-audit --no-fund --loglevel=error >/dev/null)
# lib.mjs, the scripts' shared helpers, goes along with them: they import it as ./lib.mjs.
cp "$here"/*.mjs "$COMPAT_DIR/"
# The CLI scripts run the `vercel` package installed above, through node, never a global one.
export VERCEL_CLI="$COMPAT_DIR/node_modules/vercel/dist/index.js"

work=$(mktemp -d)
port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export KEYTURN_DATA_DIR="$work/data" KEYTURN_PORT="$port" KEYTURN_HOST=127.0.0.1
# Partner code pins Vercel's issuer; jwt-jose.mjs verifies keyturn's tokens as such code does.
export KEYTURN_OIDC_ISSUER=https://marketplace.vercel.com
# keyturn refuses an admin token shorter than 32 characters. `serve` migrates SQLite on start.
export KEYTURN_ADMIN_TOKEN="kt_admin_compat_$("$python" -c 'import secrets; print(secrets.token_hex(16))')"
"$python" -m keyturn.cli serve >"$work/server.log" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

for _ in $(seq 1 100); do
  if "$python" -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:$port/healthz').status_code != 200)" 2>/dev/null; then
    break
  fi
  sleep 0.1
done

export KEYTURN_URL="http://127.0.0.1:$port"
# Scripts that check what the docs say (cli-webhooks.mjs runs docs/events.md's snippet) read it here.
export KEYTURN_REPO="$here/.."
status=0
# Only this checkout's scripts run, not leftovers of older checkouts in $COMPAT_DIR; lib.mjs is
# a module they import, not a script.
for script in "$here"/*.mjs; do
  name=$(basename "$script")
  if [ "$name" = lib.mjs ]; then continue; fi
  echo "== $name"
  (cd "$COMPAT_DIR" && bounded 150 node "$name") || status=1
done
if [ "$status" -ne 0 ]; then
  echo "== server log"; tail -n 50 "$work/server.log"
fi

# A partner's Node test suite (docs/testing-with-keyturn.md): compat/node starts emulators of its
# own (`keyturn serve --emulator --port 0 --seed FILE`), not the server above. It runs from
# $COMPAT_DIR, where @vercel/sdk is installed, so it is given python's absolute path.
case "$python" in
  */*) python_abs="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")" ;;
  *) python_abs=$(command -v "$python") ;;
esac
rm -rf "$COMPAT_DIR/node" && cp -r "$here/node" "$COMPAT_DIR/node"
echo "== node --test node/*.test.mjs"
(cd "$COMPAT_DIR" && KEYTURN_COMMAND="$python_abs -m keyturn.cli" bounded 300 node --test node/*.test.mjs) || status=1
exit "$status"
