/**
 * One throughput sample in a process of its own: warm-up runs, then the
 * measured runs, their median reported to the parent over IPC.
 *
 * Frameworks share the engine's code for web streams and promises: after
 * `ai` has streamed once in a process, `@openai/agents` runs ~10x slower in
 * that process (JIT state: Node's web-stream internals turn polymorphic), so
 * a framework measured after another in one process is not measured as its
 * users run it. Each framework gets a fresh process and the same conditions
 * there: warm-up runs of 100,000 deltas in all (at 20,000 deltas a run, the
 * cost per delta of every framework here still fell until the fifth run: the
 * JIT was not done after one), then three measured runs, of which the
 * median is the sample (a burst of another process's work on this shared
 * machine hits one run of a fraction of a second, not the sample).
 */
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { Peer } from "./peers.js"
import { type Observed, script } from "./support.js"

export type Framework =
  /** Over the wire (`frameworks.ts`): an agent on `OpenAiResponses` against the local server. */
  | "chorus"
  /** The peers over the wire (`peers.ts`); the `@current` / `@7` releases need Node >= 22. */
  | Peer
  /** Scripted (no provider): the native run's parts played by an in-process runner. */
  | "chorus-scripted"
  /** Scripted: the bridge (`LanguageModelRunner`) on a scripted `@effect/ai` `LanguageModel`. */
  | "chorus-bridge"

const childFlag = "--chorus-bench-isolated"
const measuredRuns = 3
const warmUpDeltas = 100_000

/** The run of one framework, loaded (only that framework) in this process. */
const runOf = async (framework: Framework, baseURL: string): Promise<(n: number) => Promise<Observed>> => {
  switch (framework) {
    case "chorus": {
      const { chorusWireRun } = await import("./frameworks.js")
      return (n) => chorusWireRun(script(n), baseURL)
    }
    case "chorus-scripted": {
      const { chorusEvents, chorusRun } = await import("./frameworks.js")
      return (n) => chorusRun(script(n), chorusEvents(script(n), "assistant"))
    }
    case "chorus-bridge": {
      const { bridgeParts, bridgeRun } = await import("./bridge.js")
      return (n) => bridgeRun(script(n), bridgeParts(script(n)))
    }
    default: {
      const { wireKey, wireModel } = await import("./frameworks.js")
      const { load } = await import("./peers.js")
      const run = await load(framework, { baseURL, model: wireModel, apiKey: wireKey })
      return (n) => run(script(n))
    }
  }
}

if (process.argv.includes(childFlag) && process.send !== undefined) {
  const index = process.argv.indexOf(childFlag)
  const framework = process.argv[index + 1] as Framework
  const n = Number(process.argv[index + 2])
  const baseURL = process.argv[index + 3]!
  runOf(framework, baseURL)
    .then(async (run) => {
      for (let warmed = 0; warmed < warmUpDeltas; warmed += n) await run(n)
      const measured: Array<Observed> = []
      for (let i = 0; i < measuredRuns; i++) measured.push(await run(n))
      return measured.sort((a, b) => a.ms - b.ms)[Math.floor(measuredRuns / 2)]!
    })
    .then(
      (observed) => process.send!({ _tag: "Observed", observed }, () => process.exit(0)),
      (error: unknown) => process.send!({ _tag: "Failed", error: String(error) }, () => process.exit(1))
    )
}

/**
 * Runs one framework's warm-up and measured runs in a fresh process (on another Node binary when `execPath` is
 * given), against the server at `baseURL` (which must serve `n` deltas) for the runs over the wire.
 */
export const isolated = (framework: Framework, n: number, baseURL: string, execPath?: string): Promise<Observed> =>
  new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [childFlag, framework, String(n), baseURL], {
      execArgv: process.execArgv,
      ...(execPath === undefined ? {} : { execPath }),
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    let settled = false
    child.on("message", (message: { _tag: "Observed"; observed: Observed } | { _tag: "Failed"; error: string }) => {
      settled = true
      if (message._tag === "Observed") resolve(message.observed)
      else reject(new Error(`${framework}: ${message.error}`))
    })
    child.on("error", reject)
    child.on("exit", (code) => {
      if (!settled) reject(new Error(`${framework}: the benchmark process exited (${code}) without a result`))
    })
  })
