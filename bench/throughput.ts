/**
 * Stream throughput end to end: N = 100,000 text deltas from a scripted
 * model to one observer, through Chorus, @openai/agents and ai (see
 * `frameworks.ts` for what each run does). One warm-up round, then five
 * rounds, each running the three frameworks in a different order; the
 * median deltas per second of each framework is reported, with the ratio
 * Chorus / each peer.
 */
import { aiParts, aiRun, chorusEvents, chorusRun, type Observed, openAiAgentsEvents, openAiAgentsRun, script } from "./frameworks.js"
import { compare, type Figure, gc, median } from "./support.js"

const n = 100_000
const rounds = 5

type Framework = "chorus" | "@openai/agents" | "ai"
const frameworks: ReadonlyArray<Framework> = ["chorus", "@openai/agents", "ai"]

export const throughputBench = async (log: (line: string) => void): Promise<Array<Figure>> => {
  const scripted = script(n)
  const chorus = chorusEvents(scripted, "assistant")
  const agents = openAiAgentsEvents(scripted)
  const parts = aiParts(scripted)
  const once = (framework: Framework): Promise<Observed> => {
    switch (framework) {
      case "chorus":
        return chorusRun(scripted, chorus)
      case "@openai/agents":
        return openAiAgentsRun(scripted, agents)
      case "ai":
        return aiRun(scripted, parts)
    }
  }
  const rates = new Map<Framework, Array<number>>(frameworks.map((framework) => [framework, []]))
  for (const framework of frameworks) await once(framework)
  for (let round = 0; round < rounds; round++) {
    const order = frameworks.map((_, i) => frameworks[(i + round) % frameworks.length]!)
    for (const framework of order) {
      gc()
      const observed = await once(framework)
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
      { name: `throughput.chorus-vs-${peer.replace("@openai/", "openai-")}`, unit: "deltas/s", value: chorusRate },
      { name: peer, value: rate(peer) },
      peer === faster ? { text: ">= 2x the faster peer", atLeast: 2 } : undefined
    ))
  }
  return figures
}
