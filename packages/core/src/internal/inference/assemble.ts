/**
 * Parts → items: the one place where a runner's provider-neutral parts become
 * the item events subscribers see (`ItemAdded`, deltas, `ItemDone`), for
 * completed items and for items cut short by a stop or a failure alike.
 *
 * {@link step} takes `(assembly, part)` and gives the payloads to publish, or a
 * `malformed_stream` error when the parts break their order. The assembly is on
 * the hot path of every delta, so it is mutable and owned by one fiber (the
 * inference's); a stop reads it ({@link cut}) only once that fiber is gone.
 * The parts' order:
 * - a delta before its item's start, or for an item of another kind;
 * - a second start for an item id;
 * - an end for an item never started, or a second end;
 * - a delta after its item's end; any part after `Finished`;
 * - a stream that ends with items still open.
 * A stream that ends without `Finished` finishes with zero usage.
 *
 * How `final` is reconciled with the deltas: `reconcile.ts`.
 *
 * @internal
 */
import { Either } from "effect"
import * as ContextItem from "../../ContextItem.js"
import * as Event from "../../Event.js"
import type * as InferenceRunner from "../../InferenceRunner.js"
import { InferenceError } from "../../InferenceRunner.js"
import { reconcile } from "./reconcile.js"

/**
 * An item started and not yet ended: as announced, and the texts its deltas built so far. Each delta is appended
 * to its field's string (`+=`: V8 keeps a rope, flattened once when read), so a delta is not kept and folding at
 * the end is one pass, not a join over every delta.
 */
export interface Open {
  readonly item: ContextItem.ContextItem
  /** Deltas already applied when the entry was made (a resumed item: none); later deltas go to `texts`. */
  readonly deltas: ReadonlyArray<Event.Delta>
  /** The texts built so far (made on the first delta, from `item` and `deltas`). */
  texts?: Texts
}

/** An open item's text fields as its deltas built them. */
export interface Texts {
  /** A message's content parts (`text` / `refusal`), or a reasoning item's content parts (`content`). */
  readonly content: Parts<"text" | "refusal" | "content">
  /** A reasoning item's summary parts. */
  readonly summary: Parts<"summary">
  /** A call's arguments. */
  arguments: string
}

/** What one inference has assembled so far (owned by the inference's fiber). */
export interface Assembly {
  readonly author: string
  readonly runId: string | null
  /** Items started and not ended, in start order. */
  readonly open: Map<string, Open>
  /** Ids of the items that ended. */
  readonly ended: Set<string>
  /** Items that ended, in end order. */
  readonly produced: Array<ContextItem.ContextItem>
  finished: InferenceRunner.Finished | null
}

/** A new assembly for items authored by `author` in run `runId`. */
export const empty = (author: string, runId: string | null): Assembly => ({
  author,
  runId,
  open: new Map(),
  ended: new Set(),
  produced: [],
  finished: null
})

const malformed = (detail: string) =>
  new InferenceError({ reason: "malformed_stream", detail, status: null, retryAfterMs: null })

const deltaFits = (item: ContextItem.ContextItem, delta: Event.Delta): boolean => {
  switch (delta._tag) {
    case "TextDelta":
    case "RefusalDelta":
      return item._tag === "ModelMessage"
    case "ReasoningSummaryDelta":
    case "ReasoningDelta":
      return item._tag === "Reasoning"
    case "FunctionCallArgumentsDelta":
      return item._tag === "FunctionCall"
  }
}

const startItem = (assembly: Assembly, part: InferenceRunner.ItemStart): Either.Either<ContextItem.ContextItem, InferenceError> => {
  const common = { id: part.itemId, author: assembly.author, status: "in_progress" as const }
  switch (part.kind) {
    case "message":
      return Either.right(new ContextItem.ModelMessage({ ...common, content: [] }, true))
    case "reasoning":
      return Either.right(new ContextItem.Reasoning({ ...common, summary: [], content: [], encryptedContent: null }, true))
    case "function_call":
      if (part.callId === null || part.name === null) {
        return Either.left(malformed(`function call ${part.itemId} started without a call id and a name`))
      }
      return Either.right(new ContextItem.FunctionCall({ ...common, callId: part.callId, name: part.name, arguments: "" }, true))
  }
}

