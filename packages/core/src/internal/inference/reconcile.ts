/**
 * Reconciling an item's `final` (what the provider says at its end) with what
 * its deltas built.
 *
 * Subscribers fold deltas into the item they were announced with; they must never
 * see two different texts for one item. So **the deltas are the truth**. For each
 * text field (a message's content parts, a reasoning item's summary and content
 * parts, a call's arguments), comparing what the deltas built (`seen`) with what
 * the provider's `final` item holds:
 * - `final` equals `seen`, or is shorter / different (e.g. empty where deltas said
 *   "Hello"): `seen` is kept, `final`'s text is ignored;
 * - `final` extends `seen` (`seen` is a prefix, including the case of no deltas at
 *   all): the missing tail is published as one trailing delta before `ItemDone`,
 *   so the folded deltas and the done item agree.
 * Fields deltas never carry (reasoning `encryptedContent`) come from `final`.
 * The call id and tool name come from the start (subscribers saw them in
 * `ItemAdded`). The status is `incomplete` when `final` says so, else `completed`.
 *
 * @internal
 */
import { Either } from "effect"
import * as ContextItem from "../../ContextItem.js"
import * as Event from "../../Event.js"

type Tail = (index: number, text: string) => Event.Delta

/** `seen` wins unless `final` extends it; the extension is a trailing delta. */
const reconcileText = (seen: string, final: string, index: number, tail: Tail, out: Array<Event.Delta>): string => {
  if (final.length > seen.length && final.startsWith(seen)) {
    out.push(tail(index, final.slice(seen.length)))
    return final
  }
  return seen
}

const reconcileParts = <P>(
  seen: ReadonlyArray<P>,
  final: ReadonlyArray<P>,
  textOf: (part: P) => string | undefined,
  make: (text: string, like: P) => P,
  tail: Tail,
  out: Array<Event.Delta>
): ReadonlyArray<P> => {
  const result: Array<P> = [...seen]
  final.forEach((part, index) => {
    const finalText = textOf(part)
    const mine = result[index]
    if (finalText === undefined) return
    if (mine === undefined) {
      // A part the deltas never opened: all of it is new.
      if (index === result.length) {
        if (finalText !== "") out.push(tail(index, finalText))
        result.push(part)
      }
      return
    }
    const seenText = textOf(mine)
    // A part of another type at the same index contradicts the deltas: they win.
    if (seenText === undefined || (part as { _tag?: string })._tag !== (mine as { _tag?: string })._tag) return
    result[index] = make(reconcileText(seenText, finalText, index, tail, out), mine)
  })
  return result
}

/**
 * `final` reconciled with what the deltas built (`seen`), and the trailing deltas that make them agree; or why they
 * cannot be (an item that ended as another kind than it started).
 */
export const reconcile = (
  seen: ContextItem.ContextItem,
  final: ContextItem.ContextItem
): Either.Either<{ readonly item: ContextItem.ContextItem; readonly tail: ReadonlyArray<Event.Delta> }, string> => {
  const out: Array<Event.Delta> = []
  const status: ContextItem.Status = final.status === "incomplete" ? "incomplete" : "completed"
  if (seen._tag === "ModelMessage" && final._tag === "ModelMessage") {
    const content = reconcileParts<ContextItem.OutputPart>(
      seen.content,
      final.content,
      (part) => part._tag === "OutputText" ? part.text : part.refusal,
      (text, like) =>
        like._tag === "OutputText"
          ? new ContextItem.OutputText({ text }, true)
          : new ContextItem.Refusal({ refusal: text }, true),
      (index, delta) => {
        const part = final.content[index]
        return part?._tag === "Refusal"
          ? new Event.RefusalDelta({ itemId: seen.id, contentIndex: index, delta }, true)
          : new Event.TextDelta({ itemId: seen.id, contentIndex: index, delta }, true)
      },
      out
    )
    return Either.right({ item: new ContextItem.ModelMessage({ ...seen, status, content }, true), tail: out })
  }
  if (seen._tag === "Reasoning" && final._tag === "Reasoning") {
    const summary = reconcileParts(
      seen.summary,
      final.summary,
      (part) => part.text,
      (text) => new ContextItem.SummaryText({ text }, true),
      (index, delta) => new Event.ReasoningSummaryDelta({ itemId: seen.id, summaryIndex: index, delta }, true),
      out
    )
    const content = reconcileParts(
      seen.content,
      final.content,
      (part) => part.text,
      (text) => new ContextItem.ReasoningText({ text }, true),
      (index, delta) => new Event.ReasoningDelta({ itemId: seen.id, contentIndex: index, delta }, true),
      out
    )
    const encryptedContent = final.encryptedContent ?? seen.encryptedContent
    return Either.right({
      item: new ContextItem.Reasoning({ ...seen, status, summary, content, encryptedContent }, true),
      tail: out
    })
  }
  if (seen._tag === "FunctionCall" && final._tag === "FunctionCall") {
    const args = reconcileText(
      seen.arguments,
      final.arguments,
      0,
      (_, delta) => new Event.FunctionCallArgumentsDelta({ itemId: seen.id, delta }, true),
      out
    )
    return Either.right({ item: new ContextItem.FunctionCall({ ...seen, status, arguments: args }, true), tail: out })
  }
  return Either.left(`item ${seen.id} started as ${seen._tag} and ended as ${final._tag}`)
}
