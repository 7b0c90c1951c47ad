/**
 * Stream throughput end to end, over the wire: N = 100,000 text deltas from a
 * local Responses API server (`sseServer.ts`, its own process, the whole
 * answer sent at once) through each framework's OpenAI client to one observer
 * (see `frameworks.ts` and `peers.ts` for what each run does).
 *
 * - Node 20 (the machine's `node`): Chorus, `@openai/agents@0.14` and `ai@6`,
 *   the peers' last releases that run on Node 20.
 * - Node 24 (`scripts/node24.sh`): Chorus, the latest `@openai/agents` and
 *   `ai@7` (`peers.ts`). Target: Chorus ≥ 2× the faster current peer in every
 *   round, not only in the median.
 * - The `@effect/ai` bridge (`bridge.ts`): a scripted `LanguageModel` through
 *   `LanguageModelRunner`, against the same agent on a scripted native runner
 *   (Node 20): the bridge's cost per delta. Target: within 1.5× of the native
 *   runner.
 *
 * Every sample is a fresh process (`isolated.ts`: warm-up runs of 100,000
 * deltas in all, then the median of three measured runs), because frameworks sharing a process slow
 * each other down; rounds rotate the order; every framework reads the same
 * server.
 * `CHORUS_BENCH_QUICK=1` runs 20,000 deltas × 3 rounds (for a loaded machine).
 */
import { execFileSync } from "node:child_process"
import { type Framework, isolated } from "./isolated.js"
import * as SseServer from "./sseServer.js"
import { compare, type Figure, median } from "./support.js"

const quick = process.env.CHORUS_BENCH_QUICK === "1"
const n = quick ? 20_000 : 100_000
const rounds = quick ? 3 : 5

/** A Node 24 binary, or `undefined` (with the reason logged) when none can be had. */
const node24 = (log: (line: string) => void): string | undefined => {
  try {
    return execFileSync("bash", [new URL("../scripts/node24.sh", import.meta.url).pathname], { encoding: "utf8" }).trim()
  } catch (error) {
    log(`throughput: no Node 24 binary (${String(error).slice(0, 200)}); the current peers are not measured`)
    return undefined
  }
}

interface Runtime {
  readonly baseURL: string
  readonly label: string
  readonly execPath: string | undefined
  readonly frameworks: ReadonlyArray<Framework>
}

/** Deltas per second of each framework, per round: per wall-clock second, and per second of the process's CPU. */
interface Rates {
  readonly wall: Map<Framework, Array<number>>
  readonly cpu: Map<Framework, Array<number>>
}

const measure = async (runtime: Runtime): Promise<Rates> => {
  const wall = new Map<Framework, Array<number>>(runtime.frameworks.map((framework) => [framework, []]))
  const cpu = new Map<Framework, Array<number>>(runtime.frameworks.map((framework) => [framework, []]))
  for (let round = 0; round < rounds; round++) {
    const order = runtime.frameworks.map((_, i) => runtime.frameworks[(i + round) % runtime.frameworks.length]!)
    for (const framework of order) {
      const observed = await isolated(framework, n, runtime.baseURL, runtime.execPath)
      wall.get(framework)!.push(n / (observed.ms / 1000))
      cpu.get(framework)!.push(n / (observed.cpuMs / 1000))
    }
  }
  return { wall, cpu }
}

const slug = (framework: Framework) => framework.replace("@openai/", "openai-").replace("@", "-")

export const throughputBench = async (log: (line: string) => void): Promise<Array<Figure>> => {
  const server = await SseServer.start({ intervalMs: 0, maxDeltas: n })
  try {
    return await throughputOn(server.baseURL, log)
  } finally {
    await server.stop()
  }
}