/** Texts per part index, built by appending (the same result as folding the deltas one by one with `Reducer.applyDelta`). */
class Parts<K extends string> {
  readonly parts: Array<{ kind: K; text: string }>
  constructor(initial: ReadonlyArray<readonly [K, string]>) {
    this.parts = initial.map(([kind, text]) => ({ kind, text }))
  }
  add(kind: K, index: number, text: string) {
    const parts = this.parts
    while (parts.length < index) parts.push({ kind, text: "" })
    const part = parts[index]
    if (part === undefined || part.kind !== kind) parts[index] = { kind, text }
    else part.text += text
  }
}

const textsOf = (item: ContextItem.ContextItem): Texts => {
  switch (item._tag) {
    case "ModelMessage":
      return {
        content: new Parts<"text" | "refusal" | "content">(
          item.content.map((part) => part._tag === "OutputText" ? ["text", part.text] as const : ["refusal", part.refusal] as const)
        ),
        summary: new Parts<"summary">([]),
        arguments: ""
      }
    case "Reasoning":
      return {
        content: new Parts<"text" | "refusal" | "content">(item.content.map((part) => ["content", part.text] as const)),
        summary: new Parts<"summary">(item.summary.map((part) => ["summary", part.text] as const)),
        arguments: ""
      }
    case "FunctionCall":
      return { content: new Parts([]), summary: new Parts([]), arguments: item.arguments }
    default:
      return { content: new Parts([]), summary: new Parts([]), arguments: "" }
  }
}

/** Appends one delta (already checked to fit the item) to its field. */
const add = (texts: Texts, delta: Event.Delta): void => {
  switch (delta._tag) {
    case "TextDelta":
      return texts.content.add("text", delta.contentIndex, delta.delta)
    case "RefusalDelta":
      return texts.content.add("refusal", delta.contentIndex, delta.delta)
    case "ReasoningDelta":
      return texts.content.add("content", delta.contentIndex, delta.delta)
    case "ReasoningSummaryDelta":
      return texts.summary.add("summary", delta.summaryIndex, delta.delta)
    case "FunctionCallArgumentsDelta":
      texts.arguments += delta.delta
  }
}

/** The open item's texts, made from the item and its initial deltas on first use. */
const texts = (open: Open): Texts => {
  if (open.texts !== undefined) return open.texts
  const made = textsOf(open.item)
  for (const delta of open.deltas) if (deltaFits(open.item, delta)) add(made, delta)
  open.texts = made
  return made
}

/** An open item with its deltas so far folded in. */
export const fold = (open: Open): ContextItem.ContextItem => {
  const { item } = open
  if (open.texts === undefined && open.deltas.length === 0) return item
  const { arguments: args, content, summary } = texts(open)
  switch (item._tag) {
    case "ModelMessage": {
      const parts = content.parts.map((part) =>
        part.kind === "refusal"
          ? new ContextItem.Refusal({ refusal: part.text }, true)
          : new ContextItem.OutputText({ text: part.text }, true)
      )
      return new ContextItem.ModelMessage({ ...item, content: parts }, true)
    }
    case "Reasoning":
      return new ContextItem.Reasoning({
        ...item,
        summary: summary.parts.map((part) => new ContextItem.SummaryText({ text: part.text }, true)),
        content: content.parts.map((part) => new ContextItem.ReasoningText({ text: part.text }, true))
      }, true)
    case "FunctionCall":
      return new ContextItem.FunctionCall({ ...item, arguments: args }, true)
    default:
      return item
  }
}

const withStatus = (item: ContextItem.ContextItem, status: ContextItem.Status): ContextItem.ContextItem => {
  switch (item._tag) {
    case "ModelMessage":
      return new ContextItem.ModelMessage({ ...item, status }, true)
    case "Reasoning":
      return new ContextItem.Reasoning({ ...item, status }, true)
    case "FunctionCall":
      return new ContextItem.FunctionCall({ ...item, status }, true)
    default:
      return item
  }
}

// --- transitions ---------------------------------------------------------------------------------

