/** Runner processes for the multi-process tests and bench/cluster.ts. */
import { type ChildProcess, spawn } from "node:child_process"
import { appendFileSync } from "node:fs"
import { createServer } from "node:net"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const runnerScript = fileURLToPath(new URL("./runner.ts", import.meta.url))
const root = fileURLToPath(new URL("../../../", import.meta.url))

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** A runner process and what it printed. */
export interface RunnerProcess {
  readonly port: number
  readonly child: ChildProcess
  /** Sequences its watcher received, in order of arrival. */
  readonly seen: Array<number>
  readonly output: Array<string>
}

/** Starts a runner (see runner.ts) and resolves once it printed `ready`. */
export const startRunner = async (
  url: string,
  options?: { readonly watch?: string; readonly calls?: string }
): Promise<RunnerProcess> => {
  const port = await freePort()
  // node itself with tsx as a loader (not the tsx CLI, which runs node as its own child): a signal reaches the runner.
  const child = spawn(process.execPath, ["--import", "tsx", runnerScript], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: url, CHORUS_PORT: String(port), CHORUS_WATCH: options?.watch ?? "", CHORUS_CALLS_FILE: options?.calls ?? "" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const runner: RunnerProcess = { port, child, seen: [], output: [] }
  // Debugging: CHORUS_RUNNER_LOGS=<directory> keeps everything each runner prints in <directory>/runner-<port>.log.
  const logs = process.env.CHORUS_RUNNER_LOGS
  if (logs !== undefined && logs !== "") {
    const file = join(logs, `runner-${port}.log`)
    child.stdout!.on("data", (data: Buffer) => appendFileSync(file, data))
    child.stderr!.on("data", (data: Buffer) => appendFileSync(file, data))
  }
  let buffered = ""
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`runner ${port} not ready: ${runner.output.join("\n")}`)), 60_000)
    child.stdout!.on("data", (data: Buffer) => {
      buffered += data.toString()
      const lines = buffered.split("\n")
      buffered = lines.pop() ?? ""
      for (const line of lines) {
        if (line === "ready") {
          clearTimeout(timer)
          resolve()
        } else if (line.startsWith("seen ")) runner.seen.push(Number(line.slice(5)))
        else runner.output.push(line)
      }
    })
    child.stderr!.on("data", (data: Buffer) => runner.output.push(data.toString()))
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`runner ${port} exited with ${code}: ${runner.output.join("\n")}`))
    })
  })
  return runner
}

/** Stops a runner: SIGKILL by default (no goodbye to the cluster), SIGTERM to let it hand its shards over. */
export const stopRunner = (runner: RunnerProcess, signal: NodeJS.Signals = "SIGKILL") =>
  new Promise<void>((resolve) => {
    if (runner.child.exitCode !== null || runner.child.signalCode !== null) return resolve()
    runner.child.once("exit", () => resolve())
    runner.child.kill(signal)
  })
