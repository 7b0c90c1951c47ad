/**
 * Stop latency. A slow Responses API server (`sseServer.ts`, its own thread)
 * streams one text delta every 5 ms; after a random number of deltas (1 to
 * 10, from a seeded PRNG) the run is stopped, and two delays are taken from
 * the stop call: until the caller sees the run stopped, and until the server
 * sees the connection close.
 *
 * - **Chorus**: an agent on `OpenAiResponses` in an environment; an observer
 *   counts the deltas; then `env.interrupt({ participant })` is called, and
 *   the observer times `InferenceInterrupted` and `RunInterrupted`.
 * - **Chorus through the `@effect/ai` bridge**: the same agent on
 *   `LanguageModelRunner` over `@effect/ai-openai`'s Responses model.
 * - **@openai/agents**: `run(agent, input, { stream: true, signal })` with an
 *   `OpenAIResponsesModel` on the same server; `abort()` on the controller
 *   from inside the loop reading the events; "stopped" is the end of that
 *   loop.
 * - **ai**: `streamText` on `@ai-sdk/openai`'s Responses model with an
 *   `abortSignal`; "stopped" is the `abort` part of `fullStream` (or its end).
 *
 * Five warm-up runs, then 100 runs per framework, interleaved; p50 and p99.
 */
import { createOpenAI } from "@ai-sdk/openai"
import { Agent as OpenAiAgent, OpenAIProvider, run } from "@openai/agents"
import { streamText } from "ai"
import { Deferred, Effect, Layer, Redacted } from "effect"
import * as EffectAiOpenAi from "@effect/ai-openai"
import { NodeHttpClient } from "@effect/platform-node"
import { Agent, Environment, InferenceRunner, Participant, Toolkit } from "@chorus/core"
import { LanguageModelRunner, OpenAiClient, OpenAiResponses } from "@chorus/providers"
import { userMessage } from "./frameworks.js"
import * as SseServer from "./sseServer.js"
import { type Figure, now, percentile, random } from "./support.js"

const runs = 100
const warmup = 5
const intervalMs = 5
const apiKey = "sk-bench-not-a-secret"
const model = "gpt-bench"

/** One stopped run: delays from the stop call, in ms. */
interface Stopped {
  /** Until the caller sees the run stopped (Chorus: `RunInterrupted` reaches an observer). */
  readonly toEvent: number
  /** Chorus only: until `InferenceInterrupted` reaches the observer. */
  readonly toInferenceEvent?: number | undefined
  /** Until the server sees the connection close. */
  readonly toClose: number
}

const guard = <A>(what: string, promise: Promise<A>, ms = 10_000): Promise<A> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms)
    promise.then((value) => {
      clearTimeout(timer)
      resolve(value)
    }, (error: unknown) => {
      clearTimeout(timer)
      reject(error)
    })
  })

const closedAfter = async (server: SseServer.SlowServer, runNumber: number, start: number, what: string) => {
  const closed = await guard(`${what}: the server never saw the connection close`, server.closed(runNumber))
  if (closed.completed) throw new Error(`${what}: the stream completed; it was never stopped`)
  return closed.closedAt - start
}

/** The native runner: `OpenAiResponses` on its `OpenAiClient`. */
const nativeRunner = (baseURL: string): Layer.Layer<InferenceRunner.InferenceRunner> =>
  OpenAiResponses.layer({ model }).pipe(Layer.provide(OpenAiClient.layer({ apiKey: Redacted.make(apiKey), baseURL })))

