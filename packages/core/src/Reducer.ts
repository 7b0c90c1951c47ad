/**
 * Reducers: pure `(state, event) => state` folds with an initial state.
 *
 * Derived state — the transcript, command states, presence, usage — is a
 * reducer over the event log, so replaying a journal through a reducer always
 * gives the same state.
 *
 * @since 0.1.0
 */
import { Chunk, HashMap, Option } from "effect"
import * as ContextItem from "./ContextItem.js"
import type * as Event from "./Event.js"

/** A pure fold over events. */
export interface Reducer<S> {
  readonly initial: S
  readonly reduce: (state: S, event: Event.Event) => S
  /**
   * The kinds of event the fold reads, when it says so: events of other kinds
   * leave its state unchanged, so a replay for it (a projection, a snapshot)
   * reads and decodes only these from the journal.
   */
  readonly kinds?: ReadonlyArray<Event.Payload["_tag"]> | undefined
}

/** Makes a reducer; `kinds` declares the only kinds of event that change its state. */
export const make = <S>(
  initial: S,
  reduce: (state: S, event: Event.Event) => S,
  options?: { readonly kinds?: ReadonlyArray<Event.Payload["_tag"]> | undefined }
): Reducer<S> => options?.kinds === undefined ? { initial, reduce } : { initial, reduce, kinds: options.kinds }

/** Folds events through a reducer, from its initial state. */
export const run = <S>(reducer: Reducer<S>, events: Iterable<Event.Event>): S => {
  let state = reducer.initial
  for (const event of events) state = reducer.reduce(state, event)
  return state
}

/** Two reducers side by side. */
export const zip = <A, B>(left: Reducer<A>, right: Reducer<B>): Reducer<readonly [A, B]> =>
  make([left.initial, right.initial] as const, (state, event) => {
    const a = left.reduce(state[0], event)
    const b = right.reduce(state[1], event)
    return a === state[0] && b === state[1] ? state : [a, b] as const
  })

// ---------------------------------------------------------------------------
// Transcript
// ---------------------------------------------------------------------------

/** The items of an environment in the order they were added, with deltas folded in. */
export interface TranscriptState {
  readonly order: Chunk.Chunk<string>
  readonly items: HashMap.HashMap<string, ContextItem.ContextItem>
}

const appendAt = <A>(parts: ReadonlyArray<A>, index: number, make: (previous: A | undefined) => A): Array<A> => {
  const next = parts.slice()
  while (next.length < index) next.push(make(undefined))
  next[index] = make(parts[index])
  return next
}

/** Folds one delta into the item it belongs to. */
export const applyDelta = (item: ContextItem.ContextItem, delta: Event.Delta): ContextItem.ContextItem => {
  switch (delta._tag) {
    case "TextDelta":
      if (item._tag !== "ModelMessage") return item
      return new ContextItem.ModelMessage({
        ...item,
        content: appendAt(item.content, delta.contentIndex, (previous) =>
          new ContextItem.OutputText({ text: (previous?._tag === "OutputText" ? previous.text : "") + delta.delta }, true))
      }, true)
    case "RefusalDelta":
      if (item._tag !== "ModelMessage") return item
      return new ContextItem.ModelMessage({
        ...item,
        content: appendAt(item.content, delta.contentIndex, (previous) =>
          new ContextItem.Refusal({ refusal: (previous?._tag === "Refusal" ? previous.refusal : "") + delta.delta }, true))
      }, true)
    case "ReasoningSummaryDelta":
      if (item._tag !== "Reasoning") return item
      return new ContextItem.Reasoning({
        ...item,
        summary: appendAt(item.summary, delta.summaryIndex, (previous) =>
          new ContextItem.SummaryText({ text: (previous?.text ?? "") + delta.delta }, true))
      }, true)
    case "ReasoningDelta":
      if (item._tag !== "Reasoning") return item
      return new ContextItem.Reasoning({
        ...item,
        content: appendAt(item.content, delta.contentIndex, (previous) =>
          new ContextItem.ReasoningText({ text: (previous?.text ?? "") + delta.delta }, true))
      }, true)
    case "FunctionCallArgumentsDelta":
      if (item._tag !== "FunctionCall") return item
      return new ContextItem.FunctionCall({ ...item, arguments: item.arguments + delta.delta }, true)
  }
}

/** Folds item events (added, deltas, done) into the items they describe. */
export const transcript: Reducer<TranscriptState> = make<TranscriptState>(
  { order: Chunk.empty(), items: HashMap.empty() },
  (state, event) => {
    const payload = event.payload
    switch (payload._tag) {
      case "ItemAdded":
      case "ItemDone": {
        const known = HashMap.has(state.items, payload.item.id)
        return {
          order: known ? state.order : Chunk.append(state.order, payload.item.id),
          items: HashMap.set(state.items, payload.item.id, payload.item)
        }
      }
      case "TextDelta":
      case "RefusalDelta":
      case "ReasoningSummaryDelta":
      case "ReasoningDelta":
      case "FunctionCallArgumentsDelta": {
        const item = HashMap.get(state.items, payload.itemId)
        if (Option.isNone(item)) return state
        return { order: state.order, items: HashMap.set(state.items, payload.itemId, applyDelta(item.value, payload)) }
      }
      default:
        return state
    }
  }
)

/** The transcript's items, in order. */
export const items = (state: TranscriptState): Array<ContextItem.ContextItem> => {
  const result: Array<ContextItem.ContextItem> = []
  for (const id of state.order) {
    const item = HashMap.get(state.items, id)
    if (Option.isSome(item)) result.push(item.value)
  }
  return result
}
