/**
 * The `@effect/ai` bridge's cost per delta: the same scripted stream as the
 * Chorus throughput run (`frameworks.ts`), but produced by an `@effect/ai`
 * `LanguageModel` (its encoded stream parts, decoded by `@effect/ai` as for
 * any provider) and brought into the agent by `LanguageModelRunner`. Compared
 * with the native run, this is what the bridge adds per delta.
 */
import { LanguageModel } from "@effect/ai"
import type { Response } from "@effect/ai"
import { Deferred, Effect, Layer, Stream } from "effect"
import { Agent, Environment, Participant, Toolkit } from "@chorus/core"
import { LanguageModelRunner } from "@chorus/providers"
import { check, type Observed, type Script, userMessage } from "./frameworks.js"
import { now } from "./support.js"

/** The encoded stream parts of an `@effect/ai` model, built once per script. */
export const bridgeParts = (script: Script): ReadonlyArray<Response.StreamPartEncoded> => [
  { type: "response-metadata", id: "resp_bench", modelId: "bench", timestamp: undefined },
  { type: "text-start", id: "msg_bench" },
  ...script.deltas.map((delta): Response.StreamPartEncoded => ({ type: "text-delta", id: "msg_bench", delta })),
  { type: "text-end", id: "msg_bench" },
  {
    type: "finish",
    reason: "stop",
    usage: { inputTokens: 1, outputTokens: script.deltas.length, totalTokens: script.deltas.length + 1 }
  }
]

const scriptedModel = (parts: ReadonlyArray<Response.StreamPartEncoded>) =>
  Layer.effect(
    LanguageModel.LanguageModel,
    LanguageModel.make({
      generateText: () => Effect.dieMessage("the benchmark streams"),
      streamText: () => Stream.fromIterable(parts)
    })
  )

/** One Chorus run through an agent on the bridge, in a fresh environment. */
export const bridgeRun = (script: Script, parts: ReadonlyArray<Response.StreamPartEncoded>): Promise<Observed> =>
  Effect.runPromise(
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      let deltas = 0
      let chars = 0
      const ended = yield* Deferred.make<number>()
      yield* env.join(Participant.observer("observer", (event) => {
        const payload = event.payload
        if (payload._tag === "TextDelta") {
          deltas++
          chars += payload.delta.length
        } else if (payload._tag === "RunEnded") {
          return Deferred.succeed(ended, now())
        }
        return Effect.void
      }))
      const runner = yield* Layer.build(
        LanguageModelRunner.layer({ model: "bench" }).pipe(Layer.provide(scriptedModel(parts)))
      )
      yield* env.join(Agent.make({ id: "assistant" })).pipe(Effect.provide(runner), Effect.provide(Toolkit.empty.layer))
      const start = now()
      yield* env.publishAll("alice", userMessage("question", "alice", "Go."))
      const end = yield* Deferred.await(ended)
      return { ms: end - start, deltas, chars }
    }).pipe(Effect.provide(Environment.layerMemory()), Effect.scoped)
  ).then((observed) => check("chorus-bridge", script, observed))
