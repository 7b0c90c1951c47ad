/**
 * One framework's throughput run in a process of its own: a warm-up run,
 * then one measured run, reported to the parent over IPC.
 *
 * Frameworks share the engine's code for web streams and promises: after
 * `ai` has streamed once in a process, `@openai/agents` runs ~10x slower in
 * that process (JIT state: Node's web-stream internals turn polymorphic), so
 * a framework measured after another in one process is not measured as its
 * users run it. Each run gets a fresh process.
 */
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import {
  aiParts,
  aiRun,
  chorusEvents,
  chorusRun,
  type Observed,
  openAiAgentsEvents,
  openAiAgentsRun,
  script
} from "./frameworks.js"

export type Framework =
  | "chorus"
  | "@openai/agents"
  | "ai"
  /** Chorus through the `@effect/ai` bridge (`LanguageModelRunner`) on a scripted `LanguageModel`. */
  | "chorus-bridge"
  /** The peers' current releases (`bench/currentPeers.ts`), Node >= 22 only. */
  | "@openai/agents@current"
  | "ai@7"

const childFlag = "--chorus-bench-isolated"

const measure = async (framework: Framework, n: number): Promise<Observed> => {
  const scripted = script(n)
  switch (framework) {
    case "chorus": {
      const events = chorusEvents(scripted, "assistant")
      await chorusRun(scripted, events)
      return chorusRun(scripted, events)
    }
    case "@openai/agents": {
      const events = openAiAgentsEvents(scripted)
      await openAiAgentsRun(scripted, events)
      return openAiAgentsRun(scripted, events)
    }
    case "ai": {
      const parts = aiParts(scripted)
      await aiRun(scripted, parts)
      return aiRun(scripted, parts)
    }
    case "chorus-bridge": {
      const { bridgeParts, bridgeRun } = await import("./bridge.js")
      const parts = bridgeParts(scripted)
      await bridgeRun(scripted, parts)
      return bridgeRun(scripted, parts)
    }
    case "@openai/agents@current": {
      const current = await import("./currentPeers.js")
      const events = current.openAiAgentsEvents(scripted)
      await current.openAiAgentsRun(scripted, events)
      return current.openAiAgentsRun(scripted, events)
    }
    case "ai@7": {
      const current = await import("./currentPeers.js")
      const parts = current.aiParts(scripted)
      await current.aiRun(scripted, parts)
      return current.aiRun(scripted, parts)
    }
  }
}

if (process.argv.includes(childFlag) && process.send !== undefined) {
  const index = process.argv.indexOf(childFlag)
  const framework = process.argv[index + 1] as Framework
  const n = Number(process.argv[index + 2])
  measure(framework, n).then(
    (observed) => process.send!({ _tag: "Observed", observed }, () => process.exit(0)),
    (error: unknown) => process.send!({ _tag: "Failed", error: String(error) }, () => process.exit(1))
  )
}

/** Runs one framework's warm-up and measured run in a fresh process (on another Node binary when `execPath` is given). */
export const isolated = (framework: Framework, n: number, execPath?: string): Promise<Observed> =>
  new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [childFlag, framework, String(n)], {
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
