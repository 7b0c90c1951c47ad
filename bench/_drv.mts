// scratch driver (not committed): N=20000 ROUNDS=5 FW=chorus,@openai/agents@current node24 --import tsx _drv.mts
import { isolated } from "./isolated.js"
import * as SseServer from "./sseServer.js"
const n = Number(process.env.N ?? 20000), rounds = Number(process.env.ROUNDS ?? 5)
const fws = (process.env.FW ?? "chorus,@openai/agents@current").split(",") as any[]
const server = await SseServer.start({ intervalMs: 0, maxDeltas: n })
const rates: Record<string, number[]> = {}
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < fws.length; i++) {
    const f = fws[(i + r) % fws.length]!
    const o = await isolated(f, n, server.baseURL, process.execPath); (rates[f] ??= []).push(Math.round(n / (o.ms / 1000)))
  }
}
await server.stop()
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!
const base = fws[1]!
for (const [k, v] of Object.entries(rates)) console.log(k.padEnd(24), v.join(" "), "median", med(v), "ratio/round", v.map((x, i) => (x / rates[base]![i]!).toFixed(2)).join(" "))
