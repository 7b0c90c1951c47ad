import { Effect, Layer, Redacted, Stream } from "effect"
import { InferenceRunner } from "@chorus/core"
import { OpenAiClient, OpenAiResponses } from "@chorus/providers"
import { now } from "./support.js"
const baseURL = process.env.BASE ?? "http://127.0.0.1:7712/v1"
const n = Number(process.env.N ?? 100000)
const once = () => Effect.runPromise(Effect.gen(function*() {
  const runner = yield* InferenceRunner.InferenceRunner
  let parts = 0, chunks = 0
  const start = now(); const cpu0 = process.cpuUsage()
  yield* runner.stream({ items: [], tools: [], options: {}, runId: "r" } as any).pipe(Stream.runForEachChunk((c) => Effect.sync(() => { parts += c.length; chunks++ })))
  const c = process.cpuUsage(cpu0)
  return { ms: now() - start, cpu: (c.user + c.system) / 1000, parts, chunks }
}).pipe(Effect.provide(OpenAiResponses.layer({ model: "m" }).pipe(Layer.provide(OpenAiClient.layer({ apiKey: Redacted.make("k"), baseURL }))))))
await once(); const o = await once()
console.log("runner only", Math.round(n / (o.ms / 1000)), "parts/s", o.parts, "chunks", o.chunks, (o.ms * 1000 / n).toFixed(2), "us/delta wall", (o.cpu * 1000 / n).toFixed(2), "us/delta cpu")
