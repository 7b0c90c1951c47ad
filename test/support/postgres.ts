/**
 * A throwaway PostgreSQL 15 for tests and benchmarks: a fresh data directory in /tmp, a free port on 127.0.0.1,
 * `fsync=off`, removed afterwards. The binaries come from /usr/lib/postgresql/15/bin (scripts/ensure-postgres.sh
 * installs them where missing). As root the server runs as the `postgres` user (initdb refuses root).
 */
import { execFileSync } from "node:child_process"
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"

const bin = "/usr/lib/postgresql/15/bin"

/** A running throwaway server. */
export interface Postgres {
  /** `postgres://postgres@127.0.0.1:<port>/chorus_test` */
  readonly url: string
  readonly port: number
  /** Stops the server and removes its directory (idempotent). */
  readonly stop: () => void
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const asPostgresUser = (command: string, args: ReadonlyArray<string>) => {
  const isRoot = process.getuid?.() === 0
  const [file, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", join(bin, command), ...args]] : [join(bin, command), [...args]]
  execFileSync(file, argv, { stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 })
}

/** Starts a fresh server (initdb, pg_ctl start, createdb chorus_test). */
export const start = async (): Promise<Postgres> => {
  if (!existsSync(join(bin, "initdb"))) {
    throw new Error(`PostgreSQL 15 is not installed in ${bin}: run scripts/ensure-postgres.sh`)
  }
  const dir = mkdtempSync(join(tmpdir(), "chorus-pg-"))
  if (process.getuid?.() === 0) {
    const ids = execFileSync("id", ["-u", "postgres"]).toString().trim()
    const gid = execFileSync("id", ["-g", "postgres"]).toString().trim()
    chownSync(dir, Number(ids), Number(gid))
  }
  const port = await freePort()
  const data = join(dir, "data")
  let running = false
  const stop = () => {
    if (running) {
      running = false
      try {
        asPostgresUser("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"])
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    asPostgresUser("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"])
    asPostgresUser("pg_ctl", [
      "-D", data, "-l", join(dir, "server.log"), "-w", "-t", "30", "-o",
      `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c max_connections=300`,
      "start"
    ])
    running = true
    asPostgresUser("createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "chorus_test"])
  } catch (error) {
    stop()
    throw error
  }
  return { url: `postgres://postgres@127.0.0.1:${port}/chorus_test`, port, stop }
}

/** A throwaway server for the life of the scope. */
export const scoped: Effect.Effect<Postgres, never, import("effect").Scope.Scope> = Effect.acquireRelease(
  Effect.promise(start),
  (postgres) => Effect.sync(postgres.stop)
)
