/**
 * What every runner shares: the layer's request defaults merged under a
 * request's options, usage counts, and the client span and GenAI client
 * metrics (OpenTelemetry GenAI semantic conventions) of one request.
 *
 * @internal
 */
import { Event } from "@chorus/core"
import type { InferenceRunner } from "@chorus/core"
import { Chunk, Clock, Effect, Metric, MetricBoundaries, MetricLabel, Stream } from "effect"

/** Token usage with every count defaulting to 0. */
export const usage = (counts: {
  readonly input: number | null | undefined
  readonly output: number | null | undefined
  readonly total: number | null | undefined
  readonly cached: number | null | undefined
  readonly reasoning: number | null | undefined
}): Event.Usage =>
  new Event.Usage({
    inputTokens: counts.input ?? 0,
    outputTokens: counts.output ?? 0,
    totalTokens: counts.total ?? (counts.input ?? 0) + (counts.output ?? 0),
    cachedInputTokens: counts.cached ?? 0,
    reasoningTokens: counts.reasoning ?? 0
  })

const optionKeys = ["model", "toolChoice", "parallelToolCalls", "maxOutputTokens", "temperature", "reasoningEffort"] as const

/** The layer's defaults under the request's options; an option left `undefined` never hides a default. */
export const mergeOptions = (
  defaults: InferenceRunner.Options,
  options: InferenceRunner.Options
): InferenceRunner.Options => {
  const merged: Record<string, unknown> = {}
  for (const key of optionKeys) {
    const value = options[key] ?? defaults[key]
    if (value !== undefined) merged[key] = value
  }
  return merged as InferenceRunner.Options
}

/** `gen_ai.client.token.usage`: tokens per request, by `gen_ai.token.type` (input, output). */
export const tokenUsage = Metric.histogram(
  "gen_ai.client.token.usage",
  MetricBoundaries.fromIterable([1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304]),
  "Number of input and output tokens used"
)

/** `gen_ai.client.operation.duration`: seconds per request, until the last part or the failure. */
export const operationDuration = Metric.histogram(
  "gen_ai.client.operation.duration",
  MetricBoundaries.fromIterable([0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]),
  "GenAI operation duration"
)

/** What identifies a request in telemetry. */
export interface Telemetry {
  /** The span's name, e.g. `OpenAiResponses.stream`. */
  readonly name: string
  /** `gen_ai.provider.name`: `openai`, `anthropic`, … */
  readonly provider: string
  readonly model: string
  readonly runId: string
}

/**
 * The client span of one request, with GenAI attributes (request and response
 * model, usage, finish reason), and the GenAI client metrics: token usage and
 * operation duration.
 */
export const instrument = (telemetry: Telemetry) =>
<E, R>(stream: Stream.Stream<InferenceRunner.Part, E, R>): Stream.Stream<InferenceRunner.Part, E, R> => {
  const tags = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": telemetry.provider,
    "gen_ai.request.model": telemetry.model
  }
  const labels = Object.entries(tags).map(([key, value]) => MetricLabel.make(key, value))
  const tokens = Metric.taggedWithLabels(tokenUsage, labels)
  const duration = Metric.taggedWithLabels(operationDuration, labels)
  const onFinished = (finished: InferenceRunner.Finished) =>
    Effect.zipRight(
      Effect.annotateCurrentSpan({
        "gen_ai.response.model": finished.model ?? telemetry.model,
        "gen_ai.usage.input_tokens": finished.usage.inputTokens,
        "gen_ai.usage.output_tokens": finished.usage.outputTokens,
        "gen_ai.response.finish_reasons": [finished.incompleteReason ?? "stop"]
      }),
      Effect.all([
        Metric.update(Metric.tagged(tokens, "gen_ai.token.type", "input"), finished.usage.inputTokens),
        Metric.update(Metric.tagged(tokens, "gen_ai.token.type", "output"), finished.usage.outputTokens)
      ], { discard: true })
    )
  return Stream.unwrap(Effect.map(Clock.currentTimeMillis, (start) =>
    stream.pipe(
      // Per chunk, not per part: the hot path (deltas) pays one check per chunk.
      Stream.mapChunksEffect((chunk) => {
        const finished = Chunk.findLast(chunk, (part): part is InferenceRunner.Finished => part._tag === "Finished")
        return finished._tag === "Some" ? Effect.as(onFinished(finished.value), chunk) : Effect.succeed(chunk)
      }),
      Stream.ensuring(
        Effect.flatMap(Clock.currentTimeMillis, (now) => Metric.update(duration, (now - start) / 1000))
      )
    ))).pipe(
      Stream.withSpan(`chat ${telemetry.model}`, {
        kind: "client",
        attributes: {
          ...tags,
          "gen_ai.system": telemetry.provider,
          "chorus.run_id": telemetry.runId,
          "chorus.runner": telemetry.name
        }
      })
    )
}
