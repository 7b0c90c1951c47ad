// Provisions what the suite needs before any test runs, so that `pnpm test` (or `pnpm vitest run <file>`) passes on
// a fresh machine after `pnpm install`: the Debian packages the end-to-end tests drive (chromium, tmux) and
// better-sqlite3's native binary for the Node that runs the tests. Both scripts are idempotent and return at once
// when there is nothing to do.
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"

const script = (name: string) => fileURLToPath(new URL(`../../scripts/${name}`, import.meta.url))

export default function setup() {
  execFileSync("bash", [script("ensure-system-packages.sh")], { stdio: "inherit" })
  execFileSync("bash", [script("native-modules.sh"), process.execPath], { stdio: "inherit" })
}
