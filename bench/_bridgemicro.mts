import { LanguageModel } from "@effect/ai"
import { Effect, Layer, Stream } from "effect"
import { InferenceRunner } from "@chorus/core"
import { LanguageModelRunner } from "@chorus/providers"
import { bridgeParts } from "./bridge.js"
import { script, now } from "./support.js"
const n = Number(process.env.N ?? 100000)
const parts = bridgeParts(script(n))
const model = Layer.effect(LanguageModel.LanguageModel, LanguageModel.make({ generateText: () => Effect.dieMessage("x"), streamText: () => Stream.fromIterable(parts) }))
const runner = LanguageModelRunner.layer({ model: "bench" }).pipe(Layer.provide(model))
const req = { items: [], tools: [], options: {}, runId: "r" } as any
const time = async (name: string, eff: Effect.Effect<number>) => {
  const ts: number[] = []
  for (let i = 0; i < 7; i++) { const t = now(); await Effect.runPromise(eff); ts.push(now() - t) }
  ts.sort((a, b) => a - b)
  console.log(name.padEnd(44), "min", (ts[0]! * 1000 / n).toFixed(2), "median", (ts[3]! * 1000 / n).toFixed(2), "us/part")
}
const count = <A, E>(s: Stream.Stream<A, E>) => Stream.runFold(s, 0, (k) => k + 1) as Effect.Effect<number>
await time("raw encoded parts, no decode", count(Stream.fromIterable(parts)))
await time("LanguageModel.streamText (its Schema decode)", count(LanguageModel.streamText({ prompt: "Go." }).pipe(Stream.orDie, Stream.provideLayer(model))) as any)
await time("LanguageModelRunner.stream (decode + bridge)", Effect.flatMap(InferenceRunner.InferenceRunner, (r) => count(Stream.orDie(r.stream(req)))).pipe(Effect.provide(runner)) as any)