/** One part: the payloads to publish (the assembly moves on), or a `malformed_stream` error (it does not). */
export const step = (
  assembly: Assembly,
  part: InferenceRunner.Part
): Either.Either<ReadonlyArray<Event.Payload>, InferenceError> => {
  if (assembly.finished !== null) return Either.left(malformed(`a ${part._tag} part came after Finished`))
  switch (part._tag) {
    case "ItemStart": {
      if (assembly.open.has(part.itemId) || assembly.ended.has(part.itemId)) {
        return Either.left(malformed(`item ${part.itemId} started twice`))
      }
      return Either.map(startItem(assembly, part), (item) => {
        assembly.open.set(item.id, { item, deltas: [] })
        return [new Event.ItemAdded({ item, runId: assembly.runId }, true)]
      })
    }
    case "ItemEnd": {
      const entry = assembly.open.get(part.itemId)
      if (entry === undefined) {
        return Either.left(
          malformed(
            assembly.ended.has(part.itemId)
              ? `item ${part.itemId} ended twice`
              : `item ${part.itemId} ended but never started`
          )
        )
      }
      const seen = fold(entry)
      const reconciled = part.final === null
        ? Either.right({ item: withStatus(seen, "completed"), tail: [] as ReadonlyArray<Event.Delta> })
        : Either.mapLeft(reconcile(seen, part.final), malformed)
      return Either.map(reconciled, ({ item, tail }) => {
        assembly.open.delete(part.itemId)
        assembly.ended.add(part.itemId)
        assembly.produced.push(item)
        return [...tail, new Event.ItemDone({ item, runId: assembly.runId, to: [], policy: null }, true)]
      })
    }
    case "Finished":
      if (assembly.open.size > 0) {
        return Either.left(malformed(`the inference finished with items still open: ${[...assembly.open.keys()].join(", ")}`))
      }
      assembly.finished = part
      return Either.right([])
    default: {
      const entry = assembly.open.get(part.itemId)
      if (entry === undefined) {
        return Either.left(
          malformed(
            assembly.ended.has(part.itemId)
              ? `a ${part._tag} came after item ${part.itemId} ended`
              : `a ${part._tag} came before item ${part.itemId} started`
          )
        )
      }
      if (!deltaFits(entry.item, part)) {
        return Either.left(malformed(`a ${part._tag} does not fit item ${part.itemId} (${entry.item._tag})`))
      }
      add(texts(entry), part)
      return Either.right([part])
    }
  }
}

/**
 * A chunk of parts, stepped in order: every payload of the parts that applied, and the error of the first part
 * that did not (the parts after it are not applied). For a caller that publishes a stream chunk at a time (one
 * effect and one uninterruptible region per chunk instead of per part): publish `publish`, then fail with
 * `error` if there is one — the assembly is then exactly as published.
 */
export const stepAll = (
  assembly: Assembly,
  parts: Iterable<InferenceRunner.Part>
): { readonly publish: ReadonlyArray<Event.Payload>; readonly error: InferenceError | null } => {
  const publish: Array<Event.Payload> = []
  for (const part of parts) {
    const next = step(assembly, part)
    if (Either.isLeft(next)) return { publish, error: next.left }
    for (const payload of next.right) publish.push(payload)
  }
  return { publish, error: null }
}

/** The stream ended normally: an error if items are still open. */
export const end = (assembly: Assembly): Either.Either<Assembly, InferenceError> =>
  assembly.open.size > 0
    ? Either.left(malformed(`the stream ended with items still open: ${[...assembly.open.keys()].join(", ")}`))
    : Either.right(assembly)

/**
 * The inference was cut (stop, failure, restart): each open item with the content its
 * deltas built, closed as `incomplete`, with the `ItemDone` payloads to publish. The
 * assembly has nothing open afterwards.
 */
export const cut = (
  assembly: Assembly
): { readonly items: ReadonlyArray<ContextItem.ContextItem>; readonly publish: ReadonlyArray<Event.ItemDone> } => {
  const items = [...assembly.open.values()].map((open) => withStatus(fold(open), "incomplete"))
  assembly.open.clear()
  return {
    items,
    publish: items.map((item) => new Event.ItemDone({ item, runId: assembly.runId, to: [], policy: null }, true))
  }
}