/** The `@effect/ai` bridge: `LanguageModelRunner` on `@effect/ai-openai` (the same Responses wire). */
const bridgeRunner = (baseURL: string): Layer.Layer<InferenceRunner.InferenceRunner> =>
  LanguageModelRunner.layer({ model, provider: "openai" }).pipe(
    Layer.provide(EffectAiOpenAi.OpenAiLanguageModel.layer({ model })),
    Layer.provide(EffectAiOpenAi.OpenAiClient.layer({ apiKey: Redacted.make(apiKey), apiUrl: baseURL })),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const chorusStop = (
  server: SseServer.SlowServer,
  runNumber: number,
  k: number,
  runnerOf: (baseURL: string) => Layer.Layer<InferenceRunner.InferenceRunner> = nativeRunner
): Promise<Stopped> =>
  Effect.runPromise(
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const kth = yield* Deferred.make<void>()
      const inferenceInterrupted = yield* Deferred.make<number>()
      const runInterrupted = yield* Deferred.make<number>()
      let deltas = 0
      yield* env.join(Participant.observer("observer", (event) => {
        switch (event.payload._tag) {
          case "TextDelta":
            deltas++
            return deltas === k ? Deferred.succeed(kth, undefined) : Effect.void
          case "InferenceInterrupted":
            return Deferred.succeed(inferenceInterrupted, now())
          case "RunInterrupted":
            return Deferred.succeed(runInterrupted, now())
          default:
            return Effect.void
        }
      }))
      const runner = yield* Layer.build(runnerOf(server.baseURL))
      yield* env.join(Agent.make({ id: "assistant" })).pipe(Effect.provide(runner), Effect.provide(Toolkit.empty.layer))
      yield* env.publishAll("alice", userMessage(`question-${runNumber}`, "alice", `run-${runNumber}`))
      yield* Deferred.await(kth).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("chorus: no delta") }))
      const start = now()
      yield* env.interrupt({ participant: "assistant", by: "alice" })
      const stopped = yield* Deferred.await(runInterrupted).pipe(
        Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("chorus: no RunInterrupted") })
      )
      const inference = yield* Deferred.await(inferenceInterrupted)
      const toClose = yield* Effect.promise(() => closedAfter(server, runNumber, start, "chorus"))
      return { toEvent: stopped - start, toInferenceEvent: inference - start, toClose }
    }).pipe(Effect.provide(Environment.layerMemory()), Effect.scoped)
  )

