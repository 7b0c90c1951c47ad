/**
 * The inference generator: context items and tool definitions in, a stream of
 * provider-neutral {@link Part}s out (item start, deltas, item end, finish).
 * Core assembles parts into items, once, for every runner.
 *
 * Implementations are swappable layers: `@chorus/providers` has the OpenAI
 * ones, {@link ScriptedModel} plays scripted turns for tests and demos. It is
 * provided per agent, so two agents in one environment can use two models.
 *
 * @since 0.1.0
 */
import { Context, Schema } from "effect"
import type { Stream } from "effect"
import * as ContextItem from "./ContextItem.js"
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

/**
 * The former runner contract (assembled items as events), kept only while `@chorus/providers`
 * moves to {@link Part}s; core no longer reads it.
 *
 * @deprecated a runner yields {@link Part}s.
 */
export type StreamEvent =
  | Event.ItemAdded
  | Event.TextDelta
  | Event.RefusalDelta
  | Event.ReasoningSummaryDelta
  | Event.ReasoningDelta
  | Event.FunctionCallArgumentsDelta
  | Event.ItemDone
  | Finished

// ---------------------------------------------------------------------------
// Provider-neutral parts (the contract every runner speaks)
// ---------------------------------------------------------------------------

/** The kind of item a part stream opens. */
export const ItemKind = Schema.Literal("message", "reasoning", "function_call")
export type ItemKind = typeof ItemKind.Type

/**
 * An item starts. Its deltas follow (keyed by `itemId`), then its {@link ItemEnd}.
 * A function call names its `callId` and tool `name` here; other kinds leave them `null`.
 */
export class ItemStart extends Schema.TaggedClass<ItemStart>()("ItemStart", {
  itemId: Schema.String,
  kind: ItemKind,
  callId: Schema.NullOr(Schema.String),
  name: Schema.NullOr(Schema.String)
}) {}

/**
 * An item ends. `final` is what the provider says the finished item holds, when it says
 * anything (an encrypted reasoning blob, arguments sent only at the end, a final text);
 * core reconciles it with the deltas already published by one documented rule.
 */
export class ItemEnd extends Schema.TaggedClass<ItemEnd>()("ItemEnd", {
  itemId: Schema.String,
  final: Schema.NullOr(ContextItem.ContextItem)
}) {}

/**
 * What an inference stream yields: for each item an {@link ItemStart}, its deltas
 * (the delta classes of {@link Event}), an {@link ItemEnd}; then one {@link Finished}.
 * Items may interleave. Core assembles parts into items and checks their order: a delta
 * before its item's start, a second start, an end for an item never started or a delta
 * after its end is an `InferenceError` with reason `malformed_stream`.
 */
export type Part =
  | ItemStart
  | Event.TextDelta
  | Event.RefusalDelta
  | Event.ReasoningSummaryDelta
  | Event.ReasoningDelta
  | Event.FunctionCallArgumentsDelta
  | ItemEnd
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

/**
 * An inference failed; `retryAfterMs` is the provider's `retry-after` when it sent one, `code` the
 * provider's own error code (`rate_limit_exceeded`, `server_error`, `overloaded_error` …) when it sent one.
 */
export class InferenceError extends Schema.TaggedError<InferenceError>()("InferenceError", {
  reason: ErrorReason,
  detail: Schema.String,
  status: Schema.NullOr(Schema.Number),
  retryAfterMs: Schema.NullOr(Schema.Number),
  code: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
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
  /** The model's answer as provider-neutral parts; core assembles them into items. */
  readonly stream: (request: Request) => Stream.Stream<Part, InferenceError>
}

/** The inference generator tag. */
export class InferenceRunner extends Context.Tag("@chorus/core/InferenceRunner")<InferenceRunner, Service>() {}
