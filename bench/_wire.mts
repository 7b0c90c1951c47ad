import { Deferred, Duration, Effect, Layer, Redacted } from "effect"
import { Agent, Environment, Participant, Toolkit } from "@chorus/core"
import { OpenAiClient, OpenAiResponses } from "@chorus/providers"
import { userMessage } from "./frameworks.js"
import { now } from "./support.js"
const baseURL = process.env.BASE ?? "http://127.0.0.1:7711/v1"
const n = Number(process.env.N ?? 20000)
const chorus = () => Effect.runPromise(Effect.gen(function*() {
  const env = yield* Environment.Environment
  let deltas = 0, chars = 0
  const ended = yield* Deferred.make<number>()
  yield* env.join(Participant.observer("observer", (event) => {
    const p = event.payload
    if (p._tag === "TextDelta") { deltas++; chars += p.delta.length } else if (p._tag === "RunEnded") return Deferred.succeed(ended, now())
    return Effect.void
  }))
  const runner = OpenAiResponses.layer({ model: "gpt-bench" }).pipe(Layer.provide(OpenAiClient.layer({ apiKey: Redacted.make("sk-x"), baseURL, ...(process.env.NOTIMEOUT ? { idleTimeout: Duration.infinity } : {}) })))
  yield* env.join(Agent.make({ id: "assistant" })).pipe(Effect.provide(runner), Effect.provide(Toolkit.empty.layer))
  const start = now()
  yield* env.publishAll("alice", userMessage("q", "alice", "Go."))
  const end = yield* Deferred.await(ended)
  return { ms: end - start, deltas, chars }
}).pipe(Effect.provide(Environment.layerMemory({ coalesceAfter: Infinity })), Effect.scoped))
const agents = async () => {
  const { Agent: A, OpenAIProvider, run, setTracingDisabled } = await import("openai-agents-current")
  setTracingDisabled(true)
  const provider = new OpenAIProvider({ apiKey: "sk-x", baseURL, useResponses: true })
  const agent = new A({ name: "assistant", model: await provider.getModel("gpt-bench") })
  let deltas = 0, chars = 0
  const start = now()
  const result = await run(agent, "Go.", { stream: true })
  for await (const e of result) if (e.type === "raw_model_stream_event" && e.data.type === "output_text_delta") { deltas++; chars += e.data.delta.length }
  await result.completed
  return { ms: now() - start, deltas, chars }
}
const sdk = async () => {
  const { default: OpenAI } = await import("../packages/providers/node_modules/openai/index.mjs")
  const c = new OpenAI({ apiKey: "x", baseURL, maxRetries: 0 })
  let deltas = 0, chars = 0
  const start = now()
  const s = await c.responses.create({ model: "m", input: "Go.", stream: true })
  for await (const e of s) if (e.type === "response.output_text.delta") { deltas++; chars += e.delta.length }
  return { ms: now() - start, deltas, chars }
}
const sdk7 = async () => {
  const { default: OpenAI } = await import("../node_modules/.pnpm/openai@7.59.0_undici@7.30.2_ws@8.23.0_zod@4.6.7/node_modules/openai/index.mjs")
  const c = new OpenAI({ apiKey: "x", baseURL, maxRetries: 0 })
  let deltas = 0, chars = 0
  const start = now()
  const s = await c.responses.create({ model: "m", input: "Go.", stream: true })
  for await (const e of s) if (e.type === "response.output_text.delta") { deltas++; chars += e.delta.length }
  return { ms: now() - start, deltas, chars }
}
const f = { chorus, agents, sdk, sdk7 }[process.argv[2]!]!
await f(); const o = await f()
console.log(process.argv[2], Math.round(n / (o.ms / 1000)), "deltas/s", o.deltas, o.chars)
