import { bridgeParts, bridgeRun } from "./bridge.js"
import { chorusEvents, chorusRun } from "./frameworks.js"
import { script } from "./support.js"
const n = Number(process.env.N ?? 100000)
const s = script(n)
const which = process.argv[2] ?? "both"
const runs: Record<string, () => Promise<{ ms: number }>> = {
  native: () => chorusRun(s, chorusEvents(s, "assistant")),
  bridge: () => bridgeRun(s, bridgeParts(s))
}
for (const k of which === "both" ? ["native", "bridge", "native", "bridge", "native", "bridge"] : [which, which, which]) {
  const o = await runs[k]!()
  console.log(k.padEnd(8), (o.ms * 1000 / n).toFixed(2), "us/delta")
}
