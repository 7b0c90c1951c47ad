/**
 * The inference generator: context items and tool definitions in, a stream of
 * semantic inference events out.
 *
 * Implementations are swappable layers: `@chorus/providers` has the OpenAI
 * ones, {@link ScriptedModel} plays scripted turns for tests and demos. It is
 * provided per agent, so two agents in one environment can use two models.
 *
 * @since 0.1.0
 */
import { Context, Schema } from "effect"
import type { Stream } from "effect"
import type * as ContextItem from "./ContextItem.js"
import * as Event from "./Event.js"
import type * as Tool from "./Tool.js"

/** Options passed through to the provider. */
export interface Options {
  readonly model?: string | undefined
  readonly toolChoice?: "auto" | "none" | "required" | { readonly name: string } | undefined
  readonly parallelToolCalls?: boolean | undefined
  readonly maxOutputTokens?: number | undefined
  readonly temperature?: number | undefined
  readonly reasoningEffort?: "minimal" | "low" | "medium" | "high" | undefined
}

/** One inference request. */
export interface Request {
  /** The agent asking: author of the items the model produces. */
  readonly agent: string
  /** The run this inference belongs to. */
  readonly runId: string
  /** The context, in order, as the agent wants the model to see it. */
  readonly items: ReadonlyArray<ContextItem.ContextItem>
  readonly tools: ReadonlyArray<Tool.Definition>
  readonly options: Options
}

/** The inference finished: usage, and why it stopped early if it did. */
export class Finished extends Schema.TaggedClass<Finished>()("Finished", {
  usage: Event.Usage,
  incompleteReason: Schema.NullOr(Schema.String),
  model: Schema.NullOr(Schema.String)
}) {}

/** What an inference stream yields: items with their deltas, then `Finished`. */
export type StreamEvent =
  | Event.ItemAdded
  | Event.TextDelta
  | Event.RefusalDelta
  | Event.ReasoningSummaryDelta
  | Event.ReasoningDelta
  | Event.FunctionCallArgumentsDelta
  | Event.ItemDone
  | Finished

/** Why an inference failed. */
export const ErrorReason = Schema.Literal(
  "authentication",
  "rate_limit",
  "server",
  "bad_request",
  "malformed_stream",
  "connection",
  "timeout",
  "refused",
  "other"
)
export type ErrorReason = typeof ErrorReason.Type

/** An inference failed; `retryAfterMs` is the provider's `retry-after` when it sent one. */
export class InferenceError extends Schema.TaggedError<InferenceError>()("InferenceError", {
  reason: ErrorReason,
  detail: Schema.String,
  status: Schema.NullOr(Schema.Number),
  retryAfterMs: Schema.NullOr(Schema.Number),
  cause: Schema.optional(Schema.Defect)
}) {
  override get message() {
    return `inference failed (${this.reason}${this.status === null ? "" : ` ${this.status}`}): ${this.detail}`
  }

  /** Errors worth retrying: rate limits, server errors, connection resets and time-outs. */
  get isTransient(): boolean {
    return this.reason === "rate_limit" || this.reason === "server" || this.reason === "connection" ||
      this.reason === "timeout"
  }
}

/** The service. */
export interface Service {
  /** The model name, for telemetry. */
  readonly model: string
  readonly stream: (request: Request) => Stream.Stream<StreamEvent, InferenceError>
}

/** The inference generator tag. */
export class InferenceRunner extends Context.Tag("@chorus/core/InferenceRunner")<InferenceRunner, Service>() {}
