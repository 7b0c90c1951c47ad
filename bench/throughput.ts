/**
 * Stream throughput end to end: N = 100,000 text deltas from a scripted
 * model to one observer, through Chorus, @openai/agents and ai (see
 * `frameworks.ts` for what each run does). Five rounds, each running the
 * three frameworks in a different order; every run is a fresh process
 * (`isolated.ts`) with a warm-up run before the measured one, because
 * frameworks sharing a process slow each other down. The median deltas per
 * second of each framework is reported, with the ratio Chorus / each peer.
 */
import { type Framework, isolated } from "./isolated.js"
import { compare, type Figure, median } from "./support.js"

const n = 100_000
const rounds = 5

const frameworks: ReadonlyArray<Framework> = ["chorus", "@openai/agents", "ai"]

export const throughputBench = async (log: (line: string) => void): Promise<Array<Figure>> => {
  const rates = new Map<Framework, Array<number>>(frameworks.map((framework) => [framework, []]))
  for (let round = 0; round < rounds; round++) {
    const order = frameworks.map((_, i) => frameworks[(i + round) % frameworks.length]!)
    for (const framework of order) {
      const observed = await isolated(framework, n)
      rates.get(framework)!.push(n / (observed.ms / 1000))
    }
  }
  for (const framework of frameworks) {
    log(`throughput ${framework}: ${rates.get(framework)!.map(Math.round).join(", ")} deltas/s`)
  }
  const rate = (framework: Framework) => median(rates.get(framework)!)
  const chorusRate = rate("chorus")
  const faster = rate("@openai/agents") >= rate("ai") ? "@openai/agents" : "ai"
  const figures: Array<Figure> = []
  for (const peer of ["@openai/agents", "ai"] as const) {
    figures.push(compare(
      { name: `throughput.chorus-vs-${peer.replace("@openai/", "openai-")}`, unit: "deltas/s", value: Math.round(chorusRate) },
      { name: peer, value: Math.round(rate(peer)) },
      peer === faster ? { text: ">= 2x the faster peer", atLeast: 2 } : undefined
    ))
  }
  return figures
}