const throughputOn = async (baseURL: string, log: (line: string) => void): Promise<Array<Figure>> => {
  const figures: Array<Figure> = []
  const report = (label: string, rates: Rates) => {
    for (const [framework, values] of rates.wall) {
      log(
        `throughput ${label} ${framework}: ${values.map(Math.round).join(", ")} deltas/s ` +
          `(per CPU second: ${rates.cpu.get(framework)!.map(Math.round).join(", ")})`
      )
    }
  }

  // Node 20: the previous majors, as before.
  const node20 = await measure({
    label: "node20",
    baseURL,
    execPath: undefined,
    frameworks: ["chorus", "@openai/agents", "ai", "chorus-scripted", "chorus-bridge"]
  })
  report("node20", node20)
  const rate20 = (framework: Framework) => median(node20.wall.get(framework)!)
  const faster20 = rate20("@openai/agents") >= rate20("ai") ? "@openai/agents" : "ai"
  for (const peer of ["@openai/agents", "ai"] as const) {
    figures.push(compare(
      { name: `throughput.node20.chorus-vs-${slug(peer)}`, unit: "deltas/s", value: Math.round(rate20("chorus")) },
      { name: `${peer === "ai" ? "ai 6.0.325" : "@openai/agents 0.14.3"} (Node 20)`, value: Math.round(rate20(peer)) },
      peer === faster20 ? { text: ">= 2x the faster peer", atLeast: 2 } : undefined
    ))
  }
  // The bridge's cost per delta: the scripted native run's rate over the bridge's (≤ 1.5 holds the target).
  const perDelta = rate20("chorus-scripted") / rate20("chorus-bridge")
  figures.push({
    name: "throughput.bridge-per-delta-cost-vs-native",
    unit: "x",
    value: Math.round(perDelta * 100) / 100,
    target: { text: "<= 1.5x the native runner", holds: perDelta <= 1.5 }
  })

  // Node 24: the current releases, every round against the faster peer of that round.
  const execPath = node24(log)
  if (execPath !== undefined) {
    const frameworks: ReadonlyArray<Framework> = ["chorus", "@openai/agents@current", "ai@7"]
    const node24Rates = await measure({ label: "node24", baseURL, execPath, frameworks })
    report("node24", node24Rates)
    const perRoundOf = (rates: Map<Framework, Array<number>>) =>
      Array.from({ length: rounds }, (_, round) => {
        const chorus = rates.get("chorus")![round]!
        const peer = Math.max(rates.get("@openai/agents@current")![round]!, rates.get("ai@7")![round]!)
        return chorus / peer
      })
    const perRound = perRoundOf(node24Rates.wall)
    const perRoundCpu = perRoundOf(node24Rates.cpu)
    log(`throughput node24 chorus / faster current peer, per round: ${perRound.map((r) => r.toFixed(2)).join(", ")}`)
    log(`  the same per CPU second: ${perRoundCpu.map((r) => r.toFixed(2)).join(", ")}`)
    const rate24 = (framework: Framework) => median(node24Rates.wall.get(framework)!)
    for (const peer of ["@openai/agents@current", "ai@7"] as const) {
      figures.push(compare(
        { name: `throughput.node24.chorus-vs-${slug(peer)}`, unit: "deltas/s", value: Math.round(rate24("chorus")) },
        { name: `${peer === "ai@7" ? "ai 7.0.173" : "@openai/agents 0.20.0"} (Node 24)`, value: Math.round(rate24(peer)) }
      ))
    }
    const worst = Math.min(...perRound)
    figures.push({
      name: "throughput.node24.chorus-vs-faster-current-peer.worst-round",
      unit: "x",
      value: Math.round(worst * 100) / 100,
      target: { text: ">= 2x in every round", holds: worst >= 2 }
    })
    // The same per CPU second of the process: what each framework costs per delta, less the machine's other load.
    figures.push({
      name: "throughput.node24.chorus-vs-faster-current-peer.per-cpu-second.worst-round",
      unit: "x",
      value: Math.round(Math.min(...perRoundCpu) * 100) / 100
    })
  }
  return figures
}
