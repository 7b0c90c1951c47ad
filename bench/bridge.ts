/**
 * The `@effect/ai` bridge's cost per delta: the same scripted stream as the
 * Chorus throughput run (`frameworks.ts`), but produced by an `@effect/ai`
 * `LanguageModel` (its encoded stream parts, decoded by `@effect/ai` as for
 * any provider) and brought into the agent by `LanguageModelRunner`. Compared
 * with the native run, this is what the bridge adds per delta.
 */
import { LanguageModel } from "@effect/ai"
import type { Response } from "@effect/ai"
import { Effect, Layer, Stream } from "effect"
import { LanguageModelRunner } from "@chorus/providers"
import { chorusRunOn } from "./frameworks.js"
import type { Observed, Script } from "./support.js"

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

/** One Chorus run through an agent on the bridge, the same run as the scripted native one (`chorusRunOn`). */
export const bridgeRun = (script: Script, parts: ReadonlyArray<Response.StreamPartEncoded>): Promise<Observed> =>
  chorusRunOn("chorus-bridge", script, LanguageModelRunner.layer({ model: "bench" }).pipe(Layer.provide(scriptedModel(parts))))
