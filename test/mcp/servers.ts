// Launching the real MCP servers the tests talk to: node + the package's bin script, no npx, no network.
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, HashMap, Layer, Logger, LogLevel, Queue } from "effect"
import { McpConfig } from "@chorus/mcp"

const root = fileURLToPath(new URL("../../", import.meta.url))

/** The bin script of a reference server package. */
export const bin = (pkg: "server-everything" | "server-filesystem" | "server-memory") =>
  Path.join(root, "node_modules/@modelcontextprotocol", pkg, "dist/index.js")

/** A fixture script of these tests. */
export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

export const everything = (name = "everything") =>
  McpConfig.stdio(name, { command: process.execPath, args: [bin("server-everything"), "stdio"] })

export const filesystem = (directory: string, name = "filesystem") =>
  McpConfig.stdio(name, { command: process.execPath, args: [bin("server-filesystem"), directory] })

export const memory = (file: string, name = "memory") =>
  McpConfig.stdio(name, { command: process.execPath, args: [bin("server-memory")], env: { MEMORY_FILE_PATH: file } })

export const dynamic = (name = "dynamic") =>
  McpConfig.stdio(name, { command: process.execPath, args: [fixture("dynamic-server.mjs")] })

export const garbage = (name = "garbage", mode = "tools") =>
  McpConfig.stdio(name, { command: process.execPath, args: [fixture("garbage-server.mjs")], env: { GARBAGE_MODE: mode } })

/** A temporary directory, removed with the scope. */
export const tempDirectory = Effect.acquireRelease(
  Effect.sync(() => Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "chorus-mcp-")))),
  (directory) => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true }))
)

/** A port that was free a moment ago on 127.0.0.1. */
export const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(address.port)))
  })
})

/**
 * server-everything over Streamable HTTP. It reads its port from `PORT` (there is no host option: it listens on
 * every interface); the tests only ever connect to 127.0.0.1. Ready when it says it listens; killed with the scope.
 */
export const everythingHttp = Effect.acquireRelease(
  Effect.gen(function*() {
    const port = yield* freePort
    const child = spawn(process.execPath, [bin("server-everything"), "streamableHttp"], {
      env: { ...process.env, PORT: String(port) },
      stdio: ["ignore", "ignore", "pipe"]
    })
    yield* Effect.async<void, Error>((resume) => {
      let output = ""
      child.stderr.on("data", (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes(`listening on port ${port}`)) resume(Effect.void)
      })
      child.once("exit", (code) => resume(Effect.fail(new Error(`server-everything exited (${code}): ${output}`))))
    })
    return { url: `http://127.0.0.1:${port}/mcp`, child }
  }),
  ({ child }) =>
    Effect.async<void>((resume) => {
      if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
      child.once("exit", () => resume(Effect.void))
      child.kill("SIGKILL")
    })
)

/** Is a process alive? */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The child processes of this process (from /proc), with their command lines. */
export const children = (): ReadonlyArray<{ readonly pid: number; readonly command: string }> =>
  Fs.readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        const stat = Fs.readFileSync(`/proc/${entry}/stat`, "utf8")
        const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
        if (parent !== process.pid) return []
        const command = Fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ")
        return [{ pid: Number(entry), command }]
      } catch {
        return []
      }
    })

/** A log line as captured. */
export interface LogLine {
  readonly level: string
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** Captures Effect log lines into a queue; provide `layer` outermost so background fibers log there too. */
export const captureLogs = Effect.gen(function*() {
  const lines = yield* Queue.unbounded<LogLine>()
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    Queue.unsafeOffer(lines, {
      level: logLevel.label,
      message: Array.isArray(message) ? message.map(String).join(" ") : String(message),
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
  return { lines, layer: Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(LogLevel.All)) }
})

/** The next captured line matching the predicate. */
export const nextLog = (lines: Queue.Dequeue<LogLine>, predicate: (line: LogLine) => boolean) =>
  Queue.take(lines).pipe(Effect.repeat({ until: predicate }))