const openAiAgentsStop = async (server: SseServer.SlowServer, runNumber: number, k: number): Promise<Stopped> => {
  const provider = new OpenAIProvider({ apiKey, baseURL: server.baseURL, useResponses: true })
  const agent = new OpenAiAgent({ name: "assistant", model: await provider.getModel(model) })
  const controller = new AbortController()
  const result = await run(agent, `run-${runNumber}`, { stream: true, signal: controller.signal })
  let deltas = 0
  let start = 0
  try {
    for await (const event of result) {
      if (event.type === "raw_model_stream_event" && event.data.type === "output_text_delta" && ++deltas === k) {
        start = now()
        controller.abort()
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error
  }
  const stopped = now()
  if (start === 0) throw new Error(`@openai/agents: the stream ended after ${deltas} deltas, before the stop`)
  const toClose = await closedAfter(server, runNumber, start, "@openai/agents")
  await result.completed.catch(() => undefined)
  return { toEvent: stopped - start, toClose }
}

const aiStop = async (server: SseServer.SlowServer, runNumber: number, k: number): Promise<Stopped> => {
  const provider = createOpenAI({ apiKey, baseURL: server.baseURL })
  const controller = new AbortController()
  const result = streamText({
    model: provider.responses(model),
    prompt: `run-${runNumber}`,
    abortSignal: controller.signal,
    onError: () => undefined
  })
  let deltas = 0
  let start = 0
  let stopped = 0
  try {
    for await (const part of result.fullStream) {
      if (part.type === "text-delta" && ++deltas === k) {
        start = now()
        controller.abort()
      } else if (part.type === "abort" && stopped === 0) {
        stopped = now()
      } else if (part.type === "error" && start === 0) {
        throw part.error
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error
  }
  if (stopped === 0) stopped = now()
  if (start === 0) throw new Error(`ai: the stream ended after ${deltas} deltas, before the stop`)
  const toClose = await closedAfter(server, runNumber, start, "ai")
  return { toEvent: stopped - start, toClose }
}

type Framework = "chorus" | "chorus-bridge" | "@openai/agents" | "ai"
const frameworks: ReadonlyArray<Framework> = ["chorus", "chorus-bridge", "@openai/agents", "ai"]

export const stopBench = async (log: (line: string) => void): Promise<Array<Figure>> => {
  const server = await SseServer.start({ intervalMs, maxDeltas: 400 })
  const next = random(20_251_123)
  let runNumber = 0
  const once = (framework: Framework, k: number): Promise<Stopped> => {
    runNumber++
    switch (framework) {
      case "chorus":
        return chorusStop(server, runNumber, k)
      case "chorus-bridge":
        return chorusStop(server, runNumber, k, bridgeRunner)
      case "@openai/agents":
        return openAiAgentsStop(server, runNumber, k)
      case "ai":
        return aiStop(server, runNumber, k)
    }
  }
  const results = new Map<Framework, Array<Stopped>>(frameworks.map((framework) => [framework, []]))
  try {
    for (let i = 0; i < warmup; i++) {
      for (const framework of frameworks) await once(framework, 1 + Math.floor(next() * 10))
    }
    for (let i = 0; i < runs; i++) {
      // The same number of deltas for the three frameworks in this round, in a rotating order.
      const k = 1 + Math.floor(next() * 10)
      for (let j = 0; j < frameworks.length; j++) {
        const framework = frameworks[(i + j) % frameworks.length]!
        results.get(framework)!.push(await once(framework, k))
      }
    }
  } finally {
    await server.stop()
  }
  const figures: Array<Figure> = []
  const stat = (framework: Framework, key: keyof Stopped, p: number) =>
    percentile(results.get(framework)!.map((stopped) => stopped[key] ?? Number.NaN), p)
  const name = (framework: Framework) => framework.replace("@openai/", "openai-")
  for (const framework of frameworks) {
    log(
      `stop ${framework}: to event p50 ${stat(framework, "toEvent", 50).toFixed(2)} p99 ${stat(framework, "toEvent", 99).toFixed(2)} ms; ` +
        `to close p50 ${stat(framework, "toClose", 50).toFixed(2)} p99 ${stat(framework, "toClose", 99).toFixed(2)} ms`
    )
  }
  const ms = (value: number) => Math.round(value * 1000) / 1000
  for (const p of [50, 99] as const) {
    const toEvent = stat("chorus", "toEvent", p)
    figures.push({
      name: `stop.chorus.to-run-interrupted.p${p}`,
      unit: "ms",
      value: ms(toEvent),
      target: p === 99 ? { text: "p99 < 5 ms", holds: toEvent < 5 } : undefined
    })
    figures.push({ name: `stop.chorus.to-inference-interrupted.p${p}`, unit: "ms", value: ms(stat("chorus", "toInferenceEvent", p)) })
    const toClose = stat("chorus", "toClose", p)
    figures.push({
      name: `stop.chorus.to-server-close.p${p}`,
      unit: "ms",
      value: ms(toClose),
      target: p === 99 ? { text: "p99 < 20 ms", holds: toClose < 20 } : undefined
    })
    figures.push({ name: `stop.chorus-bridge.to-run-interrupted.p${p}`, unit: "ms", value: ms(stat("chorus-bridge", "toEvent", p)) })
    figures.push({ name: `stop.chorus-bridge.to-server-close.p${p}`, unit: "ms", value: ms(stat("chorus-bridge", "toClose", p)) })
    for (const peer of ["@openai/agents", "ai"] as const) {
      figures.push({ name: `stop.${name(peer)}.to-stream-end.p${p}`, unit: "ms", value: ms(stat(peer, "toEvent", p)) })
      figures.push({ name: `stop.${name(peer)}.to-server-close.p${p}`, unit: "ms", value: ms(stat(peer, "toClose", p)) })
    }
  }
  return figures
}
