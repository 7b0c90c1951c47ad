/**
 * Environment events as OpenResponses streaming events: the payloads the
 * spec defines (`response.output_item.added` with the wire item,
 * `response.output_text.delta` with `item_id`, `output_index`,
 * `content_index`, `delta`, …) and `chorus.`-prefixed extension events for
 * the rest, each with its `type` and `sequence_number`.
 *
 * An item's `output_index` is its position among the items of its run (items
 * outside a run count in a run of their own). Deltas do not say which run
 * they belong to, so the encoder is a fold: {@link initial} then
 * {@link encode} for every event from the first.
 *
 * @internal
 */
import { ContextItem, Event } from "@chorus/core"
import { Schema } from "effect"

/** One OpenResponses (or `chorus.`) streaming event. */
export interface WireEvent {
  readonly type: string
  readonly sequence_number: number
  readonly [key: string]: unknown
}

/** What the encoder remembers: each open item's output index, and how many items each run has. */
export interface State {
  readonly outputIndex: Map<string, number>
  readonly runItems: Map<string, number>
}

/** A fresh encoder state (owned by one stream). */
export const initial = (): State => ({ outputIndex: new Map(), runItems: new Map() })

const noRun = "\u0000"

const indexFor = (state: State, item: ContextItem.ContextItem, runId: string | null): number => {
  const known = state.outputIndex.get(item.id)
  if (known !== undefined) return known
  const run = runId ?? noRun
  const index = state.runItems.get(run) ?? 0
  state.runItems.set(run, index + 1)
  state.outputIndex.set(item.id, index)
  return index
}

/** The item in its OpenResponses wire shape (`annotations` on output text, as the spec has it). */
export const wireItem = (item: ContextItem.ContextItem): ContextItem.WireItem => {
  const wire = ContextItem.toWire(item)
  if (wire.type === undefined || wire.type === "message") {
    const content = typeof wire.content === "string"
      ? wire.content
      : wire.content.map((part) => part.type === "output_text" ? { ...part, annotations: part.annotations ?? [] } : part)
    return { ...wire, type: "message", content }
  }
  return wire
}

const encodePayload = Schema.encodeSync(Event.Payload)

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/** A Chorus-only event: its fields in snake case beside `type`, `sequence_number`, `author` and `created_at`. */
const extension = (event: Event.Event): WireEvent => {
  const fields: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(encodePayload(event.payload))) {
    if (key !== "_tag") fields[snake(key)] = value
  }
  return {
    type: Event.wireName(event.payload),
    sequence_number: event.sequence,
    author: event.author,
    created_at: event.timestamp,
    ...fields
  }
}

/** A Responses `response` object as the lifecycle events carry it. */
const inferenceResponse = (
  event: Event.Event,
  id: string,
  status: "in_progress" | "completed" | "incomplete" | "failed",
  extra: Record<string, unknown>
) => ({
  id,
  object: "response",
  created_at: Math.floor(event.timestamp / 1000),
  status,
  output: [],
  ...extra
})

const usage = (usage: Event.Usage) => ({
  input_tokens: usage.inputTokens,
  input_tokens_details: { cached_tokens: usage.cachedInputTokens },
  output_tokens: usage.outputTokens,
  output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
  total_tokens: usage.totalTokens
})

/** Encodes one event, updating `state` (which the caller owns). */
export const encode = (state: State, event: Event.Event): WireEvent => {
  const p = event.payload
  const sequence_number = event.sequence
  switch (p._tag) {
    case "ItemAdded":
      return {
        type: "response.output_item.added",
        sequence_number,
        output_index: indexFor(state, p.item, p.runId),
        item: wireItem(p.item),
        chorus: { run_id: p.runId, author: event.author }
      }
    case "ItemDone": {
      const output_index = indexFor(state, p.item, p.runId)
      state.outputIndex.delete(p.item.id)
      return {
        type: "response.output_item.done",
        sequence_number,
        output_index,
        item: wireItem(p.item),
        chorus: { run_id: p.runId, author: event.author, to: p.to, policy: p.policy }
      }
    }
    case "TextDelta":
      return {
        type: "response.output_text.delta",
        sequence_number,
        item_id: p.itemId,
        output_index: state.outputIndex.get(p.itemId) ?? 0,
        content_index: p.contentIndex,
        delta: p.delta,
        logprobs: []
      }
    case "RefusalDelta":
      return {
        type: "response.refusal.delta",
        sequence_number,
        item_id: p.itemId,
        output_index: state.outputIndex.get(p.itemId) ?? 0,
        content_index: p.contentIndex,
        delta: p.delta
      }
    case "ReasoningSummaryDelta":
      return {
        type: "response.reasoning_summary_text.delta",
        sequence_number,
        item_id: p.itemId,
        output_index: state.outputIndex.get(p.itemId) ?? 0,
        summary_index: p.summaryIndex,
        delta: p.delta
      }
    case "ReasoningDelta":
      return {
        type: "response.reasoning_text.delta",
        sequence_number,
        item_id: p.itemId,
        output_index: state.outputIndex.get(p.itemId) ?? 0,
        content_index: p.contentIndex,
        delta: p.delta
      }
    case "FunctionCallArgumentsDelta":
      return {
        type: "response.function_call_arguments.delta",
        sequence_number,
        item_id: p.itemId,
        output_index: state.outputIndex.get(p.itemId) ?? 0,
        delta: p.delta
      }
    case "InferenceStarted":
      return {
        type: "response.in_progress",
        sequence_number,
        response: inferenceResponse(event, p.inferenceId, "in_progress", { model: p.model }),
        chorus: { run_id: p.runId, author: event.author }
      }
    case "InferenceCompleted":
      return {
        type: p.incompleteReason === null ? "response.completed" : "response.incomplete",
        sequence_number,
        response: inferenceResponse(event, p.inferenceId, p.incompleteReason === null ? "completed" : "incomplete", {
          usage: usage(p.usage),
          incomplete_details: p.incompleteReason === null ? null : { reason: p.incompleteReason }
        }),
        chorus: { run_id: p.runId, author: event.author }
      }
    case "InferenceFailed":
      return {
        type: "response.failed",
        sequence_number,
        response: inferenceResponse(event, p.inferenceId, "failed", { error: { code: p.reason, message: p.error } }),
        chorus: { run_id: p.runId, author: event.author }
      }
    default:
      return extension(event)
  }
}
